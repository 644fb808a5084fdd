"""Resumable search over a problem set: batches of trees → ArrayRecord tree shards.

Problems stream in (any iterable: a list, or `sources.stream_problem_file` over a set of the
paper's size) and are searched one batch of `SearchConfig.batch_size` at a time. Each finished
batch becomes one shard (`<out_dir>/trees/trees-NNNNN.array_record`, written to a temporary name
and renamed) and is listed in the writer's shard index (`data.shard_index`), so a run killed at
any moment loses at most the batch in flight. On restart the finished problem ids come from the
index, not from re-reading the shards, and are skipped: no problem is lost or written twice. A
problem has one record, its final tree: in round 4, the tree of its last stage
(`SearchConfig.extra_mode`), written only once every stage of its batch is done.
"""

import collections
from collections.abc import Iterable, Iterator, Sequence
import dataclasses
import itertools
import logging
import os
import pathlib
import time
from typing import Any

import tqdm

from rstar_jax import domains
from rstar_jax.data import shard_index
from rstar_jax.search import expand as expand_lib
from rstar_jax.search import extract
from rstar_jax.search import mcts
from rstar_jax.search.config import SearchConfig

TREE_DIR = "trees"
TREE_PREFIX = "trees"


def tree_store(
  out_dir: str | os.PathLike, process_index: int = 0, process_count: int = 1
) -> shard_index.IndexedShards:
  """Where one process appends its shards; with several processes each has its own prefix."""
  prefix = TREE_PREFIX if process_count == 1 else f"{TREE_PREFIX}-p{process_index:04d}"
  return shard_index.IndexedShards(pathlib.Path(out_dir) / TREE_DIR, prefix)


def finished_ids(out_dir: str | os.PathLike) -> set[str]:
  """Ids of every problem with a tree in `out_dir`, whichever process wrote it (from the shard
  indexes; only shards they do not list are read)."""
  found = shard_index.scan(pathlib.Path(out_dir) / TREE_DIR)
  return {problem_id for keys in found.values() for problem_id, _ in keys}


@dataclasses.dataclass(frozen=True)
class SearchSummary:
  """What one `run_search` call did (resumed problems are counted in `skipped`)."""

  searched: int
  skipped: int
  missing_answer: tuple[str, ...]
  solved: int
  difficulty: dict[str, int]
  wall_s: float
  stats: dict[str, float]
  policy_stats: dict[str, float]  # the engine's counters (prefill, prefix cache), if it keeps any
  ppm_stats: dict[str, float]  # the scorer's

  @property
  def expansions_per_s(self) -> float:
    return self.stats["expansions"] / self.wall_s if self.wall_s else 0.0

  def to_dict(self) -> dict[str, Any]:
    return {**dataclasses.asdict(self), "expansions_per_s": self.expansions_per_s}


def _check_unique(problems: Sequence) -> None:
  counts = collections.Counter(p.id for p in problems)
  dups = [i for i, c in counts.items() if c > 1]
  if dups:
    raise ValueError(f"problem ids must be unique; repeated: {dups[:10]}")


def _unique(problems: Iterable) -> Iterator:
  """`problems`, refusing a repeated id: a sequence is checked whole before the first problem is
  searched, a stream as it goes (its ids, not its problems, are kept)."""
  if isinstance(problems, Sequence):
    _check_unique(problems)
    yield from problems
    return
  seen = set()
  for p in problems:
    if p.id in seen:
      raise ValueError(f"problem ids must be unique; repeated: {[p.id]}")
    seen.add(p.id)
    yield p


def _batches(items: Iterable, size: int) -> Iterator[list]:
  items = iter(items)
  while batch := list(itertools.islice(items, size)):
    yield batch


def run_search(
  problems: Iterable,
  engine: expand_lib.EngineLike,
  scorer: expand_lib.ScorerLike | None,
  pool: expand_lib.PoolLike,
  cfg: SearchConfig,
  out_dir: str | os.PathLike,
  *,
  jsonl_mirror: bool = True,
  progress: bool = True,
  process_index: int = 0,
  process_count: int = 1,
) -> SearchSummary:
  """Searches every problem not yet in `out_dir`, one batch of `cfg.batch_size` at a time.

  Problems are `Problem(id, question, answer)`, a sequence or a stream (only a batch of them is
  held at a time); each tree record is `Tree.to_dict()` plus the problem's difficulty class and the
  search mode. Problems without a gold answer cannot be rewarded: they are reported (logged and
  listed in the summary) and skipped. With `process_count` > 1 (several hosts sharing `out_dir`),
  this process takes every `process_count`-th problem starting at `process_index`.
  """
  if cfg.mode == "eval":
    raise ValueError("run_search builds training trees; use evaluate_problems for mode 'eval'")
  if not 0 <= process_index < process_count:
    raise ValueError(f"process_index {process_index} not in [0, {process_count})")
  domain = domains.get(cfg.domain)
  store = tree_store(out_dir, process_index, process_count)
  store.repair()
  done = finished_ids(out_dir)
  missing: list[str] = []
  skipped = 0

  def todo() -> Iterator:
    nonlocal skipped
    for i, problem in enumerate(_unique(problems)):
      if i % process_count != process_index:
        continue
      if problem.answer is None:
        missing.append(problem.id)
      elif problem.id in done:
        skipped += 1
      else:
        domain.check_problem(problem)
        yield problem

  stats = expand_lib.SearchStats()
  counts = collections.Counter({extract.EASY: 0, extract.MEDIUM: 0, extract.HARD: 0})
  searched = 0
  start = time.perf_counter()
  with tqdm.tqdm(desc=f"search[{cfg.mode}]", unit="problem", disable=not progress) as bar:
    for batch in _batches(todo(), cfg.batch_size):
      trees = mcts.search_batch(batch, engine, scorer, pool, cfg, stats=stats)
      classes = [extract.difficulty(t) for t in trees]
      counts.update(classes)
      store.append(
        [{**t.to_dict(), "difficulty": c, "mode": cfg.mode} for t, c in zip(trees, classes)],
        jsonl_mirror=jsonl_mirror,
      )
      searched += len(batch)
      bar.update(len(batch))
      bar.set_postfix(
        solved=counts[extract.EASY] + counts[extract.MEDIUM], expansions=stats.expansions
      )
  if missing:
    logging.warning(
      "skipped %d problems without a gold answer: %s", len(missing), ", ".join(missing[:20])
    )
  return SearchSummary(
    searched=searched,
    skipped=skipped,
    missing_answer=tuple(missing),
    solved=counts[extract.EASY] + counts[extract.MEDIUM],
    difficulty=dict(counts),
    wall_s=time.perf_counter() - start,
    stats=stats.to_dict(),
    policy_stats=_counters(engine),
    ppm_stats=_counters(scorer),
  )


def _counters(model: object) -> dict[str, float]:
  """A real engine's or scorer's `stats` (scripted stand-ins keep none)."""
  stats = getattr(model, "stats", None)
  return stats.to_dict() if hasattr(stats, "to_dict") else {}
