"""The trees a round shows as viewer pages, picked while its trees stream past extraction."""

from collections.abc import Iterable, Iterator

from rstar_jax.search import extract
from rstar_jax.search import tree as tree_lib


class Showcase:
  """Keeps the first `n` trees with both right and wrong answers and the first `n` others of a
  stream as it passes, enough to choose the pages from without holding a round's trees."""

  def __init__(self, n: int):
    self.n = n
    self._medium: list[tree_lib.Tree] = []
    self._other: list[tree_lib.Tree] = []

  def watch(self, trees: Iterable[tree_lib.Tree]) -> Iterator[tree_lib.Tree]:
    """`trees`, passed through unchanged."""
    for tree in trees:
      kept = self._medium if extract.difficulty(tree) == extract.MEDIUM else self._other
      if len(kept) < self.n:
        kept.append(tree)
      yield tree

  @property
  def trees(self) -> list[tree_lib.Tree]:
    """The kept trees in stream order, those with both right and wrong answers first."""
    return self._medium + self._other
