"""MCTS over code-verified steps, batched over problems (DESIGN §1.2).

A rollout selects a leaf from the root by UCT and then keeps descending, expanding one node per
depth level, until the node it stands on has only terminal children. Every valid terminal
child's reward is backed up along its path as soon as it is created, while invalid terminals
(code errors, too deep, no answer) get W = -1, N = 1 locally only (the official behaviour); in
'ppm' and 'eval' modes every new non-terminal child starts at W = PPM score, N = 1. All trees of a batch advance in lockstep: one
level is one `expand_leaves` call for the leaves of every tree that needs one.

Round 4 (`SearchConfig.extra_rollouts`): a tree that has spent its budget, or has no leaf left,
without a correct answer moves to the next stage, on a fresh tree by default; every stage draws
from its own random stream. A batch's trees finish all their stages before the search returns,
so a resumed `run_search` never sees a problem half-way through its stages.
"""

from collections.abc import Sequence
import dataclasses
import hashlib

import numpy as np

from rstar_jax import domains
from rstar_jax.domains import base as domain_base
from rstar_jax.search import expand as expand_lib
from rstar_jax.search import tree as tree_lib
from rstar_jax.search.config import SearchConfig


def stable_seed(*parts: object) -> int:
  """A seed that depends only on its parts (not on Python's per-process string hashing)."""
  digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
  return int.from_bytes(digest[:4], "little")


def _stage_rng(cfg: SearchConfig, problem_id: str, run: int, stage: int) -> np.random.Generator:
  """The random stream of one stage of one problem's search (stage 0: the first budget)."""
  parts = (cfg.seed, problem_id, run) + (("stage", stage) if stage else ())
  return np.random.default_rng(stable_seed(*parts))


@dataclasses.dataclass
class _Rollouts:
  """The rollout state machine of one tree."""

  tree: tree_lib.Tree
  run: int
  budget: int
  rng: np.random.Generator
  started: int = 0
  stage: int = 0
  current: tree_lib.Node | None = None

  def solved(self) -> bool:
    return any(n.correct for n in self.tree.terminals())

  def next_leaf(self, cfg: SearchConfig) -> tree_lib.Node | None:
    """The node to expand at this level, starting a new rollout if needed; None when done."""
    while self.current is None:
      if self.started < self.budget:
        self.current = tree_lib.select_leaf(self.tree, cfg.c_puct, self.rng)
      if self.current is not None:
        self.started += 1
      elif not self._next_stage(cfg):
        break
    return self.current

  def _next_stage(self, cfg: SearchConfig) -> bool:
    """Moves an unsolved problem to its next budget (a total), on a fresh tree in 'fresh' mode."""
    if cfg.mode == "eval" or self.stage >= len(cfg.extra_rollouts) or self.solved():
      return False
    self.budget = cfg.extra_rollouts[self.stage]
    self.stage += 1
    self.rng = _stage_rng(cfg, self.tree.problem_id, self.run, self.stage)
    if cfg.extra_mode == "fresh":
      tree = self.tree
      tree.nodes = tree_lib.Tree(tree.problem_id, tree.question, tree.gold).nodes
      self.started = 0
    return True

  def advance(self, cfg: SearchConfig) -> None:
    """After the current node was expanded: descend to a child or end the rollout."""
    node = self.current
    if not node.children:
      # Nothing usable was sampled: a dead end, valued like an invalid terminal.
      node.terminal, node.invalid, node.correct = True, domain_base.INVALID_DEAD_END, False
      tree_lib.set_local_value(node, expand_lib.NEGATIVE_REWARD)
    self.current = tree_lib.select_child(self.tree, node, cfg.c_puct, self.rng)
    if self.current is None:
      node.terminal = True


def search_trees(
  trees: Sequence[tree_lib.Tree],
  engine: expand_lib.EngineLike,
  scorer: expand_lib.ScorerLike | None,
  pool: expand_lib.PoolLike,
  cfg: SearchConfig,
  *,
  runs: Sequence[int] | None = None,
  stats: expand_lib.SearchStats | None = None,
) -> expand_lib.SearchStats:
  """Runs MCTS on every tree until each has spent its rollouts (or is exhausted).

  `runs[i]` distinguishes independent runs on the same problem (evaluation): it enters the seed.
  """
  if cfg.mode in ("ppm", "eval") and scorer is None:
    raise ValueError(f"mode {cfg.mode!r} needs a PPM scorer")
  if cfg.mode != "eval":
    missing = [t.problem_id for t in trees if t.gold is None]
    if missing:
      raise ValueError(f"mode {cfg.mode!r} needs gold answers; missing for {missing[:5]}")
  domain = domains.get(cfg.domain)
  stats = stats if stats is not None else expand_lib.SearchStats()
  runs = list(runs) if runs is not None else [0] * len(trees)
  states = [
    _Rollouts(t, run, cfg.rollouts, _stage_rng(cfg, t.problem_id, run, 0))
    for t, run in zip(trees, runs, strict=True)
  ]
  level_rng = np.random.default_rng(stable_seed(cfg.seed, *(t.problem_id for t in trees)))
  with stats.timed("total_s"):
    while True:
      active = [s for s in states if s.next_leaf(cfg) is not None]
      if not active:
        break
      leaves = [(s.tree, s.current) for s in active]
      children = expand_lib.expand_leaves(
        leaves, engine, pool, cfg, int(level_rng.integers(2**31)), stats
      )
      pairs = [(s.tree, c) for s, row in zip(active, children) for c in row]
      expand_lib.grade([(s.tree, row) for s, row in zip(active, children)], domain, pool, stats)
      if cfg.mode != "terminal":
        expand_lib.score(pairs, scorer, domain, stats)
      for tree, child in pairs:
        if child.terminal and child.invalid is not None:
          tree_lib.set_local_value(child, expand_lib.NEGATIVE_REWARD)
        elif child.terminal:
          tree.backup(child, expand_lib.terminal_reward(child, cfg.mode))
        elif cfg.mode != "terminal":
          tree_lib.set_local_value(child, child.ppm)
      for s in active:
        s.advance(cfg)
  return stats


def search_batch(
  problems: Sequence,
  engine: expand_lib.EngineLike,
  scorer: expand_lib.ScorerLike | None,
  pool: expand_lib.PoolLike,
  cfg: SearchConfig,
  *,
  stats: expand_lib.SearchStats | None = None,
) -> list[tree_lib.Tree]:
  """One tree per problem (`Problem(id, question, answer)`), all searched together."""
  trees = [tree_lib.Tree(p.id, p.question, p.answer) for p in problems]
  search_trees(trees, engine, scorer, pool, cfg, stats=stats)
  return trees
