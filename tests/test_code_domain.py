"""The code domain: task format and validation, step verification, grading, voting groups."""

import dataclasses
import json

import pytest

from rstar_jax.data.problems import Problem
from rstar_jax.domains import base
from rstar_jax.domains.code import CodeDomain
from rstar_jax.domains.code import CodeTask
from rstar_jax.domains.code import TestCase
from rstar_jax.format import prompts
from rstar_jax.sandbox import Limits
from rstar_jax.sandbox import SandboxPool

DOMAIN = CodeDomain()
# Sum of the even numbers; the hidden tests include cases the visible ones do not.
TASK = CodeTask(
  entry_point="f",
  prompt='def f(xs):\n  """Sum of the even numbers in xs."""\n',
  visible=(
    TestCase("f([1, 2, 4])", "6"),
    TestCase("f([1])", "0"),
    TestCase("f(None)", "0"),
  ),
  hidden=(
    "def helper(n):\n"
    "  return n * 2\n"
    "def check(candidate):\n"
    "  assert candidate([1, 2, 4]) == 6\n"
    "  assert candidate([]) == 0\n"
    "  assert candidate([helper(5), 7]) == 10\n"
    "  assert candidate([-2, 3]) == f([-2, 3])\n"
  ),
)
GOLD = TASK.to_answer()
RIGHT = "def f(xs):\n  return sum(x for x in xs if x % 2 == 0)\n"


@dataclasses.dataclass
class _Candidate:
  text: str
  stop_reason: str = "stop"


class _CountingPool:
  """Forwards to a real pool, recording each batch."""

  def __init__(self, pool: SandboxPool):
    self.pool = pool
    self.batches: list[list[str]] = []

  def run_many(self, programs):
    self.batches.append(list(programs))
    return self.pool.run_many(programs)


@pytest.fixture(scope="module")
def pool():
  with SandboxPool(num_workers=2, limits=Limits(timeout_s=2.0, memory_bytes=256 << 20)) as p:
    yield p


def _healthy(pool) -> bool:
  return DOMAIN.grade([RIGHT] * 2, [GOLD] * 2, pool) == [True, True]


# --- CodeTask ---


def test_task_round_trip():
  problem = TASK.to_problem("sum-evens")
  assert problem == Problem("sum-evens", TASK.prompt, GOLD)
  assert CodeTask.from_problem(problem) == TASK
  assert json.loads(GOLD) == {
    "entry_point": "f",
    "visible": [["f([1, 2, 4])", "6"], ["f([1])", "0"], ["f(None)", "0"]],
    "hidden": TASK.hidden,
  }
  assert '": ' not in GOLD and '"], ["' not in GOLD  # Compact.
  DOMAIN.check_problem(problem)


def _answer(**changes) -> str:
  fields = {"entry_point": "f", "visible": [["f(1)", "2"]], "hidden": "def check(c):\n  pass\n"}
  fields.update(changes)
  return json.dumps({k: v for k, v in fields.items() if v is not None})


@pytest.mark.parametrize(
  "answer,message",
  [
    ("{not json", "field 'answer' is not JSON"),
    ("[1, 2]", "field 'answer' is not a JSON object"),
    (_answer(entry_point=None), "field 'entry_point' is missing"),
    (_answer(visible=None), "field 'visible' is missing"),
    (_answer(hidden=None), "field 'hidden' is missing"),
    (_answer(entry_point=3), "field 'entry_point' is not a str"),
    (_answer(visible="f(1)"), "field 'visible' is not a list"),
    (_answer(entry_point="my-func"), "field 'entry_point' is not an identifier: 'my-func'"),
    (_answer(visible=[["f(1)", "2"], ["f(1)"]]), "field 'visible[1]' is not a [call, expected]"),
    (_answer(visible=[["f(1", "2"]]), "field 'visible[0].call' does not compile as an expr"),
    (_answer(visible=[["x = f(1)", "2"]]), "field 'visible[0].call' does not compile"),
    (_answer(visible=[["f(1)", "2 +"]]), "field 'visible[0].expected' does not compile"),
    (_answer(hidden="def check(c):\nassert c"), "field 'hidden' does not compile"),
    (_answer(hidden="def test(c):\n  pass\n"), "field 'hidden' does not define check"),
  ],
)
def test_task_validation_names_problem_and_field(answer, message):
  with pytest.raises(ValueError, match=r"^code problem 'bad/7': ") as info:
    CodeTask.from_problem(Problem("bad/7", "q", answer))
  assert message in str(info.value)
  with pytest.raises(ValueError, match=r"^code problem 'bad/7': "):
    DOMAIN.check_problem(Problem("bad/7", "q", answer))


