"""Reference and teacher solutions: step format, execution by the real sandbox, error rates."""

import collections
import random

import pytest

from rstar_jax import grading
from rstar_jax.format import prompts
from rstar_jax.format.program import assemble_program
from rstar_jax.sandbox import SandboxPool
from rstar_jax.world import generator
from rstar_jax.world import teacher

PROBLEMS = generator.generate("train", 48, seed=5)


@pytest.fixture(scope="module")
def pool():
  with SandboxPool(num_workers=2) as p:
    yield p


@pytest.fixture(scope="module")
def reference(pool):
  return teacher.solve(PROBLEMS, pool)


def split_steps(text: str) -> list[str]:
  """Splits a solution into the steps the policy generates (each ends with a stop string)."""
  out, rest = [], text
  while rest:
    ends = [(rest.find(s), s) for s in prompts.STEP_STOPS if rest.find(s) >= 0]
    assert ends, f"no stop string in {rest!r}"
    at, stop = min(ends)
    out.append(rest[: at + len(stop)])
    rest = rest[at + len(stop) :]
  return out


def test_reference_answers_equal_the_executed_program(reference, pool):
  programs = [assemble_program(s.text) for s in reference]
  results = pool.run_many(programs)
  for p, s, r in zip(PROBLEMS, reference, results):
    assert r.ok and r.stdout.strip() == p.problem.answer == s.answer
    assert s.correct and s.errors == ("",) * p.difficulty
    assert grading.extract_answer(s.text) == p.problem.answer


def test_reference_solutions_are_in_the_step_format(reference):
  for p, s in zip(PROBLEMS, reference):
    steps = split_steps(s.text)
    # Start value, one step per operation, the print step (+ output), the answer step.
    assert len(steps) == p.difficulty + 3
    assert steps[0].startswith(prompts.CODE + "\n# Step 1: ")
    assert all(
      st.startswith("\n# Step ") and st.endswith(prompts.END_OF_STEP) for st in steps[1:-2]
    )
    assert steps[-2].startswith("\n# Now print the final answer\nprint(")
    assert steps[-2].endswith(prompts.END_OF_CODE)
    # Each step quotes its own sentence of the story, in order.
    for step, sentence in zip(steps, p.sentences):
      assert "# Step " in step and sentence.rstrip(".") in step, (step, sentence)
    output = prompts.output_block(p.problem.answer)
    assert s.text == "".join(steps[:-1]) + output + teacher.answer_step(p.problem.answer)
    assert steps[-1] == output + teacher.answer_step(p.problem.answer)


def test_teacher_error_rates_match_the_config():
  cfg = teacher.TeacherConfig(wrong_operation=0.1, wrong_operand=0.15, missing_step=0.05)
  rng = random.Random(0)
  problems = generator.generate("train", 800, seed=1)
  errors = collections.Counter(e for p in problems for e in teacher.write_code(p, cfg, rng)[1])
  total = sum(errors.values())
  assert total == sum(p.difficulty for p in problems)
  for kind, rate in (
    (teacher.WRONG_OPERATION, 0.1),
    (teacher.WRONG_OPERAND, 0.15),
    (teacher.MISSING_STEP, 0.05),
  ):
    assert abs(errors[kind] / total - rate) < 0.02, (kind, errors[kind] / total)


def test_teacher_mistakes_give_real_wrong_answers(pool):
  cfg = teacher.TeacherConfig(wrong_operation=0.2, wrong_operand=0.2, missing_step=0.1)
  solutions = teacher.solve(PROBLEMS, pool, cfg, seed=3)
  assert solutions == teacher.solve(PROBLEMS, pool, cfg, seed=3)
  results = pool.run_many([assemble_program(s.text) for s in solutions])
  flawed = 0
  for p, s, r in zip(PROBLEMS, solutions, results):
    assert r.ok and r.stdout.strip() == s.answer == grading.extract_answer(s.text)
    assert s.correct == (s.answer == p.problem.answer)
    if not any(s.errors):
      assert s.correct
    flawed += any(s.errors)
    steps = split_steps(s.text)
    missing = s.errors.count(teacher.MISSING_STEP)
    assert len(steps) == p.difficulty + 3 - missing
  assert 0 < sum(not s.correct for s in solutions) <= flawed < len(PROBLEMS)


@pytest.mark.parametrize("rates", [(-0.1, 0, 0), (0.5, 0.4, 0.2)])
def test_bad_rates_are_refused(rates):
  with pytest.raises(ValueError, match="rates"):
    teacher.TeacherConfig(*rates)
