"""Confidence intervals for accuracies: a number without its sample size and interval claims
more than it knows."""

import math

Z_95 = 1.959964  # The two-sided 95% normal quantile.


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
  """The Wilson score interval of a binomial proportion (good at small n and near 0 or 1,
  where the normal interval is not)."""
  if n <= 0 or not 0 <= successes <= n:
    raise ValueError(f"an interval needs 0 <= successes <= n and n > 0, got {successes}, {n}")
  p = successes / n
  centre = (p + z * z / (2 * n)) / (1 + z * z / n)
  half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
  return max(0.0, centre - half), min(1.0, centre + half)
