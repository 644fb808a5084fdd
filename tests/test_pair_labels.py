"""pair_labels: the world's values judge each side of a PPM pair, as the process set judges a step."""

import random

import pytest

from rstar_jax import domains
from rstar_jax.data.schemas import PPMPair
from rstar_jax.evaluation import report
from rstar_jax.format import prompts
from rstar_jax.world import generator
from rstar_jax.world import pair_labels
from rstar_jax.world import process_set
from rstar_jax.world import teacher
from rstar_jax.world.config import WorldConfig

PROMPT = domains.get("math").prompt


def _world(seed: int = 3):
  """A training problem of at least 3 operations, its right steps and a wrong version of step 3
  (its operation's operand off by one)."""
  problem = next(
    p
    for p in pair_labels.train_problems(WorldConfig(seed=seed, num_train=20)).values()
    if p.difficulty >= 3
  )
  code, _ = teacher.write_code(problem, teacher.PERFECT, random.Random(seed))
  answer = str(problem.values[-1])
  steps = process_set.split_steps(code + prompts.output_block(answer) + teacher.answer_step(answer))
  op = problem.ops[1]  # Step 3 of the solution does the second operation.
  wrong = generator.Op(op.kind, op.operand + 1)
  assert wrong.apply(problem.values[1]) != op.apply(problem.values[1])
  wrong_step = steps[2].replace(op.code(problem.var), wrong.code(problem.var))
  return problem, steps, wrong_step


def _step_pair(problem, prefix, pos: str, neg: str) -> PPMPair:
  return PPMPair(problem.problem.id, PROMPT(problem.problem.question) + "".join(prefix), pos, neg)


def test_sides_are_judged_by_the_values_they_make():
  problem, steps, wrong = _world()
  head = PROMPT(problem.problem.question)
  assert pair_labels.label_pair(problem, _step_pair(problem, steps[:2], steps[2], wrong), head) == (
    "right_over_wrong"
  )
  assert pair_labels.label_pair(problem, _step_pair(problem, steps[:2], wrong, steps[2]), head) == (
    "reversed"
  )
  # The same code under a comment that miscopies its sentence is still that sentence's step.
  sentence = problem.sentences[2].rstrip(".")
  miscopied = steps[2].replace(sentence, sentence.rsplit(" ", 1)[0])
  assert miscopied != steps[2]
  both = _step_pair(problem, steps[:2], steps[2], miscopied)
  assert pair_labels.label_pair(problem, both, head) == "both_right"
  alien = f"\n# Step 3: Nothing like the story\n{problem.var} = {problem.var} ** 2\n<end_of_step>"
  odd = _step_pair(problem, steps[:2], steps[2], alien)
  assert pair_labels.label_pair(problem, odd, head) == "unjudged"


def test_answer_pairs_are_counted_apart_and_unknown_problems_fail():
  problem, steps, wrong = _world()
  right_text = "".join(steps)
  wrong_text = "".join((*steps[:2], wrong, *steps[3:]))
  answer_pair = PPMPair(
    problem.problem.id, PROMPT(problem.problem.question), right_text, wrong_text
  )
  step_pair = _step_pair(problem, steps[:2], steps[2], wrong)
  assert pair_labels.is_answer_pair(answer_pair) and not pair_labels.is_answer_pair(step_pair)
  counts = pair_labels.pair_quality(
    [answer_pair, step_pair, step_pair], {problem.problem.id: problem}, PROMPT
  )
  assert counts["step"] == {"pairs": 2, "right_over_wrong": 2} | dict.fromkeys(
    pair_labels.LABELS[1:], 0
  )
  assert counts["answer"]["pairs"] == 1 and counts["answer"]["right_over_wrong"] == 1
  with pytest.raises(ValueError, match="not a problem of the world"):
    pair_labels.pair_quality([step_pair], {}, PROMPT)


def test_a_comment_quoting_no_sentence_is_no_step_of_the_story():
  problem, steps, _ = _world()
  unrelated = steps[2].replace(problem.sentences[2].rstrip("."), "Xy zzq wvv")
  with pytest.raises(ValueError, match="quotes no remaining sentence"):
    process_set.first_wrong_step(problem, (*steps[:2], unrelated))


def test_the_report_shows_each_rounds_label_shares():
  counts = {"pairs": 4, "right_over_wrong": 3, "both_right": 1}
  counts |= dict.fromkeys(pair_labels.LABELS[2:], 0)
  results = {1: {"extract": {"pair_labels": {"step": counts, "answer": {"pairs": 0}}}}}
  rows = report.pair_label_rows(results)
  assert rows == [
    {
      "round": 1,
      "pairs": "step",
      "n": "4",
      "right over wrong": 0.75,
      "both right": 0.25,
      "both wrong": 0.0,
      "reversed": 0.0,
      "unjudged": 0.0,
    }
  ]
  assert "| 1 | step | 4 | 75.0% | 25.0% |" in report.format_table(rows, leading=list(rows[0]))
