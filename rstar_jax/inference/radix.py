"""Host-side index of a paged KV prefix cache: a radix tree over token ids at page granularity.

Each tree node is one full page of `page_size` tokens and owns one device page id. Sequences that
share a prefix share its pages. Nodes are pinned by reference counts while a request reads them;
unpinned leaves are evicted least recently used first when `allocate` runs out of free pages.
Nothing here touches JAX: the engine copies keys/values into the page ids this module hands out.

Every non-reserved page is in exactly one place: the free list, the tree, or the caller's hands
(between `allocate` and `insert`/`free`). Recency is a counter, not wall time, so runs replay.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Sequence
import dataclasses
import heapq


class Node:
  """One page of tokens in the tree; the root holds no page."""

  __slots__ = ("children", "key", "last_use", "page", "parent", "refcount", "subtree_pins")

  def __init__(self, key: tuple[int, ...], page: int, parent: Node | None):
    self.key = key
    self.page = page
    self.parent = parent
    self.children: dict[tuple[int, ...], Node] = {}
    self.refcount = 0
    # Pins on this node and its descendants: while nonzero, this node cannot be evicted.
    self.subtree_pins = 0
    self.last_use = 0


@dataclasses.dataclass(frozen=True)
class Match:
  """The longest cached prefix of a sequence, in whole pages."""

  node: Node  # Deepest matched node (the root when nothing matched); pass to pin/unpin.
  pages: tuple[int, ...]  # Page ids holding tokens[:length], in order.
  length: int  # Tokens matched: len(pages) * page_size.


class RadixCache:
  """Radix tree of cached pages, their pins, LRU eviction of unpinned leaves, and the free list.

  Pages are handed out first in, first out from the free list, so equal call sequences give equal
  page ids.
  """

  def __init__(self, num_pages: int, page_size: int, *, reserved: int = 1):
    """Pages 0..reserved-1 are never handed out: page 0 is the device-side scratch page that
    padding writes go to."""
    if page_size < 1:
      raise ValueError(f"page_size must be at least 1, got {page_size}")
    if reserved < 0:
      raise ValueError(f"reserved must be non-negative, got {reserved}")
    if num_pages <= reserved:
      raise ValueError(f"num_pages ({num_pages}) must exceed reserved ({reserved})")
    self.num_pages = num_pages
    self.page_size = page_size
    self.reserved = reserved
    self.capacity = num_pages - reserved
    self.evicted_pages = 0
    self._clock = 0
    self._pushes = 0  # Heap tiebreak, so entries never compare nodes.
    # Stale heap entries are dropped past this size, which keeps memory O(num_pages).
    self._heap_limit = 2 * self.capacity + 8
    self._reset()

  def _reset(self) -> None:
    self._root = Node((), -1, None)
    self._nodes: dict[int, Node] = {}  # Tree-owned page -> its node.
    self._free = collections.deque(range(self.reserved, self.num_pages))
    self._owned: set[int] = set()  # Pages handed out by `allocate`, not yet inserted or freed.
    self._heap: list[tuple[int, int, Node]] = []  # (last_use, push number, node), lazily pruned.
    self._protected = 0  # Tree nodes with a pin on or below them: never evictable.
    self.pinned_nodes = 0

  @property
  def cached_pages(self) -> int:
    return len(self._nodes)

  @property
  def free_pages(self) -> int:
    return len(self._free)

  def match(self, tokens: Sequence[int]) -> Match:
    """Longest cached prefix of `tokens` in whole pages (a partial last page never matches).
    Marks the path as just used; does not pin."""
    node = self._root
    pages = []
    for key in self._page_keys(tokens, len(tokens) // self.page_size):
      child = node.children.get(key)
      if child is None:
        break
      node = child
      pages.append(node.page)
    self._touch(node)
    return Match(node, tuple(pages), len(pages) * self.page_size)

  def pin(self, node: Node) -> None:
    """Keeps `node` and its ancestors out of eviction until a matching `unpin`."""
    self._require_live(node)
    node.refcount += 1
    if node.refcount == 1:
      self.pinned_nodes += 1
    self._add_subtree_pins(node, 1)

  def unpin(self, node: Node) -> None:
    self._require_live(node)
    if node.refcount == 0:
      raise ValueError("unpin of a node that is not pinned")
    node.refcount -= 1
    if node.refcount == 0:
      self.pinned_nodes -= 1
    self._add_subtree_pins(node, -1)
    self._push_if_evictable(node)

  def allocate(self, count: int) -> list[int] | None:
    """`count` page ids now owned by the caller, evicting LRU unpinned leaves as needed.

    Returns None, and evicts nothing, when even evicting everything evictable would not suffice.
    """
    if count < 0:
      raise ValueError(f"count must be non-negative, got {count}")
    evictable = len(self._nodes) - self._protected
    if len(self._free) + evictable < count:
      return None
    while len(self._free) < count:
      self._evict_one()
    pages = [self._free.popleft() for _ in range(count)]
    self._owned.update(pages)
    return pages

  def free(self, pages: Iterable[int]) -> None:
    """Returns caller-owned pages to the free list; all or none."""
    pages = list(pages)
    if len(set(pages)) != len(pages):
      raise ValueError(f"duplicate pages in {pages}")
    for page in pages:
      self._require_owned(page)
    self._owned.difference_update(pages)
    self._free.extend(pages)

  def insert(self, tokens: Sequence[int], pages: Sequence[int]) -> tuple[Node, list[int]]:
    """Adds `tokens`, whose page i holds tokens[i*page_size:(i+1)*page_size].

    Where the tree already has a node for a page, the given page id (unless it is that node's) is
    redundant and returned as unused: the caller must `free` it. The other pages become tree-owned.
    Returns (deepest node, unused pages) and marks the path as just used.
    """
    pages = list(pages)
    if len(tokens) != len(pages) * self.page_size:
      raise ValueError(
        f"{len(tokens)} tokens do not fill {len(pages)} pages of {self.page_size} tokens"
      )
    if len(set(pages)) != len(pages):
      raise ValueError(f"duplicate pages in {pages}")
    keys = self._page_keys(tokens, len(pages))
    # Validate everything before changing anything, so a bad call leaves the cache as it was.
    node = self._root
    existing = []
    for key in keys:
      child = node.children.get(key)
      if child is None:
        break
      existing.append(child)
      node = child
    for i, page in enumerate(pages):
      if i >= len(existing) or page != existing[i].page:
        self._require_owned(page)
    unused = [page for held, page in zip(existing, pages) if page != held.page]
    for key, page in zip(keys[len(existing) :], pages[len(existing) :]):
      child = Node(key, page, node)
      node.children[key] = child
      self._nodes[page] = child
      self._owned.remove(page)
      node = child
    self._touch(node)
    return node, unused

  def clear(self) -> None:
    """Drops the whole tree and resets the free list; only when nothing is pinned or handed out."""
    if self.pinned_nodes or self._owned:
      raise RuntimeError(
        f"clear with {self.pinned_nodes} pinned nodes and {len(self._owned)} caller-owned pages"
      )
    self._reset()

  def check_invariants(self) -> None:
    """Asserts the bookkeeping is consistent; for tests, O(num_pages)."""
    free = set(self._free)
    assert len(free) == len(self._free), "a page is on the free list twice"
    tree = set()
    stack = [self._root]
    pinned = 0
    while stack:
      node = stack.pop()
      assert node.refcount >= 0, f"negative refcount on page {node.page}"
      pinned += node.refcount > 0
      pins = node.refcount + sum(child.subtree_pins for child in node.children.values())
      assert node.subtree_pins == pins, f"subtree pins of page {node.page} drifted"
      for key, child in node.children.items():
        assert child.parent is node and child.key == key, f"page {child.page} misplaced"
        assert len(key) == self.page_size, f"page {child.page} has a key of {len(key)} tokens"
        assert self._nodes.get(child.page) is child, f"page {child.page} not indexed"
        tree.add(child.page)
        stack.append(child)
    assert len(tree) == len(self._nodes), "the page index holds nodes outside the tree"
    assert pinned == self.pinned_nodes, "pinned_nodes drifted"
    assert self._protected == sum(node.subtree_pins > 0 for node in self._nodes.values())
    assert not (free & tree or free & self._owned or tree & self._owned), "a page is in two places"
    assert free | tree | self._owned == set(range(self.reserved, self.num_pages)), "pages leaked"
    assert len(tree) <= self.capacity
    assert len(self._heap) <= self._heap_limit, "the eviction heap outgrew its bound"
    queued = {(id(node), last_use) for last_use, _, node in self._heap}
    for node in self._nodes.values():
      if self._evictable(node):
        assert (id(node), node.last_use) in queued, f"evictable page {node.page} not queued"

  def _page_keys(self, tokens: Sequence[int], count: int) -> list[tuple[int, ...]]:
    size = self.page_size
    return [tuple(map(int, tokens[i * size : (i + 1) * size])) for i in range(count)]

  def _touch(self, deepest: Node) -> None:
    """Marks the path to `deepest` as just used: only its end can be an evictable leaf."""
    self._clock += 1
    node = deepest
    while node is not None:
      node.last_use = self._clock
      node = node.parent
    self._push_if_evictable(deepest)

  def _evictable(self, node: Node) -> bool:
    return node is not self._root and not node.children and node.refcount == 0

  def _push_if_evictable(self, node: Node) -> None:
    if not self._evictable(node):
      return
    self._pushes += 1
    heapq.heappush(self._heap, (node.last_use, self._pushes, node))
    if len(self._heap) > self._heap_limit:
      self._rebuild_heap()

  def _rebuild_heap(self) -> None:
    """Drops stale entries, so the heap stays within a constant factor of the page count."""
    live = [node for node in self._nodes.values() if self._evictable(node)]
    live.sort(key=lambda node: node.last_use)
    self._heap = []
    for node in live:
      self._pushes += 1
      self._heap.append((node.last_use, self._pushes, node))

  def _evict_one(self) -> None:
    while True:
      last_use, _, node = heapq.heappop(self._heap)
      live = self._nodes.get(node.page) is node
      if live and self._evictable(node) and node.last_use == last_use:
        break
    parent = node.parent
    del parent.children[node.key]
    del self._nodes[node.page]
    node.parent = None
    self._free.append(node.page)
    self.evicted_pages += 1
    self._push_if_evictable(parent)

  def _add_subtree_pins(self, node: Node, delta: int) -> None:
    while node is not None:
      was_protected = node.subtree_pins > 0
      node.subtree_pins += delta
      if node is not self._root:
        self._protected += (node.subtree_pins > 0) - was_protected
      node = node.parent

  def _require_live(self, node: Node) -> None:
    if node is not self._root and self._nodes.get(node.page) is not node:
      raise ValueError(f"node of page {node.page} is not in this cache (evicted or cleared?)")

  def _require_owned(self, page: int) -> None:
    if page in self._owned:
      return
    if 0 <= page < self.reserved:
      raise ValueError(f"page {page} is reserved")
    if not self.reserved <= page < self.num_pages:
      raise ValueError(f"page {page} is out of range [{self.reserved}, {self.num_pages})")
    if page in self._nodes:
      raise ValueError(f"page {page} is owned by the tree")
    raise ValueError(f"page {page} is free, not owned by the caller")
