"""Resumable search over a problem set: batches of trees → ArrayRecord tree shards.

Each finished batch becomes one shard (`<out_dir>/trees/trees-NNNNN.array_record`, written to a
temporary name and renamed), so a run killed at any moment loses at most the batch in flight. On
restart the finished problem ids are read back from the shards and skipped: no problem is lost
or written twice. A problem has one record, its final tree: in round 4, the tree of its last
stage (`SearchConfig.extra_mode`), written only once every stage of its batch is done.
"""

import collections
from collections.abc import Sequence
import dataclasses
import logging
import os
import pathlib
import time
from typing import Any

import tqdm

from rstar_jax.data import records
from rstar_jax.search import expand as expand_lib
from rstar_jax.search import extract
from rstar_jax.search import mcts
from rstar_jax.search.config import SearchConfig

TREE_DIR = "trees"
TREE_PREFIX = "trees"


def tree_store(
  out_dir: str | os.PathLike, process_index: int = 0, process_count: int = 1
) -> records.ShardSequence:
  """Where one process appends its shards; with several processes each has its own prefix."""
  prefix = TREE_PREFIX if process_count == 1 else f"{TREE_PREFIX}-p{process_index:04d}"
  return records.ShardSequence(pathlib.Path(out_dir) / TREE_DIR, prefix)


def finished_ids(out_dir: str | os.PathLike) -> set[str]:
  """Ids of every problem with a tree in `out_dir`, whichever process wrote it."""
  return {
    r["problem_id"]
    for p in records.shard_paths(pathlib.Path(out_dir) / TREE_DIR)
    for r in records.read_shard(p)
  }


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


def run_search(
  problems: Sequence,
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

  Problems are `Problem(id, question, answer)`; each tree record is `Tree.to_dict()` plus the
  problem's difficulty class and the search mode. Problems without a gold answer cannot be
  rewarded: they are reported (logged and listed in the summary) and skipped.
  With `process_count` > 1 (several hosts sharing `out_dir`), this process takes every
  `process_count`-th problem starting at `process_index`.
  """
  if cfg.mode == "eval":
    raise ValueError("run_search builds training trees; use evaluate_problems for mode 'eval'")
  if not 0 <= process_index < process_count:
    raise ValueError(f"process_index {process_index} not in [0, {process_count})")
  _check_unique(problems)
  problems = problems[process_index::process_count]
  store = tree_store(out_dir, process_index, process_count)
  done = finished_ids(out_dir)
  missing = tuple(p.id for p in problems if p.answer is None)
  if missing:
    logging.warning(
      "skipping %d problems without a gold answer: %s", len(missing), ", ".join(missing[:20])
    )
  todo = [p for p in problems if p.id not in done and p.answer is not None]
  stats = expand_lib.SearchStats()
  counts = collections.Counter({extract.EASY: 0, extract.MEDIUM: 0, extract.HARD: 0})
  start = time.perf_counter()
  with tqdm.tqdm(
    total=len(todo), desc=f"search[{cfg.mode}]", unit="problem", disable=not progress
  ) as bar:
    for lo in range(0, len(todo), cfg.batch_size):
      batch = todo[lo : lo + cfg.batch_size]
      trees = mcts.search_batch(batch, engine, scorer, pool, cfg, stats=stats)
      classes = [extract.difficulty(t) for t in trees]
      counts.update(classes)
      store.append(
        [{**t.to_dict(), "difficulty": c, "mode": cfg.mode} for t, c in zip(trees, classes)],
        jsonl_mirror=jsonl_mirror,
      )
      bar.update(len(batch))
      bar.set_postfix(
        solved=counts[extract.EASY] + counts[extract.MEDIUM], expansions=stats.expansions
      )
  return SearchSummary(
    searched=len(todo),
    skipped=len(problems) - len(todo) - len(missing),
    missing_answer=missing,
    solved=counts[extract.EASY] + counts[extract.MEDIUM],
    difficulty=dict(counts),
    wall_s=time.perf_counter() - start,
    stats=stats.to_dict(),
  )
