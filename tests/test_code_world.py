"""The code world: generated list-function tasks, their tests, and the imperfect teacher."""

import collections
import json
import random
from typing import NamedTuple

import pytest
from test_world_teacher import split_steps

from rstar_jax.data import problems as problems_lib
from rstar_jax.domains import code as code_domain
from rstar_jax.format import prompts
from rstar_jax.format.program import assemble_program
from rstar_jax.sandbox import SandboxPool
from rstar_jax.world import code_generator as gen
from rstar_jax.world import code_teacher as teacher

N = 150
FLAWED = teacher.TeacherConfig(wrong_operation=0.2, wrong_operand=0.2, missing_step=0.1)


@pytest.fixture(scope="module")
def pool():
  with SandboxPool(num_workers=2) as p:
    yield p


@pytest.fixture(scope="module")
def train():
  return gen.generate("train", N, seed=0)


@pytest.fixture(scope="module")
def heldout():
  return gen.generate("heldout", N, seed=0)


@pytest.fixture(scope="module")
def reference(train, pool):
  return teacher.solve(train[:30], pool)


@pytest.fixture(scope="module")
def flawed(pool):
  tasks = gen.generate("train", 60, seed=1)
  return tasks, teacher.solve(tasks, pool, FLAWED, seed=3)


class _Candidate(NamedTuple):
  text: str
  stop_reason: str


def _run_check(hidden: str, candidate) -> bool:
  """Runs a task's `check` here, on a trusted candidate (the tests are the generator's own)."""
  namespace: dict = {}
  exec(hidden, namespace)
  try:
    namespace["check"](candidate)
  except AssertionError:
    return False
  return True


def _off_by_one(value: list[int] | int) -> list[int] | int:
  return [*value, 0] if isinstance(value, list) else value + 1


def test_same_seed_same_tasks_other_seed_other_tasks(train):
  assert gen.generate("train", N, seed=0) == train
  other = gen.generate("train", N, seed=1)
  assert [t.problem.question for t in other] != [t.problem.question for t in train]
  assert gen.generate("train", 7, seed=0, skip=5) == train[5:12]


def test_splits_are_disjoint_by_function(train, heldout):
  for split, tasks in (("train", train), ("heldout", heldout)):
    assert len({t.problem.question for t in tasks}) == N
    assert all(t.problem.id.startswith(f"code-{split}-0-") for t in tasks)
    assert all(gen.function_split(t.stages) == split for t in tasks)
  assert not {t.structure for t in train} & {t.structure for t in heldout}
  # The split is the function's, not the pipeline's: equivalent pipelines share it.
  s = gen.Stage
  for a, b in (
    ((s("mul", 2), s("mul", 3)), (s("mul", 3), s("mul", 2))),
    ((s("sort"), s("reverse")), (s("sort_desc"),)),
    ((s("add", 2), s("sub", 5), s("max")), (s("sub", 3), s("max"))),
  ):
    assert gen.function_split(a) == gen.function_split(b)


def test_difficulty_levels_are_balanced():
  cfg = gen.CodeGeneratorConfig()
  levels = range(cfg.min_stages, cfg.max_stages + 1)
  tasks = gen.generate("heldout", 2 * len(levels), seed=4)
  assert collections.Counter(t.difficulty for t in tasks) == dict.fromkeys(levels, 2)
  cfg = gen.CodeGeneratorConfig(min_stages=3, max_stages=4)
  assert {t.difficulty for t in gen.generate("train", 12, seed=2, cfg=cfg)} == {3, 4}


def test_prompts_parse_and_tests_agree_with_the_reference(train):
  kinds = collections.Counter()
  for t in train:
    assert code_domain.CodeTask.from_problem(t.problem) == t.task
    assert len(t.inputs) == 2 + gen.CodeGeneratorConfig().hidden_tests
    assert () in t.inputs and any(min(xs, default=0) < 0 for xs in t.inputs)
    assert any(len(set(xs)) < len(xs) for xs in t.inputs)
    expected = [t.reference(xs) for xs in t.inputs]
    for case, xs, value in zip(t.task.visible, t.inputs, expected):
      assert case == (f"{t.entry_point}({list(xs)})", repr(value))
      assert f"    >>> {case.call}\n    {case.expected}\n" in t.problem.question
    assert t.problem.question.startswith(f"def {t.entry_point}(xs: list[int]) -> ")
    assert ("-> list[int]:" in t.problem.question) == t.returns_list
    assert _run_check(t.task.hidden, t.reference)
    assert not _run_check(t.task.hidden, lambda xs, t=t: _off_by_one(t.reference(xs)))
    # Every stage matters: leaving any one out changes some test's result.
    for i in range(t.difficulty):
      without = t.stages[:i] + t.stages[i + 1 :]
      assert any(gen.run_pipeline(without, xs) != v for xs, v in zip(t.inputs, expected))
    kinds.update(s.kind for s in t.stages)
  assert set(kinds) == set(gen.KINDS)
  assert len({t.entry_point for t in train}) > 10


