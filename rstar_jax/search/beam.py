"""Step-level beam search guided by the PPM: the alternative to MCTS at test time.

At each depth every partial solution in a tree's beam is expanded (all trees in one policy call),
all new steps are scored in one PPM call, and the `beam_width` best non-terminal steps of each
tree form its next beam. The nodes visited are kept as an ordinary `Tree` (N = 1, W = PPM score)
so that records and the viewer work unchanged.
"""

from collections.abc import Sequence

import numpy as np

from rstar_jax import domains
from rstar_jax.search import expand as expand_lib
from rstar_jax.search import tree as tree_lib
from rstar_jax.search.config import SearchConfig
from rstar_jax.search.mcts import stable_seed


def beam_search_trees(
  trees: Sequence[tree_lib.Tree],
  engine: expand_lib.EngineLike,
  scorer: expand_lib.ScorerLike,
  pool: expand_lib.PoolLike,
  cfg: SearchConfig,
  *,
  runs: Sequence[int] | None = None,
  stats: expand_lib.SearchStats | None = None,
) -> expand_lib.SearchStats:
  if scorer is None:
    raise ValueError("beam search needs a PPM scorer")
  domain = domains.get(cfg.domain)
  stats = stats if stats is not None else expand_lib.SearchStats()
  runs = list(runs) if runs is not None else [0] * len(trees)
  level_rng = np.random.default_rng(
    stable_seed(cfg.seed, "beam", *(f"{t.problem_id}/{r}" for t, r in zip(trees, runs)))
  )
  beams = [[t.root] for t in trees]
  with stats.timed("total_s"):
    while any(beams):
      leaves = [(t, n) for t, beam in zip(trees, beams) for n in beam]
      children = expand_lib.expand_leaves(
        leaves, engine, pool, cfg, int(level_rng.integers(2**31)), stats
      )
      expand_lib.grade([(t, row) for (t, _), row in zip(leaves, children)], domain, pool, stats)
      pairs = [(t, c) for (t, _), row in zip(leaves, children) for c in row]
      expand_lib.score(pairs, scorer, domain, stats)
      next_beams: list[list[tree_lib.Node]] = [[] for _ in trees]
      index = {id(t): i for i, t in enumerate(trees)}
      for tree, child in pairs:
        child.visits = 1
        child.value_sum = expand_lib.terminal_reward(child, "eval") if child.terminal else child.ppm
        if not child.terminal:
          next_beams[index[id(tree)]].append(child)
      beams = [sorted(b, key=lambda n: -n.ppm)[: cfg.beam_width] for b in next_beams]
  return stats