# --- classify ---


def test_answer_step_submits_the_code_before_it():
  solution = f"{prompts.CODE}\n# Step 1\n{RIGHT}{prompts.END_OF_CODE}\n{prompts.OUTPUT}passed 3/3{prompts.END_OF_OUTPUT}"
  draft = DOMAIN.classify(GOLD, solution, _Candidate("\n<answer>Submit f.<end_of_answer>"))
  assert draft.terminal and draft.invalid is None
  assert draft.answer == "# Step 1\n" + RIGHT
  draft = DOMAIN.classify(GOLD, "no code at all", _Candidate("<answer>f<end_of_answer>"))
  assert (draft.answer, draft.invalid, draft.terminal) == (None, base.INVALID_NO_CODE, True)
  assert DOMAIN.is_answer_step("text <answer>x") and not DOMAIN.is_answer_step("<code>x")


@pytest.mark.parametrize(
  "candidate,invalid",
  [
    (_Candidate("<code>\ndef f(xs):", "length"), base.INVALID_TOO_LONG),
    (_Candidate("<code>\ndef f(xs):", "context"), base.INVALID_CONTEXT),
    (_Candidate("<code>\ndef f(xs):\n  return 0"), base.INVALID_NO_ANSWER),
    (_Candidate("I think the answer is f.<end_of_step>"), base.INVALID_NO_CODE),
  ],
)
def test_invalid_steps(candidate, invalid):
  draft = DOMAIN.classify(GOLD, "", candidate)
  assert (draft.invalid, draft.program, draft.terminal) == (invalid, None, True)


def _step_result(pool, solution: str, step: str, gold: str | None = GOLD):
  draft = DOMAIN.classify(gold, solution, _Candidate(step))
  assert draft.invalid is None and draft.program is not None
  return pool.run(draft.program)


def test_steps_print_visible_test_results(pool):
  step1 = "<code>\n# Step 1: keep the even numbers\ndef f(xs):\n    ys = [x for x in xs if x % 2 == 0]\n<end_of_step>"
  result = _step_result(pool, "", step1)
  assert result.ok, result
  assert result.stdout == (
    "FAIL f([1, 2, 4]) returned None, expected 6\n"
    "FAIL f([1]) returned None, expected 0\n"
    "ERROR f(None) raised TypeError: 'NoneType' object is not iterable\n"
    "passed 0/3\n"
  )
  step2 = "\n# Step 2: add them up\n    print('debug', len(ys))\n    return sum(ys)\n<end_of_code>"
  result = _step_result(pool, step1, step2)
  assert result.ok, result
  assert result.stdout == (
    "debug 2\nPASS f([1, 2, 4]) == 6\n"
    "debug 0\nPASS f([1]) == 0\n"
    "ERROR f(None) raised TypeError: 'NoneType' object is not iterable\n"
    "passed 2/3\n"
  )
  assert DOMAIN.observe(result) == result.stdout


def test_missing_entry_point_is_a_test_error_not_a_step_error(pool):
  result = _step_result(pool, "", "<code>\ndef g(xs):\n  return 0\n<end_of_code>")
  assert result.ok, result
  assert (
    result.stdout.splitlines()[0] == "ERROR f([1, 2, 4]) raised NameError: name 'f' is not defined"
  )
  assert result.stdout.splitlines()[-1] == "passed 0/3"


def _clip(text: str) -> str:
  return text if len(text) <= 80 else text[:77] + "..."


