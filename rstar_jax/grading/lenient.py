"""Lenient grading as the official rStar `math_equal` judges, for accuracies comparable with the
paper's: either argument order, a number also equal to its gold times or divided by 100 (percent
leniency), and numbers equal within a relative tolerance of 1e-4 (so `3.1416` is `\\pi`).

Every notation rule of the strict grader applies as well; only the judgement of numbers differs.
"""

from __future__ import annotations

import functools

from rstar_jax.grading import equivalence
from rstar_jax.grading import symbolic

RULES = equivalence.Rules(rel_tol=1e-4, any_percent=True)  # math_equal: isclose(rel_tol=1e-4)


@functools.lru_cache(maxsize=65536)
def is_equivalent_lenient(pred: str | None, gold: str | None) -> bool:
  """Whether `pred` and `gold` are equal under the lenient rules, tried both ways round (both
  within one time bound)."""
  with symbolic.deadline(equivalence.TIME_BOUND_S):
    return equivalence.equal(pred, gold, RULES) or equivalence.equal(gold, pred, RULES)