def test_reference_solutions_pass_the_hidden_tests(train, reference):
  tasks = train[:30]
  assert {t.difficulty for t in tasks} == set(range(1, 6))
  for t, s in zip(tasks, reference):
    assert s.correct and s.errors == ("",) * t.difficulty
    steps = split_steps(s.text)
    # One step per stage (+ a return step for a list), the visible tests' report, the answer.
    assert len(steps) == t.difficulty + t.returns_list + 1
    assert steps[0].startswith(f"{prompts.CODE}\n# Step 1: ")
    assert f"\ndef {t.entry_point}(xs):\n    " in steps[0]
    assert all(st.startswith("\n# Step ") for st in steps[1:-1])
    assert all(st.endswith(prompts.END_OF_STEP) for st in steps[:-2])
    assert steps[-2].endswith(prompts.END_OF_CODE)
    assert steps[-1].startswith(f"\n{prompts.OUTPUT}")
    assert steps[-1].endswith(prompts.END_OF_OUTPUT + teacher.answer_step(t.entry_point))
    assert s.answer == assemble_program(s.text)
    for i, stage in enumerate(t.stages):  # Each step's comment is the docstring's phrase.
      assert f"# Step {i + 1}: {stage.phrase(first=i == 0)}\n" in s.text


def test_teacher_error_rates_match_the_config():
  cfg = teacher.TeacherConfig(wrong_operation=0.1, wrong_operand=0.15, missing_step=0.05)
  rng = random.Random(0)
  tasks = gen.generate("train", 400, seed=1)
  errors, with_operand = collections.Counter(), collections.Counter()
  for t in tasks:
    written = teacher.write_code(t, cfg, rng)[1]
    assert len(written) == t.difficulty
    errors.update(written)
    with_operand.update(e for s, e in zip(t.stages, written) if s.has_operand)
  total = sum(errors.values())
  assert abs(errors[teacher.WRONG_OPERATION] / total - 0.1) < 0.03
  assert abs(errors[teacher.MISSING_STEP] / total - 0.05) < 0.025
  # Only a stage with a constant can get a wrong one.
  assert errors[teacher.WRONG_OPERAND] == with_operand[teacher.WRONG_OPERAND]
  assert abs(with_operand[teacher.WRONG_OPERAND] / sum(with_operand.values()) - 0.15) < 0.04


def test_flawed_solutions_are_mostly_graded_wrong(flawed, pool):
  tasks, solutions = flawed
  assert solutions == teacher.solve(tasks, pool, FLAWED, seed=3)
  wrong = [not s.correct for s in solutions if any(s.errors)]
  assert all(s.correct for s in solutions if not any(s.errors))
  assert len(wrong) > 10 and sum(wrong) >= 0.8 * len(wrong)
  for t, s in zip(tasks, solutions):
    # A left-out reducer leaves the list to return, like a task without one.
    returned = t.returns_list or s.errors[-1] == teacher.MISSING_STEP
    missing = s.errors.count(teacher.MISSING_STEP)
    assert len(split_steps(s.text)) == t.difficulty - missing + returned + 1


def test_every_step_runs_and_the_output_is_the_domains(reference, flawed, train, pool):
  """Each prefix ending a code step runs alone and as the search runs it (with the visible
  tests); after `<end_of_code>` comes exactly what the domain makes of that run."""
  domain = code_domain.CodeDomain()
  golds = {t.problem.id: t.problem.answer for t in train[:30] + flawed[0]}
  programs, outputs = [], []  # outputs: (index of the domain's program, the text after it)
  for s in reference + flawed[1]:
    steps = split_steps(s.text)
    for at, step in enumerate(steps):
      if step.endswith((prompts.END_OF_STEP, prompts.END_OF_CODE)):
        prefix = "".join(steps[: at + 1])
        draft = domain.classify(golds[s.problem_id], "", _Candidate(prefix, "stop"))
        programs += [assemble_program(prefix), draft.program]
        if step.endswith(prompts.END_OF_CODE):
          outputs.append((len(programs) - 1, s.text[len(prefix) :]))
  assert len(programs) > 300
  results = pool.run_many(programs)
  for program, result in zip(programs, results):
    assert result.ok, (program, result.error_type, result.error_message)
  for i, rest in outputs:
    assert rest.startswith(prompts.output_block(domain.observe(results[i]))), rest


def test_problem_file_round_trip(tmp_path, heldout):
  path = tmp_path / "heldout.jsonl"
  problems_lib.write_problems(path, [t.problem for t in heldout[:20]])
  assert problems_lib.load_problems(path, on_error="raise") == [t.problem for t in heldout[:20]]
  assert json.loads(path.read_text().splitlines()[0])["level"] == str(heldout[0].difficulty)


@pytest.mark.parametrize(
  "kwargs",
  [
    dict(min_stages=0),
    dict(min_stages=4, max_stages=3),
    dict(heldout_buckets=1),
    dict(min_element=0),
  ],
)
def test_bad_config_is_refused(kwargs):
  with pytest.raises(ValueError):
    gen.CodeGeneratorConfig(**kwargs)


def test_bad_split_and_counts_are_refused():
  with pytest.raises(ValueError, match="split"):
    gen.generate("test", 3)
  with pytest.raises(ValueError, match="non-negative"):
    gen.generate("train", -1)


def test_exhausted_task_space_is_an_error_not_a_hang(monkeypatch):
  monkeypatch.setattr(gen, "_MAX_MISSES", 50)
  monkeypatch.setattr(gen, "_acceptable", lambda *args: False)
  with pytest.raises(ValueError, match="too small"):
    gen.generate("train", 1)