def test_output_is_deterministic_and_short(pool):
  gold = CodeTask(
    entry_point="g",
    prompt="",
    visible=(TestCase("g()", "None"), TestCase("h()", "0"), TestCase("big()", "0")),
    hidden="def check(c):\n  pass\n",
  ).to_answer()
  step = (
    "<code>\nclass Box:\n  pass\n"
    "def g():\n  return [Box(), {'pear', 'apple', 'fig', 'kiwi'}, frozenset({'b', 'a'}), (Box,)]\n"
    "def h():\n  raise ValueError('x' * 500)\n"
    "def big():\n  return list(range(1000))\n<end_of_code>"
  )
  draft = DOMAIN.classify(gold, "", _Candidate(step))
  results = pool.run_many([draft.program] * 6)  # Both workers, whose string hashes differ.
  assert all(r.ok for r in results), results
  shown_g = "[<__main__.Box object>, {'apple', 'fig', 'kiwi', 'pear'}, frozenset({'a', 'b'}), (<class '__main__.Box'>,)]"
  assert {r.stdout for r in results} == {
    f"FAIL g() returned {_clip(shown_g)}, expected None\n"
    f"ERROR h() raised ValueError: {_clip('x' * 500)}\n"
    f"FAIL big() returned {_clip(str(list(range(1000))))}, expected 0\n"
    "passed 0/3\n"
  }


@pytest.mark.parametrize(
  "step,error_type",
  [
    ("<code>\ndef f(xs):\nreturn 1\n<end_of_step>", "IndentationError"),
    ("<code>\ndef f(xs:\n<end_of_step>", "SyntaxError"),
    ("<code>\nx = 1 / 0\n<end_of_code>", "ZeroDivisionError"),
    ("<code>\nimport sys\nsys.exit(0)\n<end_of_code>", "SystemExit"),
  ],
)
def test_top_level_failure_is_a_step_error(pool, step, error_type):
  result = _step_result(pool, "", step)
  assert not result.ok and result.error_type == error_type, result
  assert DOMAIN.observe(result).startswith(error_type)


def test_runaway_step_hits_the_timeout(pool):
  for step in (
    "<code>\nwhile True:\n  pass\n<end_of_step>",
    "<code>\ndef f(xs):\n  while True:\n    pass\n<end_of_code>",
  ):
    result = _step_result(pool, "", step)
    assert (result.ok, result.error_type, result.limit_hit) == (False, "Timeout", "timeout")
  assert _healthy(pool)


def test_without_gold_the_step_runs_alone(pool):
  result = _step_result(pool, "", "<code>\nprint(6 * 7)\n<end_of_code>", gold=None)
  assert result.ok and result.stdout == "42\n", result


# --- grade ---


@pytest.mark.parametrize(
  "answer,right",
  [
    (RIGHT, True),
    ("def f(xs):\n  return sum(x for x in xs if x % 2 == 0) + 1\n", False),  # Off by one.
    ("def f(xs):\n  return str(sum(x for x in xs if x % 2 == 0))\n", False),  # Wrong type.
    ("def f(xs):\n  return [6, 0, 10][len(xs) % 3]\n", False),  # Passes visible, not hidden.
    ("def f(xs):\n  raise RuntimeError('no')\n", False),
    ("def g(xs):\n  return 0\n", False),  # No entry point.
    ("def f(xs:\n", False),
    (RIGHT + "print('no newline after me', end='')\n", True),
    (RIGHT + "import io, sys\nsys.stdout = io.StringIO()\n", True),
    (RIGHT + "def helper(n):\n  return n\n", True),  # The tests keep their own helper.
    (RIGHT.replace("f(xs)", "f(xs=())"), True),
  ],
)
def test_grade(pool, answer, right):
  assert DOMAIN.grade([answer], [GOLD], pool) == [right]


def test_grade_batch_is_one_sandbox_call_and_none_is_wrong(pool):
  counting = _CountingPool(pool)
  wrong = RIGHT.replace("== 0", "== 1")
  verdicts = DOMAIN.grade([None, RIGHT, wrong, None, RIGHT], [GOLD] * 5, counting)
  assert verdicts == [False, True, False, False, True]
  assert [len(b) for b in counting.batches] == [3]
  assert DOMAIN.grade([None], [GOLD], counting) == [False]
  assert len(counting.batches) == 1
  with pytest.raises(ValueError, match="unknown code grader 'lenient'"):
    DOMAIN.grade([RIGHT], [GOLD], pool, grader="lenient")
  with pytest.raises(ValueError):
    DOMAIN.grade([RIGHT, RIGHT], [GOLD], pool)


