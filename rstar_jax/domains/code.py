"""Code generation verified by unit tests (HumanEval-style problems).

A code problem's `question` is the task prompt (a signature and docstring) and its `answer` is
`CodeTask.to_answer()`: the entry point, VISIBLE tests (calls with expected values, which steps
run and print so the policy sees how its code does) and HIDDEN tests (a `check(candidate)`
function, which only grading runs). Steps use the math step format; the submission is the
program of every step before the `<answer>` step.
"""

import ast
from collections.abc import Sequence
import dataclasses
import functools
import json
import secrets
from typing import NamedTuple

from rstar_jax.data.problems import Problem
from rstar_jax.domains import base
from rstar_jax.format import prompts
from rstar_jax.format.program import assemble_program

# Display width of a call, an expected value, a returned value or an error in test lines.
_SHOW_CHARS = 80

# Defined in every program the domain builds (run in the sandbox, never here). `_show` is a repr
# that is the same in every worker: set order follows each worker's string hash seed, and
# default reprs carry memory addresses, either of which would split equal behaviours apart.
_HELPERS = f"""
import re as _re


def _show(value, active=()):
  kind = type(value)
  if id(value) in active:
    return '...'
  active = (*active, id(value))
  if kind in (set, frozenset):
    body = ', '.join(sorted(_show(v, active) for v in value))
    if kind is set:
      return '{{' + body + '}}' if body else 'set()'
    return 'frozenset({{' + body + '}})' if body else 'frozenset()'
  if kind in (list, tuple):
    items = [_show(v, active) for v in value]
    if kind is list:
      return '[' + ', '.join(items) + ']'
    return '(' + ', '.join(items) + (',)' if len(items) == 1 else ')')
  if kind is dict:
    return '{{' + ', '.join(_show(k, active) + ': ' + _show(v, active) for k, v in value.items()) + '}}'
  return _re.sub(r' at 0x[0-9a-fA-F]+', '', repr(value))


def _clip(text):
  text = ' '.join(str(text).splitlines())
  return text if len(text) <= {_SHOW_CHARS} else text[:{_SHOW_CHARS - 3}] + '...'


def _describe(error):
  try:
    message = _clip(error)
  except Exception:
    message = ''
  return type(error).__name__ + (': ' + message if message else '')
"""

# Runs the step's code, then each visible test; a failing test is a printed line, not an error.
_RUN_VISIBLE = """
def _run_visible(source, tests):
  namespace = {'__name__': '__main__'}
  exec(compile(source, '<program>', 'exec'), namespace)
  passed = 0
  for call, expected, call_label, expected_label in tests:
    try:
      result = eval(call, namespace)
    except Exception as e:
      print(f'ERROR {call_label} raised {_describe(e)}')
      continue
    try:
      same = bool(result == eval(expected, {}))
    except Exception:
      same = False
    if same:
      passed += 1
      print(f'PASS {call_label} == {expected_label}')
    else:
      try:
        shown = _clip(_show(result))
      except Exception as e:
        shown = f'<unprintable: {_describe(e)}>'
      print(f'FAIL {call_label} returned {shown}, expected {expected_label}')
  print(f'passed {passed}/{len(tests)}')
"""

# Prints what each visible call does, hashed so the line survives the sandbox's cut of long
# output (which keeps only the head and the tail).
_BEHAVIOUR = """
def _behaviour(source, calls):
  import hashlib, json, sys
  out = sys.stdout
  namespace = {'__name__': '__main__'}
  exec(compile(source, '<submission>', 'exec'), namespace)
  seen = []
  for call in calls:
    try:
      seen.append(_show(eval(call, namespace)))
    except Exception as e:
      seen.append('raise:' + type(e).__name__)
  out.write('\\n' + hashlib.sha256(json.dumps(seen).encode()).hexdigest() + '\\n')
  out.flush()
"""

# The submission and the tests run in separate namespaces, so the submission cannot replace
# `check`; the tests see the candidate under its own name too (HumanEval's tests compare against
# it by name). `exec` and `compile` are bound before the submission could patch `builtins`. The
# nonce, printed last, proves the program got past `check`.
_GRADE = """
def _grade(source, tests, entry_point, nonce, exec=exec, compile=compile):
  import sys
  out = sys.stdout
  namespace = {'__name__': '__main__'}
  exec(compile(source, '<submission>', 'exec'), namespace)
  candidate = namespace[entry_point]
  checker = {'__name__': '__tests__'}
  exec(compile(tests, '<tests>', 'exec'), checker)
  checker[entry_point] = candidate
  checker['check'](candidate)
  out.write('\\n' + nonce + '\\n')
  out.flush()
"""


