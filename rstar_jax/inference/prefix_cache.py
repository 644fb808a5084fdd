"""One model's radix prefix cache: the page pool on the device and its radix index on the host.

The engine and the scorer reserve pages for a group of token sequences: each reuses the longest
cached whole-page prefix of its own tokens (keys are token ids, never text, so a text prefix that
tokenises differently is simply a shorter match) and gets fresh pages for the rest. After the
prefill the new whole pages join the index (`keep`), and the engine adds its decoded candidates
(`commit`), so the next depth finds them. Pages a running call uses are pinned; the index evicts
unpinned leaves least-recently-used, so memory is the pool whatever the search does.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
import dataclasses
import logging

import jax
from jax.sharding import Mesh
import numpy as np

from rstar_jax.inference import paged
from rstar_jax.inference.batching import Batcher
from rstar_jax.inference.buckets import length_bucket
from rstar_jax.inference.config import EngineStats
from rstar_jax.inference.kv_cache import KV
from rstar_jax.inference.kv_cache import Prefix
from rstar_jax.inference.radix import RadixCache
from rstar_jax.models.config import ModelConfig


def new_cache(
  config: ModelConfig, num_pages: int, page_size: int, max_seq_len: int, mesh: Mesh | None
) -> PrefixCache | None:
  """The cache a config asks for (`num_pages` 0: none). A longrope model (Phi-3 128k) gets none,
  with a warning: its rope switches factors with the sequence's length, so cached keys would not
  equal recomputed ones, and the cache must never change results."""
  if not num_pages:
    return None
  if config.rope.kind == "longrope":
    logging.warning(
      "prefix cache off for this longrope model: cached keys would differ from recomputed ones"
    )
    return None
  return PrefixCache(config, num_pages, page_size, max_seq_len, mesh)


@dataclasses.dataclass
class Reservation:
  """A group's sequences, where their new tokens start, their page tables, and what they hold:
  the pinned index nodes of their cached prefixes and the pages they own until `release`."""

  ids: list[list[int]]
  starts: list[int]
  tables: list[list[int]]
  pinned: list
  owned: list[int]


class PrefixCache:
  """The pool (`pool`, replaced by every program that writes it) and its index."""

  def __init__(
    self, config: ModelConfig, num_pages: int, page_size: int, max_seq_len: int, mesh: Mesh | None
  ):
    per_sequence = -(-max_seq_len // page_size)
    if num_pages - 1 < per_sequence:
      raise ValueError(
        f"cache_pages={num_pages} cannot hold one sequence of max_seq_len={max_seq_len} "
        f"({per_sequence} pages of {page_size} tokens, plus the scratch page); use at least "
        f"{per_sequence + 1}"
      )
    self.page_size = page_size
    self.index = RadixCache(num_pages, page_size)
    self.pool = paged.new_pool(config, num_pages, page_size, mesh)
    self._commit = jax.jit(paged.commit, donate_argnums=0)

  def cached_length(self, ids: Sequence[int]) -> int:
    """Tokens of `ids` a reservation would reuse (never the last: its output is what is asked)."""
    return self.index.match(ids[:-1]).length

  def reserve(self, ids: list[list[int]]) -> Reservation | None:
    """Pins each sequence's cached prefix and allocates pages for the rest; None (and nothing
    held) when the pool cannot hold the whole group at once."""
    ps = self.page_size
    res = Reservation(ids, [], [], [], [])
    for seq in ids:
      match = self.index.match(seq[:-1])
      self.index.pin(match.node)
      res.pinned.append(match.node)
      fresh = self.index.allocate(-(-len(seq) // ps) - len(match.pages))
      if fresh is None:
        self.release(res)
        return None
      res.owned.extend(fresh)
      res.starts.append(match.length)
      res.tables.append([*match.pages, *fresh])
    return res

  def arrays(
    self, res: Reservation, batcher: Batcher, min_length_bucket: int, stats: EngineStats
  ) -> tuple[np.ndarray, ...]:
    """The paged prefill's inputs, bucketed by `batcher`: tokens [rows, new] (each sequence's
    uncached tokens), starts, new counts and page tables [rows, pages] (padding rows run one
    token into the scratch page). Counts the tokens computed and reused in `stats`."""
    news = [len(seq) - start for seq, start in zip(res.ids, res.starts)]
    # New tokens are mostly a step or an output block: buckets start at a page, not at the
    # batcher's prompt-length minimum.
    rows, new_len = batcher.shape(news)[0], length_bucket(max(news), self.page_size)
    min_pages = max(1, min_length_bucket // self.page_size)
    pages = length_bucket(max(len(t) for t in res.tables), min_pages)
    tokens = np.full((rows, new_len), batcher.pad_id, np.int32)
    starts = np.zeros((rows,), np.int32)
    counts = np.ones((rows,), np.int32)
    tables = np.full((rows, pages), paged.SCRATCH_PAGE, np.int32)
    for i, (seq, start, table) in enumerate(zip(res.ids, res.starts, res.tables)):
      tokens[i, : len(seq) - start] = seq[start:]
      starts[i], counts[i] = start, len(seq) - start
      tables[i, : len(table)] = table
    stats.prefill_tokens += sum(news)
    stats.cached_tokens += sum(res.starts)
    stats.cache_hits += sum(1 for start in res.starts if start)
    return tokens, starts, counts, tables

  def keep(self, res: Reservation) -> None:
    """Adds every whole page the prefill just wrote to the index."""
    ps = self.page_size
    for seq, table in zip(res.ids, res.tables):
      whole = len(seq) // ps
      _, unused = self.index.insert(seq[: whole * ps], table[:whole])
      self._adopted(res, table[:whole], unused)

  def _adopted(self, res: Reservation, given: Sequence[int], unused: Sequence[int]) -> None:
    """Pages the index took over are no longer the reservation's to free."""
    taken = set(given) - set(unused)
    res.owned = [p for p in res.owned if p not in taken]

  def release(self, res: Reservation) -> None:
    for node in res.pinned:
      self.index.unpin(node)
    self.index.free(res.owned)
    res.pinned, res.owned = [], []

  def commit(
    self, prefix: Prefix, suffix: tuple[KV, ...], n: int, sequences: dict[int, list[int]]
  ) -> None:
    """Adds decoded rows to the index: `sequences[r]` is row r's prompt plus the generated tokens
    whose KV the decoder wrote (rows are prompt-major, n per prompt). Only whole pages are kept;
    a row the pool has no room for is skipped."""
    ps = self.page_size
    # One commit program per decode program: a row adds at most its prompt's partial last page
    # and the pages of its suffix slots (a row whose prompt pages were evicted meanwhile needs
    # more, and is skipped).
    rows, steps = prefix.lengths_p.shape[0] * n, suffix[0].k.shape[3]
    width = -(-(ps - 1 + steps) // ps)
    res = Reservation([], [], [], [], [])
    plans = []  # (row, tokens, first new page, page table)
    seen = set()
    for row, seq in sequences.items():
      whole = len(seq) // ps
      key = tuple(seq[: whole * ps])
      if whole == 0 or key in seen:
        continue
      seen.add(key)
      match = self.index.match(key)
      if not 0 < whole - len(match.pages) <= width:
        continue
      self.index.pin(match.node)
      res.pinned.append(match.node)
      fresh = self.index.allocate(whole - len(match.pages))
      if fresh is None:
        continue
      res.owned.extend(fresh)
      plans.append((row, key, len(match.pages), [*match.pages, *fresh]))
    if plans:
      base = np.zeros((rows,), np.int32)
      dest = np.full((rows, width), paged.SCRATCH_PAGE, np.int32)
      for row, _, first, table in plans:
        base[row] = first
        dest[row, : len(table) - first] = table[first:]
      self.pool = self._commit(self.pool, prefix, suffix, base, dest)
      for _, key, _, table in plans:
        _, unused = self.index.insert(key, table)
        self._adopted(res, table, unused)
    self.release(res)

  def record(self, stats: EngineStats) -> None:
    stats.evicted_pages = self.index.evicted_pages
    stats.pool_pages = self.index.num_pages
    stats.pool_pages_used = self.index.cached_pages


def reserved(
  cache: PrefixCache | None, indices: list[int], ids: Sequence[list[int]]
) -> Iterator[tuple[list[int], Reservation | None]]:
  """The sequences `indices` as one group with its reservation, or in halves when the pool cannot
  hold the group's pages at once; each reservation is released once its group has run. Without
  a cache, the group as it is."""
  if cache is None:
    yield indices, None
    return
  reservation = cache.reserve([ids[i] for i in indices])
  if reservation is None:
    if len(indices) == 1:
      raise RuntimeError(
        "the prefix cache's pool cannot hold one sequence: its pages are pinned by another call"
      )
    half = len(indices) // 2
    for part in (indices[:half], indices[half:]):
      yield from reserved(cache, part, ids)
    return
  try:
    yield indices, reservation
  finally:
    cache.release(reservation)
