"""The unbiased pass@k estimator and the Wilson interval against direct computation."""

import itertools
import math

import pytest

from rstar_jax.evaluation import passk
from rstar_jax.evaluation import report
from rstar_jax.evaluation import stats


@pytest.mark.parametrize(
  "n,c,k", [(5, 0, 1), (5, 2, 1), (5, 2, 2), (6, 3, 4), (4, 4, 2), (7, 1, 7)]
)
def test_pass_at_k_is_the_chance_a_k_subset_holds_a_right_sample(n, c, k):
  samples = [True] * c + [False] * (n - c)
  subsets = list(itertools.combinations(range(n), k))
  expected = sum(any(samples[i] for i in s) for s in subsets) / len(subsets)
  assert passk.pass_at_k(n, c, k) == pytest.approx(expected)


def test_pass_at_k_refuses_impossible_counts_and_averages_problems():
  with pytest.raises(ValueError, match="c <= n"):
    passk.pass_at_k(3, 4, 1)
  with pytest.raises(ValueError, match="k <= n"):
    passk.pass_at_k(3, 1, 4)
  assert passk.ks_for(8) == (1, 2, 5, 8)
  assert passk.mean_pass_at_k([0, 4], 4) == {"pass@1": 0.5, "pass@2": 0.5, "pass@4": 0.5}
  assert passk.mean_pass_at_k([1], 2)["pass@1"] == 0.5
  assert passk.mean_pass_at_k([], 4) == {}


def test_wilson_interval_matches_the_formula_and_stays_in_bounds():
  lo, hi = stats.wilson_interval(20, 40)
  z = stats.Z_95
  half = z * math.sqrt(0.25 / 40 + z * z / (4 * 40 * 40)) / (1 + z * z / 40)
  assert (lo, hi) == pytest.approx((0.5 - half, 0.5 + half))
  assert stats.wilson_interval(0, 4)[0] == 0.0 and 0.45 < stats.wilson_interval(0, 4)[1] < 0.5
  assert stats.wilson_interval(4, 4)[1] == pytest.approx(1.0)
  with pytest.raises(ValueError):
    stats.wilson_interval(5, 4)


def test_run_report_adds_the_intervals_of_each_round():
  results = {
    0: {
      "prepare": {
        "bootstrap_heldout_greedy_accuracy": 0.25,
        "stages": {"evaluate": {"problems": 8}},
      }
    },
    1: {"evaluate": {"accuracy": {"greedy": 0.5, "maj@4": 0.75}, "num_problems": 40}},
  }
  rows = report.interval_rows(results)
  lo, hi = stats.wilson_interval(20, 40)
  assert rows[1] == {
    "round": 1,
    "n": "40",
    "greedy": f"{100 * lo:.0f}–{100 * hi:.0f}%",
    "maj@4": "{:.0f}–{:.0f}%".format(*(100 * v for v in stats.wilson_interval(30, 40))),
  }
  assert rows[0]["n"] == "8" and rows[0]["round"] == 0
  assert report.format_table(rows).splitlines()[0] == "| round | n | greedy | maj@4 |"
