"""World-labelled step pairs (`world.oracle_pairs`) and the PPM learning curve on them
(`launch.ppm_curve`), with a tiny random policy."""

import json
import re

import pytest
from test_train_helpers import tiny_policy
from test_train_helpers import tiny_tokenizer

from configs import world
from launch import run_config
from rstar_jax import domains
from rstar_jax import hf
from rstar_jax import models
from rstar_jax.data import problems as problems_lib
from rstar_jax.data import records
from rstar_jax.evolution import ppm_curve
from rstar_jax.evolution.layout import RunLayout
from rstar_jax.runtime import mesh as mesh_lib
from rstar_jax.training import ppm
from rstar_jax.world import generator
from rstar_jax.world import oracle_pairs
from rstar_jax.world import process_set

PROMPT = domains.get("math").prompt
PROBLEMS = generator.generate("train", 60, seed=5)


@pytest.mark.parametrize("errors", oracle_pairs.ERRORS)
def test_pos_is_the_right_next_step_and_neg_the_first_wrong_one(errors):
  pairs = oracle_pairs.step_pairs(PROBLEMS, 40, prompt=PROMPT, seed=1, errors=errors)
  by_id = {p.problem.id: p for p in PROBLEMS}
  for pair in pairs:
    problem = by_id[pair.problem_id]
    head = PROMPT(problem.problem.question)
    assert pair.prompt.startswith(head)
    prefix = process_set.split_steps(pair.prompt[len(head) :]) if pair.prompt != head else ()
    assert process_set.first_wrong_step(problem, (*prefix, pair.pos)) == -1
    assert process_set.first_wrong_step(problem, (*prefix, pair.neg)) == len(prefix)
  assert len({p.problem_id for p in pairs}) == len(pairs) == 40  # One pair per problem.
  assert len({len(p.prompt) for p in pairs}) > 5  # Errors at many depths, not only the first.


def test_a_misread_step_quotes_another_number_and_computes_with_it():
  pairs = oracle_pairs.step_pairs(PROBLEMS, 40, prompt=PROMPT, seed=1, errors="misread")
  for pair in pairs:
    (pos_quote, pos_code), (neg_quote, neg_code) = (
      process_set._lines(side) for side in (pair.pos, pair.neg)
    )
    assert pos_quote != neg_quote and pos_code != neg_code
    # Only the number differs: the same words around it, and the same operation.
    assert re.sub(r"\d+|half|third|quarter|fifth", "#", pos_quote) == re.sub(
      r"\d+|half|third|quarter|fifth", "#", neg_quote
    )
    assert re.sub(r"\d+", "#", pos_code[0]) == re.sub(r"\d+", "#", neg_code[0])


def test_misreading_spells_the_wrong_operand_as_the_sentence_does():
  half = generator.Op("div", 2)
  assert (
    oracle_pairs.misread("Then Tom keeps only one half of the eggs", half, generator.Op("div", 3))
    == "Then Tom keeps only one third of the eggs"
  )
  add = generator.Op("add", 12)
  assert oracle_pairs.misread("Tom finds 12 more eggs", add, generator.Op("add", 9)) == (
    "Tom finds 9 more eggs"
  )
  assert oracle_pairs.misread("Tom finds 112 more eggs", add, generator.Op("add", 9)) is None


def test_pairs_are_deterministic_and_too_few_problems_is_an_error():
  first = oracle_pairs.step_pairs(PROBLEMS, 10, prompt=PROMPT, seed=2)
  assert first == oracle_pairs.step_pairs(PROBLEMS, 10, prompt=PROMPT, seed=2)
  assert first != oracle_pairs.step_pairs(PROBLEMS, 10, prompt=PROMPT, seed=3)
  with pytest.raises(ValueError, match=r"gave \d+ step pairs; 100 were asked for"):
    oracle_pairs.step_pairs(PROBLEMS[:20], 100, prompt=PROMPT, seed=2)
  with pytest.raises(ValueError, match=r"errors must be one of teacher\|misread, got .typo."):
    oracle_pairs.step_pairs(PROBLEMS, 10, prompt=PROMPT, seed=2, errors="typo")


def _config():
  c = world.get_config()
  c.progress = False
  c.ppm.batch_size = 2
  c.ppm.epochs = 1.0
  c.ppm.checkpoint_every = 2
  c.ppm.max_len = 1024
  return run_config.run_config(c)


def test_learning_curve_trains_each_size_once_and_scores_the_rounds_reward_models(
  tmp_path, monkeypatch
):
  tok = tiny_tokenizer()
  policy = tiny_policy(len(tok), mesh_lib.single_device_mesh())
  layout = RunLayout(tmp_path / "run")
  hf.save_model(policy, layout.hf_dir(1, "sft"), tokenizer=tok)
  hf.save_model(models.ValueModel.from_policy(policy), layout.hf_dir(1, "ppm"), tokenizer=tok)
  # The run's held-out problems are the first of the held-out pairs' own stream: left out.
  heldout = [p.problem for p in generator.generate("heldout", 3, seed=ppm_curve.HELDOUT_STREAM)]
  problems_lib.write_problems(tmp_path / "heldout.jsonl", heldout)
  layout.prepare_dir.mkdir(parents=True)
  (layout.prepare_dir / "paths.json").write_text(
    json.dumps({"heldout": str(tmp_path / "heldout.jsonl")})
  )
  out = tmp_path / "curve"

  table = ppm_curve.learning_curve(_config(), layout, 1, [4, 2], 6, "misread", out)
  out = out / "misread"

  report = json.loads((out / "report.json").read_text())
  assert [r["model"] for r in report["rows"]] == [
    "2 misread pairs",
    "4 misread pairs",
    "round 1 ppm",
  ]
  for row in report["rows"]:
    assert row["total"] == 6 and row["accuracy"] == row["correct"] / 6
    assert row["low"] <= row["accuracy"] <= row["high"]
  assert (out / "report.md").read_text().strip() == table
  held_ids = {r["problem_id"] for _, r in records.open_dataset(out / "data" / "heldout").records()}
  assert len(held_ids) == 6 and not held_ids & {p.id for p in heldout}
  # Rerun: both sizes resume from their exports; nothing is trained again.
  monkeypatch.setattr(ppm, "train_ppm", lambda *a, **k: pytest.fail("trained again"))
  assert ppm_curve.learning_curve(_config(), layout, 1, [4, 2], 6, "misread", out.parent) == table


def test_a_run_of_another_domain_or_without_the_round_is_refused(tmp_path):
  layout = RunLayout(tmp_path / "run")
  with pytest.raises(FileNotFoundError, match="round 2 has no trained policy"):
    ppm_curve.learning_curve(_config(), layout, 2, [4], 6, "misread", tmp_path / "curve")
  c = world.get_config()
  c.domain = "code"
  code = run_config.run_config(c)
  with pytest.raises(ValueError, match="built-in math world"):
    ppm_curve.learning_curve(code, layout, 2, [4], 6, "misread", tmp_path / "curve")
