"""`launch.evaluate --run_dir`: every trained round is evaluated with the reward models the run's
own evaluate stage would use, with tiny random models on a few problems."""

import json

from absl import app
import pytest
from test_train_helpers import tiny_policy
from test_train_helpers import tiny_tokenizer

from configs import world
from launch import evaluate
from launch import run_config
from rstar_jax import hf
from rstar_jax import models
from rstar_jax.data.problems import Problem
from rstar_jax.evolution.layout import RunLayout
from rstar_jax.runtime import mesh as mesh_lib


def _config():
  c = world.get_config()
  c.progress = False
  c.sandbox_workers = 2
  c.eval.samples = 2
  c.eval.sample_problems = 0
  c.eval.mcts_runs = 0
  c.eval.max_depth = 2
  c.eval.step_max_tokens = 8
  c.eval.batch_size = 4
  return run_config.run_config(c)


def test_each_round_gets_the_latest_reward_models_trained_through_it(tmp_path):
  tok = tiny_tokenizer()
  policy = tiny_policy(len(tok), mesh_lib.single_device_mesh())
  layout = RunLayout(tmp_path / "run")
  hf.save_model(policy, layout.hf_dir(1, "sft"), tokenizer=tok)
  hf.save_model(models.ValueModel.from_policy(policy), layout.hf_dir(1, "ppm"), tokenizer=tok)
  hf.save_model(policy, layout.hf_dir(2, "sft"), tokenizer=tok)
  hf.save_model(models.ValueModel.from_policy(policy), layout.hf_dir(2, "orm"), tokenizer=tok)
  layout.round_dir(3).mkdir()  # A round whose SFT has not finished is not evaluated.
  problems = [Problem(f"p{i}", f"Add {i} and 1.", str(i + 1)) for i in range(3)]

  table = evaluate.evaluate_run(_config(), layout, problems, tmp_path / "eval")

  reports = {
    k: json.loads((tmp_path / "eval" / f"round_{k}" / "report.json").read_text()) for k in (1, 2)
  }
  assert set(reports[1]["accuracy"]) == {"greedy", "pass@2", "maj@2", "best_of_2[ppm]"}
  # Round 2 trained no PPM: round 1's is carried over, as the run's evaluate stage does.
  assert set(reports[2]["accuracy"]) == {
    "greedy",
    "pass@2",
    "maj@2",
    "best_of_2[ppm]",
    "best_of_2[orm]",
  }
  assert not (tmp_path / "eval" / "round_3").exists()
  run_report = json.loads((tmp_path / "eval" / "report.json").read_text())
  assert run_report and "best_of_2[orm]" in table


def test_a_run_without_a_trained_round_is_refused(tmp_path):
  layout = RunLayout(tmp_path / "run")
  layout.round_dir(1).mkdir(parents=True)
  with pytest.raises(app.UsageError, match="no round with a trained policy"):
    evaluate.evaluate_run(_config(), layout, [], tmp_path / "eval")
