"""Paged prefix-cache index: matching in whole pages, pinning, LRU eviction, page ownership."""

import random

import pytest

from rstar_jax.inference.radix import RadixCache


def _cached(cache, tokens, page_size=2):
  """Inserts `tokens` in freshly allocated pages; returns those pages."""
  pages = cache.allocate(len(tokens) // page_size)
  _, unused = cache.insert(tokens, pages)
  assert unused == []
  return pages


@pytest.mark.parametrize(
  "num_pages, page_size, reserved", [(8, 0, 1), (8, 2, -1), (1, 2, 1), (3, 2, 3)]
)
def test_rejects_bad_sizes(num_pages, page_size, reserved):
  with pytest.raises(ValueError):
    RadixCache(num_pages, page_size, reserved=reserved)


def test_sizes():
  cache = RadixCache(10, 4, reserved=2)
  assert (cache.num_pages, cache.page_size, cache.capacity) == (10, 4, 8)
  assert (cache.cached_pages, cache.free_pages) == (0, 8)
  assert (cache.evicted_pages, cache.pinned_nodes) == (0, 0)
  assert cache.allocate(8) == [2, 3, 4, 5, 6, 7, 8, 9]  # Reserved pages are never handed out.


def test_match_on_empty_tree():
  cache = RadixCache(8, 2)
  match = cache.match([1, 2, 3, 4])
  assert (match.pages, match.length) == ((), 0)
  cache.pin(match.node)  # The root stands in for "nothing matched" and pins harmlessly.
  assert cache.pinned_nodes == 1
  cache.unpin(match.node)
  cache.check_invariants()


def test_match_full_partial_and_diverging():
  cache = RadixCache(8, 2)
  assert _cached(cache, [1, 2, 3, 4, 5, 6]) == [1, 2, 3]
  assert (cache.cached_pages, cache.free_pages) == (3, 4)
  cases = [
    ([1, 2, 3, 4, 5, 6], (1, 2, 3)),
    ([1, 2, 3, 4, 5, 6, 7, 8], (1, 2, 3)),  # Longer than anything cached.
    ([1, 2, 3, 4, 5], (1, 2)),  # A partial last page never matches.
    ([1, 2, 3, 9, 5, 6], (1,)),  # Diverging inside the second page keeps only the first.
    ([1, 9, 3, 4], ()),
    ([1], ()),
    ([], ()),
  ]
  for tokens, pages in cases:
    match = cache.match(tokens)
    assert (match.pages, match.length) == (pages, 2 * len(pages)), tokens
  cache.check_invariants()


def test_insert_of_cached_path_returns_redundant_pages():
  cache = RadixCache(8, 2)
  first = _cached(cache, [1, 2, 3, 4])
  assert first == [1, 2]
  pages = cache.allocate(3)
  assert pages == [3, 4, 5]
  node, unused = cache.insert([1, 2, 3, 4, 5, 6], pages)
  assert unused == [3, 4]  # Still the caller's: it must free them.
  assert node.page == 5
  assert cache.match([1, 2, 3, 4, 5, 6]).pages == (1, 2, 5)
  cache.check_invariants()
  cache.free(unused)
  # Passing back the tree's own pages (from a match) is not redundant.
  again, unused = cache.insert([1, 2, 3, 4, 5, 6], [1, 2, 5])
  assert (again, unused) == (node, [])
  assert (cache.cached_pages, cache.free_pages) == (3, 4)
  cache.check_invariants()


def test_eviction_is_least_recently_used_and_match_refreshes():
  cache = RadixCache(5, 2)  # Four usable pages.
  assert [_cached(cache, [t, t]) for t in (1, 2, 3)] == [[1], [2], [3]]
  cache.match([1, 1])  # Now [2, 2] is the least recently used.
  assert cache.allocate(2) == [4, 2]  # The free page first, then the evicted one.
  assert cache.evicted_pages == 1
  assert cache.match([2, 2]).length == 0
  assert cache.match([3, 3]).length == 2  # Now [1, 1] is the least recently used.
  assert cache.allocate(1) == [1]
  assert cache.match([1, 1]).length == 0
  cache.check_invariants()


def test_parent_becomes_evictable_in_order_of_its_own_last_use():
  cache = RadixCache(5, 2)
  assert _cached(cache, [1, 1, 2, 2]) == [1, 2]
  assert _cached(cache, [7, 7]) == [3]
  cache.match([1, 1])  # Refreshes the parent only: its child is now the oldest leaf.
  assert cache.allocate(2) == [4, 2]
  assert cache.match([1, 1, 2, 2]).pages == (1,)  # Refreshes the parent again.
  assert cache.allocate(1) == [3]  # [7, 7] is older than the parent, now a leaf.
  assert cache.allocate(1) == [1]
  assert cache.cached_pages == 0
  assert cache.allocate(1) is None
  cache.check_invariants()


def test_pinned_node_and_its_ancestors_are_never_evicted():
  cache = RadixCache(5, 2)
  _cached(cache, [1, 1, 2, 2, 3, 3])
  middle = cache.match([1, 1, 2, 2]).node
  cache.pin(middle)
  _cached(cache, [9, 9])
  assert (cache.free_pages, cache.pinned_nodes) == (0, 1)
  assert cache.allocate(2) == [3, 4]  # The unpinned leaves: pinned page 2 and its parent stay.
  assert cache.match([1, 1, 2, 2, 3, 3]).pages == (1, 2)
  assert cache.allocate(1) is None  # Page 2 is now a leaf, but pinned.
  cache.unpin(middle)
  assert cache.allocate(1) == [2]
  assert cache.allocate(1) == [1]
  assert cache.evicted_pages == 4
  cache.check_invariants()


def test_allocate_fails_without_evicting_when_too_little_is_evictable():
  cache = RadixCache(5, 2)
  _cached(cache, [1, 1, 2, 2])
  _cached(cache, [5, 5])
  cache.pin(cache.match([1, 1, 2, 2]).node)
  # One free page and one evictable page ([5, 5]): two can be supplied, three cannot.
  assert cache.allocate(3) is None
  assert (cache.evicted_pages, cache.cached_pages, cache.free_pages) == (0, 3, 1)
  assert cache.match([5, 5]).length == 2
  assert cache.allocate(2) == [4, 3]
  assert cache.evicted_pages == 1
  cache.check_invariants()


def test_pin_and_unpin_errors():
  cache = RadixCache(5, 2)
  _cached(cache, [1, 1])
  node = cache.match([1, 1]).node
  with pytest.raises(ValueError, match="not pinned"):
    cache.unpin(node)
  cache.allocate(4)  # Evicts the node.
  with pytest.raises(ValueError, match="not in this cache"):
    cache.pin(node)
  cache.check_invariants()


def test_free_and_insert_errors_leave_the_cache_unchanged():
  cache = RadixCache(6, 2)
  tree_pages = _cached(cache, [1, 1, 2, 2])
  mine = cache.allocate(2)
  assert (tree_pages, mine) == ([1, 2], [3, 4])
  with pytest.raises(ValueError, match="do not fill"):
    cache.insert([1, 1, 2], mine)
  with pytest.raises(ValueError, match="owned by the tree"):
    cache.free([mine[0], tree_pages[0]])
  with pytest.raises(ValueError, match="reserved"):
    cache.free([0])
  with pytest.raises(ValueError, match="free"):
    cache.free([5])
  with pytest.raises(ValueError, match="out of range"):
    cache.free([6])
  with pytest.raises(ValueError, match="duplicate"):
    cache.free([3, 3])
  # A tree page where the tree holds a different one, and a free page, are not the caller's.
  with pytest.raises(ValueError, match="owned by the tree"):
    cache.insert([1, 1, 3, 3], [1, 2])
  with pytest.raises(ValueError, match="free"):
    cache.insert([8, 8, 9, 9], [3, 5])
  cache.check_invariants()
  assert (cache.cached_pages, cache.free_pages) == (2, 1)
  assert cache.match([8, 8]).length == 0
  cache.free(mine)
  with pytest.raises(ValueError, match="free"):
    cache.free([3])
  assert cache.free_pages == 3
  cache.check_invariants()


def test_clear_requires_nothing_pinned_or_handed_out():
  cache = RadixCache(6, 2)
  _cached(cache, [1, 1, 2, 2])
  node = cache.match([1, 1]).node
  cache.pin(node)
  with pytest.raises(RuntimeError, match="pinned"):
    cache.clear()
  cache.unpin(node)
  pages = cache.allocate(1)
  with pytest.raises(RuntimeError, match="caller-owned"):
    cache.clear()
  cache.free(pages)
  cache.clear()
  assert (cache.cached_pages, cache.free_pages) == (0, 5)
  assert cache.match([1, 1]).length == 0
  assert cache.allocate(5) == [1, 2, 3, 4, 5]
  cache.check_invariants()


def _drive(seed: int, steps: int = 2500):
  """Random requests, raw inserts, allocations, frees, pins and clears on a tiny pool, checking
  the bookkeeping after every step. Returns every page id handed out, and the cache."""
  page_size = 2
  rng = random.Random(seed)
  cache = RadixCache(9, page_size)
  prefix_of = {}  # Tree page -> the whole token prefix that ends with it.
  pins, held, handed_out = [], [], []

  def check_match(tokens):
    match = cache.match(tokens)
    for i, page in enumerate(match.pages):
      assert prefix_of[page] == tuple(tokens[: (i + 1) * page_size])
    return match

  for _ in range(steps):
    op = rng.random()
    tokens = [rng.randrange(2) for _ in range(rng.randrange(10))]
    whole = len(tokens) // page_size
    if op < 0.5:  # A request: pin the cached prefix, allocate the rest, insert, release.
      match = check_match(tokens)
      cache.pin(match.node)
      evicted, free = cache.evicted_pages, cache.free_pages
      new = cache.allocate(whole - len(match.pages))
      if new is None:
        assert cache.evicted_pages == evicted
      else:
        assert cache.evicted_pages - evicted == max(0, len(new) - free)
        handed_out.append(new)
        node, unused = cache.insert(tokens[: whole * page_size], list(match.pages) + new)
        assert unused == []
        for i, page in enumerate(new, start=len(match.pages)):
          prefix_of[page] = tuple(tokens[: (i + 1) * page_size])
        if rng.random() < 0.3:
          cache.pin(node)
          pins.append(node)
      cache.unpin(match.node)
    elif op < 0.65:
      new = cache.allocate(rng.randrange(4))
      if new is not None:
        handed_out.append(new)
        held.extend(new)
    elif op < 0.78 and held:  # Insert caller pages without matching first.
      pages = rng.sample(held, min(whole, len(held)))
      tokens = tokens[: len(pages) * page_size]
      _, unused = cache.insert(tokens, pages)
      for i, page in enumerate(pages):
        if page not in unused:
          prefix_of[page] = tuple(tokens[: (i + 1) * page_size])
      stored = check_match(tokens).pages
      assert len(stored) == len(pages)
      assert [page for page, kept in zip(pages, stored) if page != kept] == unused
      held = [page for page in held if page not in pages or page in unused]
    elif op < 0.9 and held:
      returned = rng.sample(held, rng.randrange(len(held) + 1))
      cache.free(returned)
      held = [page for page in held if page not in returned]
    elif op < 0.98 and pins:
      cache.unpin(pins.pop(rng.randrange(len(pins))))
    else:
      for node in pins:
        cache.unpin(node)
      cache.free(held)
      pins, held = [], []
      cache.clear()
      assert cache.free_pages == cache.capacity
    cache.check_invariants()
    assert cache.cached_pages <= cache.capacity
    assert cache.cached_pages + cache.free_pages + len(held) == cache.capacity
  return handed_out, cache


@pytest.mark.parametrize("seed", [0, 1])
def test_random_operations_keep_invariants(seed):
  _, cache = _drive(seed)
  assert cache.evicted_pages > 100  # The tiny pool really was under pressure.


def test_same_operations_give_same_pages():
  first, _ = _drive(7, steps=1000)
  second, _ = _drive(7, steps=1000)
  assert first == second
  assert len(first) > 100


def test_repeated_touches_keep_the_heap_bounded_and_the_order_right():
  cache = RadixCache(5, 2)
  for t in (1, 2, 3):
    _cached(cache, [t, t])
  for _ in range(40):  # Each touch queues a fresh entry; stale ones must be dropped.
    for t in (3, 1, 2):
      cache.match([t, t])
  cache.check_invariants()
  assert cache.allocate(2) == [4, 3]
  assert cache.allocate(1) == [1]
  assert cache.allocate(1) == [2]
