"""One depth level of batched search: the only place that calls the policy, sandbox, grader, PPM.

Every tree of a batch contributes its leaves to ONE `engine.expand` call, ONE `pool.run_many`
call and ONE `scorer.score` call per level (DESIGN §1.2); the time spent inside each is counted
so that the host overhead of the search loop itself can be measured.
"""

from collections.abc import Sequence
import contextlib
import dataclasses
import time
from typing import Any, Protocol

import numpy as np

from rstar_jax import domains
from rstar_jax.inference import SamplingParams
from rstar_jax.search import steps
from rstar_jax.search import tree as tree_lib
from rstar_jax.search.config import SearchConfig

POSITIVE_REWARD = 1.0
NEGATIVE_REWARD = -1.0


class EngineLike(Protocol):
  def expand(self, prompts: Sequence[str], n: int, sampling: SamplingParams) -> list[list[Any]]: ...


class ScorerLike(Protocol):
  def score(self, texts: Sequence[str]) -> np.ndarray: ...


PoolLike = domains.base.PoolLike


@dataclasses.dataclass
class SearchStats:
  """Counters and wall time per external call kind; `total_s` covers the whole search."""

  levels: int = 0
  expansions: int = 0
  children: int = 0
  programs: int = 0
  scored: int = 0
  policy_s: float = 0.0
  sandbox_s: float = 0.0
  ppm_s: float = 0.0
  grading_s: float = 0.0
  total_s: float = 0.0

  @contextlib.contextmanager
  def timed(self, field: str):
    start = time.perf_counter()
    try:
      yield
    finally:
      setattr(self, field, getattr(self, field) + time.perf_counter() - start)

  def merge(self, other: "SearchStats") -> None:
    for f in dataclasses.fields(self):
      setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

  @property
  def host_s(self) -> float:
    """Wall time outside policy, PPM and sandbox calls (the search loop's own overhead)."""
    return self.total_s - self.policy_s - self.ppm_s - self.sandbox_s

  def to_dict(self) -> dict[str, float]:
    return {**dataclasses.asdict(self), "host_s": self.host_s}


def sampling_params(cfg: SearchConfig, seed: int) -> SamplingParams:
  return SamplingParams(
    temperature=cfg.temperature,
    top_k=cfg.top_k,
    top_p=cfg.top_p,
    max_new_tokens=cfg.step_max_tokens,
    stop=cfg.stops,
    seed=seed,
  )


def prompt_text(tree: tree_lib.Tree, node: tree_lib.Node, domain: domains.Domain) -> str:
  """What the policy continues from (and the PPM scores): prompt + partial solution."""
  return domain.prompt(tree.question) + tree.solution(node)


def expand_leaves(
  leaves: Sequence[tuple[tree_lib.Tree, tree_lib.Node]],
  engine: EngineLike,
  pool: PoolLike,
  cfg: SearchConfig,
  seed: int,
  stats: SearchStats,
) -> list[list[tree_lib.Node]]:
  """Samples, dedups and verifies children for every leaf; returns the new children per leaf.

  Terminal children are graded (their `correct` set) but no value is assigned yet.
  """
  if not leaves:
    return []
  domain = domains.get(cfg.domain)
  texts = [prompt_text(t, n, domain) for t, n in leaves]
  with stats.timed("policy_s"):
    outputs = engine.expand(texts, cfg.num_candidates, sampling_params(cfg, seed))
  if len(outputs) != len(leaves):
    raise RuntimeError(f"engine.expand returned {len(outputs)} rows for {len(leaves)} prompts")
  drafts = [
    [
      domain.classify(t.gold, t.solution(n), c)
      for c in steps.dedup(cands, domain, answer_only=cfg.answer_step_only)
    ]
    for (t, n), cands in zip(leaves, outputs)
  ]
  programs = [d.program for row in drafts for d in row if d.program is not None]
  results = []
  if programs:
    with stats.timed("sandbox_s"):
      results = pool.run_many(programs)
    if len(results) != len(programs):
      raise RuntimeError(f"pool.run_many returned {len(results)} results for {len(programs)}")
  result_iter = iter(results)
  children = []
  for (tree, leaf), row in zip(leaves, drafts):
    new = []
    for draft in row:
      result = next(result_iter) if draft.program is not None else None
      fields = steps.child_fields(
        draft, result, leaf, domain, max_code_errors=cfg.max_code_errors, max_depth=cfg.max_depth
      )
      new.append(tree.add_child(leaf, **fields))
    children.append(new)
  stats.levels += 1
  stats.expansions += len(leaves)
  stats.children += sum(len(c) for c in children)
  stats.programs += len(programs)
  return children


def grade(
  trees_children: Sequence[tuple[tree_lib.Tree, Sequence[tree_lib.Node]]],
  domain: domains.Domain,
  pool: PoolLike,
  stats: SearchStats,
) -> None:
  """Marks terminal children correct/incorrect against the gold answer (when there is one), in
  one call of the domain's grader for the whole level."""
  with stats.timed("grading_s"):
    todo = []
    for tree, children in trees_children:
      for child in children:
        if not child.terminal:
          continue
        if child.invalid is not None:
          child.correct = False
        elif tree.gold is not None:
          todo.append((child, tree.gold))
    if todo:
      verdicts = domain.grade([c.answer for c, _ in todo], [g for _, g in todo], pool)
      for (child, _), correct in zip(todo, verdicts, strict=True):
        child.correct = correct


def score(
  nodes: Sequence[tuple[tree_lib.Tree, tree_lib.Node]],
  scorer: ScorerLike,
  domain: domains.Domain,
  stats: SearchStats,
) -> None:
  """Sets `ppm` on every node with one PPM call (invalid terminals are not scored).

  Identical texts (the same step reached by several runs on one problem) are scored once.
  """
  todo = [(n, prompt_text(t, n, domain)) for t, n in nodes if n.invalid is None]
  if not todo:
    return
  unique = list(dict.fromkeys(text for _, text in todo))
  with stats.timed("ppm_s"):
    values = np.asarray(scorer.score(unique), dtype=np.float32)
  if values.shape != (len(unique),):
    raise RuntimeError(f"scorer.score returned shape {values.shape} for {len(unique)} texts")
  by_text = dict(zip(unique, values.tolist()))
  for node, text in todo:
    node.ppm = by_text[text]
  stats.scored += len(unique)


def terminal_reward(node: tree_lib.Node, mode: str) -> float:
  """±1 from the grader; in evaluation mode (no gold) the PPM score of the terminal."""
  if node.invalid is not None:
    return NEGATIVE_REWARD
  if mode == "eval":
    return node.ppm
  return POSITIVE_REWARD if node.correct else NEGATIVE_REWARD
