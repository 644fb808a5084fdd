"""`rounds.problems_per_round`: each round searches its own block of the training problems, and a
run whose file (or world) is too short for every block is refused before any work starts."""

import contextlib
import json

import pytest

from configs import world
from launch import run_config
from rstar_jax.evolution import pipeline as pipeline_lib
from rstar_jax.evolution import plan as plan_lib
from rstar_jax.evolution.layout import RunLayout
from rstar_jax.search import run as search_run


def test_blocks_partition_the_first_rounds_times_n_problems():
  rounds = plan_lib.RoundsConfig(num_rounds=3, baseline_rounds=(3,), problems_per_round=5)
  assert [rounds.search_block(k) for k in (1, 2, 3)] == [(0, 5), (5, 10), (10, 15)]
  assert rounds.problems_needed == 15
  every = plan_lib.RoundsConfig()
  assert every.search_block(2) is None and every.problems_needed == 0
  with pytest.raises(ValueError, match="problems_per_round must be >= 0"):
    plan_lib.RoundsConfig(problems_per_round=-1)


def _pipeline(tmp_path, num_problems, per_round, max_train=0):
  rows = [
    {"id": f"p{i}", "question": f"What is {i} plus 1?", "answer": str(i + 1)}
    for i in range(num_problems)
  ]
  problems = tmp_path / "train.jsonl"
  problems.write_text("".join(json.dumps(r) + "\n" for r in rows))
  c = world.get_config()
  c.run_dir = str(tmp_path / "run")
  c.problems.train = c.problems.heldout = str(problems)
  c.problems.max_train = max_train
  c.bootstrap.policy = str(tmp_path / "policy")
  c.rounds.problems_per_round = per_round
  config = run_config.run_config(c)
  return pipeline_lib.Pipeline(config, RunLayout(tmp_path / "run")), problems


def test_each_round_searches_its_own_block(tmp_path, monkeypatch):
  pipeline, _ = _pipeline(tmp_path, num_problems=10, per_round=2)
  searched = {}

  def fake_search(problems, *args, **kwargs):
    ids = [p.id for p in problems]
    searched[len(searched) + 1] = ids
    return search_run.SearchSummary(len(ids), 0, (), 0, {}, 0.0, {}, {}, {})

  monkeypatch.setattr(pipeline_lib.search_run, "run_search", fake_search)
  monkeypatch.setattr(pipeline_lib.Pipeline, "engine", lambda self, k, mesh: object())
  monkeypatch.setattr(pipeline_lib.Pipeline, "sandbox", lambda self: contextlib.nullcontext())
  summaries = [pipeline.search(plan) for plan in plan_lib.make_plan(pipeline.config.rounds)]
  assert searched == {1: ["p0", "p1"], 2: ["p2", "p3"], 3: ["p4", "p5"], 4: ["p6", "p7"]}
  assert [s["problems_block"] for s in summaries] == [(0, 2), (2, 4), (4, 6), (6, 8)]


@pytest.mark.parametrize(
  ("num_problems", "per_round", "max_train", "gives"),
  [(10, 3, 0, 10), (20, 3, 9, 9)],
)
def test_preflight_refuses_too_few_problems_for_the_blocks(
  tmp_path, num_problems, per_round, max_train, gives
):
  pipeline, problems = _pipeline(tmp_path, num_problems, per_round, max_train)
  with pytest.raises(pipeline_lib.PreflightError) as error:
    pipeline.preflight()
  expected = (
    f"config.rounds.problems_per_round: 4 rounds of {per_round} problems need "
    f"{4 * per_round} training problems; {problems} gives {gives}"
  )
  assert expected in str(error.value).splitlines()


def test_preflight_checks_the_world_split_size(tmp_path):
  c = world.get_config()
  c.run_dir = str(tmp_path / "run")
  c.rounds.problems_per_round = c.world.num_train // 2
  pipeline = pipeline_lib.Pipeline(run_config.run_config(c), RunLayout(tmp_path / "run"))
  too_few = (
    rf"need {4 * c.rounds.problems_per_round} .*world\.num_train\) gives {c.world.num_train}$"
  )
  with pytest.raises(pipeline_lib.PreflightError, match=too_few):
    pipeline.preflight()
  c.world.num_train *= 2
  pipeline_lib.Pipeline(run_config.run_config(c), RunLayout(tmp_path / "run")).preflight()
