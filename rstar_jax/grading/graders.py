"""Graders by name, so that an evaluation can choose how it judges answers."""

from __future__ import annotations

from collections.abc import Callable

from rstar_jax.grading.equivalence import is_equivalent
from rstar_jax.grading.lenient import is_equivalent_lenient

Grader = Callable[[str | None, str | None], bool]
_GRADERS: dict[str, Grader] = {"strict": is_equivalent, "lenient": is_equivalent_lenient}
NAMES = tuple(_GRADERS)


def grader(name: str = "strict") -> Grader:
  """`(prediction, gold) -> bool`: 'strict' (the default, and the search reward) or 'lenient'
  (as the official rStar `math_equal`, for comparison with reported accuracies)."""
  if name not in _GRADERS:
    raise ValueError(f"unknown grader {name!r}; choose one of {', '.join(NAMES)}")
  return _GRADERS[name]
