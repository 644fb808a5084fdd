"""The PPM's pairwise accuracy on held-out problems, from the trees of its own MCTS evaluation.

A training split of the preference pairs says how well the PPM fits the trees it learnt from;
the paper's claim is that it ranks steps of new problems. The held-out MCTS+PPM trees hold the
PPM's score of every step and, graded against the gold answer, the outcome of every completed
path, so sibling steps whose completions are all right (positive) or all wrong (negative) form
held-out pairs with no further model call. The PPM ranks a pair right when it scores the
positive strictly higher.
"""

from collections.abc import Iterable

from rstar_jax.search import extract
from rstar_jax.search import tree as tree_lib


def sibling_pairs(tree: tree_lib.Tree) -> list[tuple[tree_lib.Node, tree_lib.Node]]:
  """(positive, negative) sibling pairs: every answer below the positive is right, every one
  below the negative wrong, and both were scored."""
  below = extract.outcomes_below(tree)
  pairs = []
  for node in tree.nodes:
    kids = [c for c in tree.children(node) if c.ppm is not None]
    good = [c for c in kids if below[c.index] == (True, False)]
    bad = [c for c in kids if below[c.index] == (False, True)]
    pairs += [(g, b) for g in good for b in bad]
  return pairs


def pair_accuracy(trees: Iterable[tree_lib.Tree]) -> dict[str, int | float | None]:
  """Counts of held-out pairs the PPM ranks right, over all `trees`."""
  per_tree = [(t.problem_id, sibling_pairs(t)) for t in trees]
  pairs = [p for _, tree_pairs in per_tree for p in tree_pairs]
  correct = sum(g.ppm > b.ppm for g, b in pairs)
  return {
    "correct": correct,
    "total": len(pairs),
    "problems": len({pid for pid, tree_pairs in per_tree if tree_pairs}),
    "accuracy": correct / len(pairs) if pairs else None,
  }