class TestCase(NamedTuple):
  """A visible test: `call` evaluated in the candidate's namespace must equal `expected`."""

  __test__ = False  # Not a pytest class.

  call: str
  expected: str


def _label(expression: str) -> str:
  text = " ".join(line.strip() for line in expression.strip().splitlines())
  return text if len(text) <= _SHOW_CHARS else text[: _SHOW_CHARS - 3] + "..."


def _compiles(source: str, mode: str) -> str | None:
  """Why `source` does not compile in `mode`, or None when it does."""
  try:
    compile(source, "<test>", mode)
  except (SyntaxError, ValueError) as e:
    return str(e)
  return None


def _defines_check(tree: ast.Module) -> bool:
  for node in tree.body:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "check":
      return True
    if isinstance(node, ast.Assign) and any(
      isinstance(t, ast.Name) and t.id == "check" for t in node.targets
    ):
      return True
  return False


@dataclasses.dataclass(frozen=True)
class CodeTask:
  """One code problem: the prompt the policy sees and the tests its solution must pass.

  Attributes:
    entry_point: name of the function under test.
    prompt: the task shown to the policy (the problem's `question`).
    visible: tests whose results steps print (e.g. docstring examples).
    hidden: Python source defining `check(candidate)`, which raises when the candidate is wrong.
  """

  entry_point: str
  prompt: str
  visible: tuple[TestCase, ...]
  hidden: str

  def to_answer(self) -> str:
    """The problem's `answer`: compact JSON of the tests (the prompt is the question)."""
    return json.dumps(
      {
        "entry_point": self.entry_point,
        "visible": [list(t) for t in self.visible],
        "hidden": self.hidden,
      },
      separators=(",", ":"),
      ensure_ascii=False,
    )

  def to_problem(self, problem_id: str) -> Problem:
    return Problem(id=problem_id, question=self.prompt, answer=self.to_answer())

  @classmethod
  def from_answer(cls, answer: str, prompt: str = "", *, where: str = "code answer") -> "CodeTask":
    """Parses and validates an `answer`; errors start with `where` and name the bad field."""
    try:
      fields = json.loads(answer)
    except (TypeError, ValueError) as e:
      raise ValueError(f"{where}: field 'answer' is not JSON ({e})") from None
    if not isinstance(fields, dict):
      raise ValueError(f"{where}: field 'answer' is not a JSON object")
    for name, kind in (("entry_point", str), ("visible", list), ("hidden", str)):
      if name not in fields:
        raise ValueError(f"{where}: field {name!r} is missing")
      if not isinstance(fields[name], kind):
        raise ValueError(f"{where}: field {name!r} is not a {kind.__name__}")
    entry_point = fields["entry_point"]
    if not entry_point.isidentifier():
      raise ValueError(f"{where}: field 'entry_point' is not an identifier: {entry_point!r}")
    visible = []
    for i, test in enumerate(fields["visible"]):
      if not (isinstance(test, list) and len(test) == 2 and all(isinstance(s, str) for s in test)):
        raise ValueError(f"{where}: field 'visible[{i}]' is not a [call, expected] pair")
      for part, source in zip(TestCase._fields, test):
        if (error := _compiles(source, "eval")) is not None:
          raise ValueError(
            f"{where}: field 'visible[{i}].{part}' does not compile as an expression: {error}"
          )
      visible.append(TestCase(*test))
    hidden = fields["hidden"]
    if (error := _compiles(hidden, "exec")) is not None:
      raise ValueError(f"{where}: field 'hidden' does not compile: {error}")
    if not _defines_check(ast.parse(hidden)):
      raise ValueError(f"{where}: field 'hidden' does not define check(candidate)")
    return cls(entry_point=entry_point, prompt=prompt, visible=tuple(visible), hidden=hidden)

  @classmethod
  def from_problem(cls, problem: Problem) -> "CodeTask":
    return cls.from_answer(problem.answer, problem.question, where=f"code problem {problem.id!r}")


