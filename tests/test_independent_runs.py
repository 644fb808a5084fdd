"""N evaluation runs of one problem are N independent searches: with a real tiny Engine, the runs
of one problem (one policy call per depth, the same prompt repeated) grow different trees, and the
same trees again from the same seed."""

import pytest
from tiny_tokenizer import tiny_engine_and_scorer

from rstar_jax.data.problems import Problem
from rstar_jax.evaluation import multirun
from rstar_jax.sandbox import SandboxPool
from rstar_jax.search import extract
from rstar_jax.search.config import SearchConfig

RUNS = 4
PROBLEM = Problem("p0", "Tom has 3 apples and buys 5 more. How many apples now?", "8")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
  engine, scorer, _ = tiny_engine_and_scorer(tmp_path_factory.mktemp("policy"))
  return engine, scorer


@pytest.mark.parametrize("method", ["mcts", "beam"])
def test_runs_of_one_problem_are_independent_and_reproducible(models, tmp_path, method):
  engine, scorer = models
  cfg = SearchConfig(
    mode="eval",
    rollouts=2,
    num_candidates=2,
    max_depth=3,
    step_max_tokens=8,
    temperature=1.0,
    num_runs=RUNS,
    beam_width=2,
  )
  trees = []
  with SandboxPool(num_workers=2) as pool:
    for attempt in ("first", "again"):
      multirun.evaluate_problems(
        [PROBLEM], engine, scorer, pool, cfg, method=method, out_dir=tmp_path / attempt
      )
      trees.append([t.to_dict() for t in extract.load_trees(tmp_path / attempt / "trees")])
  first, again = trees
  assert len(first) == RUNS
  steps = [tuple(n["text"] for n in tree["nodes"][1:]) for tree in first]
  assert all(steps) and len(set(steps)) == RUNS  # every run sampled its own steps
  assert again == first
