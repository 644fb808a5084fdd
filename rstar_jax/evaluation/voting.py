"""The one majority vote: answers grouped by the domain (math: equivalence; code: behaviour)."""

from collections.abc import Sequence

from rstar_jax import domains
from rstar_jax.domains import base


def majority(
  answers: Sequence[str | None],
  gold: str,
  domain: domains.Domain,
  pool: base.PoolLike,
  scores: Sequence[float] | None = None,
) -> str | None:
  """The answer of the largest group of `domain.group` (None answers do not vote).

  Ties go to the group with the higher summed score when `scores` are given, then to the group
  seen first; the group's first answer is returned.
  """
  groups = domain.group(answers, gold, pool)
  if not groups:
    return None
  weight = (lambda g: sum(scores[i] for i in g)) if scores is not None else (lambda g: 0.0)
  best = max(groups, key=lambda g: (len(g), weight(g)))
  return answers[best[0]]