@functools.lru_cache(maxsize=4096)
def _task(gold: str) -> CodeTask:
  """The tests of a gold answer; cached since every candidate step of a problem needs them."""
  return CodeTask.from_answer(gold)


def _call(function: str, *args) -> str:
  return f"{function}({', '.join(repr(a) for a in args)})\n"


def _visible_program(code: str, task: CodeTask) -> str:
  """`code` followed by a runner printing one PASS/FAIL/ERROR line per visible test."""
  tests = tuple((t.call, t.expected, _label(t.call), _label(t.expected)) for t in task.visible)
  return "\n".join((_HELPERS, _RUN_VISIBLE, _call("_run_visible", code, tests)))


class CodeDomain(base.Domain):
  """A step with `<answer>` submits the code written before it; every other step runs the code
  so far and prints its visible tests' results; a submission is right when the hidden tests
  pass; votes group submissions that behave alike on the visible tests' inputs."""

  name = "code"

  def is_answer_step(self, text: str) -> bool:
    return prompts.ANSWER in text

  def classify(self, gold: str | None, solution: str, candidate: base.CandidateLike) -> base.Draft:
    draft = base.Draft(text=candidate.text, stop_reason=candidate.stop_reason)
    if self.is_answer_step(candidate.text):
      draft.answer = assemble_program(solution)
      if draft.answer is None:
        draft.invalid = base.INVALID_NO_CODE
    elif (invalid := base.cut_off_or_unfinished(candidate)) is not None:
      draft.invalid = invalid
    elif (code := assemble_program(solution + candidate.text)) is None:
      draft.invalid = base.INVALID_NO_CODE
    elif gold is None:  # No tests to run: the step is verified by running alone, as in math.
      draft.program = code
    else:
      draft.program = _visible_program(code, _task(gold))
    return draft

  def grade(
    self,
    answers: Sequence[str | None],
    golds: Sequence[str],
    pool: base.PoolLike,
    *,
    grader: str = "strict",
  ) -> list[bool]:
    """Runs each submission against its hidden tests, all in one sandbox batch.

    A submission is right iff its program ends normally and its last line is a random nonce
    printed after `check` returned. The nonce lives in the program's own process, so a hostile
    submission inspecting frames can read it (as it could patch HumanEval's own harness, or
    return an object equal to everything): the sandbox bounds the damage, not the honesty.
    """
    if grader not in self.graders:
      raise ValueError(f"unknown code grader {grader!r}; known: {', '.join(self.graders)}")
    todo = []  # (answer index, program, nonce)
    for i, (answer, gold) in enumerate(zip(answers, golds, strict=True)):
      if answer is not None:
        task, nonce = _task(gold), secrets.token_hex(16)
        program = "\n".join((_GRADE, _call("_grade", answer, task.hidden, task.entry_point, nonce)))
        todo.append((i, program, nonce))
    verdicts = [False] * len(answers)
    results = pool.run_many([program for _, program, _ in todo]) if todo else []
    for (i, _, nonce), result in zip(todo, results, strict=True):
      lines = result.stdout.splitlines()
      verdicts[i] = result.ok and bool(lines) and lines[-1] == nonce
    return verdicts

  def group(self, answers: Sequence[str | None], gold: str, pool: base.PoolLike) -> list[list[int]]:
    calls = tuple(t.call for t in _task(gold).visible)
    distinct = list(dict.fromkeys(a for a in answers if a is not None))
    if calls:
      programs = [
        "\n".join((_HELPERS, _BEHAVIOUR, _call("_behaviour", a, calls))) for a in distinct
      ]
      results = pool.run_many(programs) if programs else []
      keys = {a: _behaviour_key(r) for a, r in zip(distinct, results, strict=True)}
    else:  # Nothing to run them on: only the same code (up to whitespace) is the same vote.
      keys = {a: " ".join(a.split()) for a in distinct}
    groups: dict[object, list[int]] = {}
    for i, answer in enumerate(answers):
      if answer is not None:
        groups.setdefault(keys[answer], []).append(i)
    return list(groups.values())

  def check_problem(self, problem: Problem) -> None:
    CodeTask.from_problem(problem)


def _behaviour_key(result: base.ExecResultLike) -> object:
  if not result.ok:
    return ("error", result.error_type)
  lines = result.stdout.splitlines()
  return ("behaviour", lines[-1] if lines else "")
