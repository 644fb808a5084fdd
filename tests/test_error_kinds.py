"""The kind of a wrong solution's first wrong step (`world.error_kinds`) and its report table."""

import json
import random

import pytest

from rstar_jax.evaluation import harness
from rstar_jax.evaluation import report
from rstar_jax.world import error_kinds
from rstar_jax.world import generator
from rstar_jax.world import oracle_pairs
from rstar_jax.world import process_set
from rstar_jax.world import teacher

PROBLEMS = generator.generate("heldout", 30, seed=5)


def _reference(problem) -> list[str]:
  code, _ = teacher.write_code(problem, teacher.PERFECT, random.Random(0))
  return list(process_set.solution_steps(problem, code))


def _op_step(problem, steps, j) -> tuple[str, str]:
  """Step j+1 (operation j) and the 'sentence, reason\\ncode' text the teacher wrote in it."""
  op, sentence = problem.ops[j], problem.sentences[j + 1].rstrip(".")
  written = f"{sentence}, {op.reason()}\n{op.code(problem.var)}"
  assert written in steps[j + 1]
  return steps[j + 1], written


def _kind(problem, steps) -> str | None:
  return error_kinds.first_error_kind(problem, "".join(steps))


def _changes_value(problem, j, other) -> bool:
  before = problem.values[j]
  return other.apply(before) != problem.ops[j].apply(before)


@pytest.mark.parametrize("problem", PROBLEMS[:10], ids=lambda p: p.problem.id)
def test_a_reference_solution_has_no_error(problem):
  assert _kind(problem, _reference(problem)) is None


def test_each_kind_of_first_error():
  """Each kind built by hand on every problem where it changes a value."""
  seen = set()
  for problem in PROBLEMS:
    steps, rng = _reference(problem), random.Random(problem.problem.id)
    j = rng.randrange(problem.difficulty)
    op, var = problem.ops[j], problem.var
    wrong = teacher.wrong_operand(op, rng)
    step, written = _op_step(problem, steps, j)
    sentence = problem.sentences[j + 1].rstrip(".")
    if _changes_value(problem, j, wrong):
      quoted = oracle_pairs.misread(sentence, op, wrong)
      if quoted is not None:
        misread = step.replace(written, f"{quoted}, {wrong.reason()}\n{wrong.code(var)}")
        assert _kind(problem, [*steps[: j + 1], misread, *steps[j + 2 :]]) == "misread"
        seen.add("misread")
      miscomputed = step.replace(written, f"{sentence}, {op.reason()}\n{wrong.code(var)}")
      assert _kind(problem, [*steps[: j + 1], miscomputed, *steps[j + 2 :]]) == "miscomputed"
      seen.add("miscomputed")
    if j + 1 < problem.difficulty and problem.values[j + 1] != problem.values[j]:
      assert _kind(problem, [*steps[: j + 1], *steps[j + 2 :]]) == "skipped"
      seen.add("skipped")
  assert seen == {"misread", "miscomputed", "skipped"}


def test_final_unreadable_and_unfinished():
  problem = PROBLEMS[2]
  steps, gold = _reference(problem), problem.problem.answer
  boxed = steps[-1].replace(f"\\boxed{{{gold}}}", f"\\boxed{{{int(gold) + 1}}}")
  assert _kind(problem, [*steps[:-1], boxed]) == "final"
  step, written = _op_step(problem, steps, 0)
  alien = step.replace(written.split("\n")[1], f"{problem.var} = {problem.var} ** 2")
  assert _kind(problem, [steps[0], alien, *steps[2:]]) == "unreadable"
  assert _kind(problem, steps[:-1]) == "unfinished"  # No answer step.
  cut = "".join(steps[:3]) + steps[3][: len(steps[3]) // 2]
  assert error_kinds.first_error_kind(problem, cut) == "unfinished"  # Cut off mid-step.


def test_the_first_error_decides_even_before_an_unreadable_step():
  problem = PROBLEMS[2]
  steps = _reference(problem)
  op, var = problem.ops[0], problem.var
  step, written = _op_step(problem, steps, 0)
  other = next(o for o in (generator.Op("add", 7), generator.Op("add", 9)) if o != op)
  miscomputed = step.replace(written, written.replace(op.code(var), other.code(var)))
  step2, written2 = _op_step(problem, steps, 1)
  alien = step2.replace(written2.split("\n")[1], f"{var} = {var} ** 2")
  assert _kind(problem, [steps[0], miscomputed, alien, *steps[3:]]) == "miscomputed"


def _rows(problems, texts, correct):
  return [
    harness.problem_row(p.problem, {harness.GREEDY: {"answer": "0", "correct": ok, "text": t}})
    for p, t, ok in zip(problems, texts, correct)
  ]


def test_greedy_error_kinds_tallies_the_wrong_solutions_by_level():
  chosen = PROBLEMS[:4]
  refs = [_reference(p) for p in chosen]
  texts = ["".join(refs[0]), "".join(refs[1][:-1]), "".join(refs[2][:-1]), "".join(refs[3])]
  rows = _rows(chosen, texts, [True, False, False, False])
  by_id = {p.problem.id: p for p in PROBLEMS}
  tally = error_kinds.greedy_error_kinds(rows, by_id)
  assert tally["wrong"] == 3
  assert list(tally["kinds"])[: len(error_kinds.KINDS)] == list(error_kinds.KINDS)
  # The right-by-value solution graded wrong is counted apart, not as an error kind.
  assert tally["kinds"]["unfinished"] == 2 and tally["kinds"]["right by value"] == 1
  levels = {str(p.difficulty) for p in chosen[1:]}
  assert set(tally["by_level"]) == levels
  assert sum(sum(c.values()) for c in tally["by_level"].values()) == 3
  with pytest.raises(ValueError, match="kept no solution text"):
    del rows[1]["answers"][harness.GREEDY]["text"]
    error_kinds.greedy_error_kinds(rows, by_id)
  with pytest.raises(ValueError, match="not a problem of the world"):
    error_kinds.greedy_error_kinds(rows[2:], {})


def test_the_run_report_shows_the_kinds_and_keeps_round_keys(tmp_path):
  results = {1: {"evaluate": {"accuracy": {"greedy": 0.5}, "num_problems": 4}}}
  kinds = {
    0: {"wrong": 3, "kinds": {k: 1 if k == "misread" else 0 for k in error_kinds.KINDS}},
    1: {"wrong": 2, "kinds": {k: 2 if k == "misread" else 0 for k in error_kinds.KINDS}},
  }
  table = report.write_run_report(
    results,
    tmp_path / "report.json",
    tmp_path / "report.md",
    tmp_path / "accuracy.png",
    error_kinds=kinds,
  )
  lines = table.split("Wrong held-out greedy solutions")[1].splitlines()
  header = next(line for line in lines if line.startswith("| round"))
  assert header.split(" | ")[1:4] == ["wrong", "misread", "miscomputed"]
  assert "| 1 | 2 | 2 | 0 |" in table
  saved = json.loads((tmp_path / "report.json").read_text())
  assert all(k.isdigit() for k in saved)  # launch.seeds reads every key as a round.
  assert saved["0"][report.GREEDY_ERROR_KINDS]["wrong"] == 3
  assert saved["1"]["evaluate"]["num_problems"] == 4