def test_infinite_loop_is_wrong_and_pool_survives(pool):
  loop = "def f(xs):\n  while True:\n    pass\n"
  assert DOMAIN.grade([loop, RIGHT], [GOLD, GOLD], pool) == [False, True]
  assert _healthy(pool)


def test_hostile_submissions_are_wrong_and_pool_survives(pool, tmp_path):
  victim = tmp_path / "keep.txt"
  victim.write_text("keep")
  wrong = "def f(xs):\n  return 0\n"
  hostile = [
    wrong + "print('looks fine')\nimport os\nos._exit(0)\n",
    wrong + "def check(candidate):\n  pass\n",
    wrong  # Replaces the tests by a no-op check unless the grader bound `compile` first.
    + "import builtins\nreal = builtins.compile\n"
    + "builtins.compile = lambda *a, **k: real('def check(c): pass', '', 'exec')\n",
    wrong  # Knows the nonce, but cannot end the program normally without running the tests.
    + "import sys\nprint(sys._getframe(1).f_locals['nonce'])\nimport os\nos._exit(0)\n",
    wrong + "import sys\nsys.exit(0)\n",
    wrong + "raise SystemExit(0)\n",
    wrong + f"import os\nos.remove({str(victim)!r})\n",
    wrong + "import shutil\nshutil.rmtree('..', ignore_errors=True)\n",
    wrong + "import os\nfor _ in range(4):\n  os.fork()\n",
    wrong + "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n",
    wrong + "import threading, time\nthreading.Thread(target=time.sleep, args=(60,)).start()\n",
  ]
  assert DOMAIN.grade(hostile, [GOLD] * len(hostile), pool) == [False] * len(hostile)
  assert victim.read_text() == "keep"
  assert _healthy(pool)


# --- group ---


def test_group_by_behaviour(pool):
  counting = _CountingPool(pool)
  answers = [
    RIGHT,  # 0
    "def f(xs):\n  total = 0\n  for x in xs:\n    if not x % 2:\n      total += x\n  return total\n",
    None,  # 2: does not vote.
    "def f(xs):\n  return sum(xs)\n",  # 3: differs on f([1]).
    "1 / 0\n",  # 4: crashes.
    "x = [][1]\n",  # 5: crashes differently.
    "def f(xs):\n  return {(1, 2, 4): 6}.get(tuple(xs), 0)\n",  # 6: like RIGHT on visible inputs.
    "z = 3 // 0\n",  # 7: crashes like 4.
    "y = 2 / 0\n",  # 8: crashes like 4.
    RIGHT,  # 9: repeated text, run once.
  ]
  groups = DOMAIN.group(answers, GOLD, counting)
  assert groups == [[0, 1, 6, 9], [3], [4, 7, 8], [5]]
  assert [len(b) for b in counting.batches] == [8]
  assert DOMAIN.group([None, None], GOLD, counting) == []
  assert len(counting.batches) == 1


def test_group_is_the_same_in_every_worker(pool):
  gold = CodeTask("g", "", (TestCase("g()", "set()"),), "def check(c):\n  pass\n").to_answer()
  answers = [
    f"def g():\n  return {{'alpha', 'beta', 'gamma', 'delta', 'eps', 'zeta'}}  # copy {i}\n"
    for i in range(8)
  ]
  answers.append("class Box:\n  pass\ndef g():\n  return Box()\n")
  answers.append("class Box:\n  pass\n\ndef g():\n  return Box()\n")
  assert DOMAIN.group(answers, gold, pool) == [list(range(8)), [8, 9]]


def test_group_without_visible_tests_compares_text(pool):
  gold = CodeTask("f", "", (), "def check(c):\n  pass\n").to_answer()
  counting = _CountingPool(pool)
  answers = ["def f():\n  return 1\n", None, "def f():  return  1", "def f():\n  return 2\n"]
  assert DOMAIN.group(answers, gold, counting) == [[0, 2], [3]]
  assert counting.batches == []
