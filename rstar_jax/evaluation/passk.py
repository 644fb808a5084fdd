"""The unbiased pass@k estimator (Chen et al. 2021, "Evaluating Large Language Models Trained on
Code"): from n samples of which c are right, the chance that k drawn without replacement hold at
least one right one, 1 - C(n-c, k) / C(n, k), averaged over problems."""

from collections.abc import Sequence
import math


def pass_at_k(n: int, c: int, k: int) -> float:
  """One problem's estimate; exact (a ratio of binomials as a running product, no overflow)."""
  if not 0 <= c <= n or not 1 <= k <= n:
    raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
  if n - c < k:
    return 1.0
  return 1.0 - math.prod((n - c - i) / (n - i) for i in range(k))


def ks_for(n: int) -> tuple[int, ...]:
  """The k reported for n samples: 1, 2, 5, 10, 20, 50, 100, … up to n, and n itself."""
  ks = [k for k in (1, 2, 5, 10, 20, 50, 100) if k < n]
  return (*ks, n) if n >= 1 else ()


def mean_pass_at_k(correct_counts: Sequence[int], n: int) -> dict[str, float]:
  """pass@k over problems for every k of `ks_for(n)`, keyed 'pass@k'."""
  if not correct_counts:
    return {}
  return {
    f"pass@{k}": sum(pass_at_k(n, c, k) for c in correct_counts) / len(correct_counts)
    for k in ks_for(n)
  }
