"""The paper's recipe as configured: round-1 sampling, the official greedy decoding, time-outs."""

import dataclasses

from configs import qwen25_math_1_5b
from configs import world
from launch import run_config
from rstar_jax.evaluation.config import OFFICIAL_GREEDY_DEPTH
from rstar_jax.evaluation.config import EvalConfig
from rstar_jax.evolution import plan as plan_lib
from rstar_jax.evolution.layout import RunLayout
from rstar_jax.evolution.pipeline import Pipeline
from rstar_jax.format import prompts


def _paper():
  c = qwen25_math_1_5b.get_config()
  c.bootstrap.policy, c.problems.train, c.problems.heldout = "/p", "/t.jsonl", "/h.jsonl"
  return run_config.run_config(c)


def test_round_one_samples_as_the_official_bootstrap_search(tmp_path):
  config = _paper()
  pipeline = Pipeline(config, RunLayout(tmp_path))
  plans = plan_lib.make_plan(config.rounds)
  first, second = (pipeline.search_config(p) for p in plans[:2])
  assert (first.temperature, first.max_code_errors) == (0.7, 2)
  assert (second.temperature, second.max_code_errors) == (1.0, 1)
  assert first.num_candidates == second.num_candidates == 12
  assert (first.rollouts, second.rollouts) == (8, 16)


def test_the_world_samples_every_round_alike(tmp_path):
  config = run_config.run_config(world.get_config())
  pipeline = Pipeline(config, RunLayout(tmp_path))
  first, second = (pipeline.search_config(p) for p in plan_lib.make_plan(config.rounds)[:2])
  assert dataclasses.replace(first, rollouts=8, seed=0) == dataclasses.replace(second, seed=0)
  assert config.eval.greedy_mode == "stepwise" and config.sandbox_timeout_s == 10.0


def test_official_greedy_decodes_the_whole_program_in_one_step():
  official = EvalConfig(greedy_mode="official").chain_search(0.0, seed=3)
  assert official.stops == (prompts.END_OF_CODE, prompts.END_OF_ANSWER)
  assert (official.max_code_errors, official.step_max_tokens) == (3, 4096)
  assert official.max_depth == OFFICIAL_GREEDY_DEPTH and official.temperature == 0.0
  stepwise = EvalConfig().chain_search(0.0, seed=3)
  assert stepwise.stops == prompts.STEP_STOPS and stepwise.max_code_errors == 1
  sampled = EvalConfig(greedy_mode="official").chain_search(0.7, seed=3)
  assert sampled.stops == prompts.STEP_STOPS  # Only greedy decoding changes.


def test_paper_config_carries_the_official_time_out_into_the_sandbox():
  config = _paper()
  assert config.sandbox_timeout_s == 30.0
  assert config.eval.greedy_mode == "official"
  assert config.search.max_depth == config.eval.max_depth == 17
