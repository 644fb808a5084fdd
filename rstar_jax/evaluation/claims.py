"""The paper's claims, checked on a run's held-out results with paired intervals.

Each claim compares two methods (or two rounds) on the problems both were measured on, by the
paired bootstrap of `stats.paired_bootstrap`, and gets a verdict:

- 'holds': the interval of the difference lies above zero (and the point estimate reaches the
  claim's minimum gain, where it has one);
- 'does not hold': the interval lies below the minimum gain (below zero for a plain `a > b`);
- 'undecided': anything else; more problems would be needed to tell.

"At least as good as" claims (`a ≥ b`, e.g. no round worse than the one before) do not hold only
when `a` is significantly worse (the interval lies below zero). "No round is significantly worse
than the one before" is one claim made of every round-to-round comparison, and it fails when any
of them does: each of those m comparisons gets a 1 − 0.05/m interval (Bonferroni), so that rounds
that do not differ show a false "worse" anywhere in the family no more often than one 95%
interval would (2.5%; uncorrected, four comparisons would show one in up to one run in ten). A
claim that holds only when all its parts hold (MCTS+PPM ≥ best-of-N > maj@N > greedy) needs no
correction. The claims are those of the
paper: Table 6 (rounds improve the policy), Table 5 (MCTS+PPM ≥ PPM best-of-N > maj@N >
greedy), Table 8 (the PPM beats the ORM and the PQM) and the PPM's step ranking.
"""

from collections.abc import Mapping, Sequence
import dataclasses
import itertools
import re
from typing import Any

import numpy as np

from rstar_jax.evaluation import stats

HOLDS = "holds"
FAILS = "does not hold"
UNDECIDED = "undecided"
GREEDY = "greedy"  # The harness's method names (`harness.GREEDY`, `harness.MCTS_PPM`).
MCTS_PPM = "mcts+ppm"
MIN_SELF_EVOLUTION_GAIN = 0.10  # Issue 18, target 1: the last round beats the bootstrap by 10.
MIN_PAIR_ACCURACY = 0.8  # Target 4: PPM pairwise accuracy on held-out pairs.

Rows = Sequence[Mapping[str, Any]]  # A harness report's `problems` rows.


FAMILY_LEVEL = 0.95  # The chance that no comparison of a family errs.


@dataclasses.dataclass(frozen=True)
class Claim:
  """One claim with its measured difference (or value) and 95% interval (or the level that its
  claim text names, for one comparison of a family)."""

  claim: str
  n: int
  value: float
  lo: float
  hi: float
  verdict: str
  difference: bool = True  # False: `value` is a proportion, not a difference.

  def to_row(self) -> dict[str, str]:
    if self.difference:
      value, interval = f"{100 * self.value:+.1f}", f"{100 * self.lo:+.1f} to {100 * self.hi:+.1f}"
    else:
      value, interval = f"{100 * self.value:.1f}%", f"{100 * self.lo:.1f}–{100 * self.hi:.1f}%"
    return {
      "claim": self.claim,
      "n": str(self.n),
      "difference": value,
      "95% interval": interval,
      "verdict": self.verdict,
    }


def greater(
  claim: str, d: stats.Difference, min_gain: float = 0.0, *, at_least: bool = False
) -> Claim:
  """The verdict on `a > b` (by `min_gain`) or, with `at_least`, on `a ≥ b`."""
  if at_least:
    verdict = FAILS if d.hi < 0 else HOLDS
  elif d.lo > 0 and d.diff >= min_gain:
    verdict = HOLDS
  elif d.hi < min_gain or (min_gain == 0 and d.hi <= 0):
    verdict = FAILS
  else:
    verdict = UNDECIDED
  return Claim(claim, d.n, d.diff, d.lo, d.hi, verdict)


def paired_correct(rows_a: Rows, method_a: str, rows_b: Rows, method_b: str):
  """0/1 correctness of two methods on the problems both answered (matched by id)."""
  b = {r["id"]: r["answers"][method_b]["correct"] for r in rows_b if method_b in r["answers"]}
  pairs = [
    (r["answers"][method_a]["correct"], b[r["id"]])
    for r in rows_a
    if method_a in r["answers"] and r["id"] in b
  ]
  return np.asarray([p[0] for p in pairs], float), np.asarray([p[1] for p in pairs], float)


def compare(
  claim: str,
  rows_a: Rows,
  method_a: str,
  rows_b: Rows,
  method_b: str,
  min_gain: float = 0.0,
  *,
  at_least: bool = False,
  level: float = 0.95,
) -> Claim | None:
  """`greater` on the paired accuracies; None when no problem has both."""
  a, b = paired_correct(rows_a, method_a, rows_b, method_b)
  if not len(a):
    return None
  return greater(claim, stats.mean_difference(a, b, level=level), min_gain, at_least=at_least)


def family_level(comparisons: int) -> float:
  """Each comparison's interval level (Bonferroni) when the family's should be `FAMILY_LEVEL`."""
  return 1 - (1 - FAMILY_LEVEL) / comparisons


def f1_difference(is_error: Sequence[bool], right_a: Sequence[bool], right_b: Sequence[bool]):
  """ProcessBench F1 of scorer a minus scorer b on the same examples, paired bootstrap interval;
  `right_*` says per example whether the scorer's first-error prediction was exact."""
  e_n = np.asarray(is_error, bool)
  a_n, b_n = np.asarray(right_a, bool), np.asarray(right_b, bool)

  def f1_r(right_n: np.ndarray, idx_rn: np.ndarray) -> np.ndarray:
    e_rn, right_rn = e_n[idx_rn], right_n[idx_rn]
    err = (right_rn & e_rn).sum(-1) / np.maximum(e_rn.sum(-1), 1)
    ok = (right_rn & ~e_rn).sum(-1) / np.maximum((~e_rn).sum(-1), 1)
    return np.where(err + ok > 0, 2 * err * ok / np.maximum(err + ok, 1e-12), 0.0)

  return stats.paired_bootstrap(len(e_n), lambda idx: f1_r(a_n, idx) - f1_r(b_n, idx))


def pair_accuracy(claim: str, correct: int, n: int, target: float = MIN_PAIR_ACCURACY) -> Claim:
  """A one-sample claim `accuracy ≥ target` with the Wilson interval: it holds when the point
  estimate reaches the target and the interval lies above chance (0.5)."""
  lo, hi = stats.wilson_interval(correct, n)
  value = correct / n
  verdict = HOLDS if value >= target and lo > 0.5 else FAILS if hi < target else UNDECIDED
  return Claim(claim, n, value, lo, hi, verdict, difference=False)


def _method(rows: Rows, pattern: str) -> str | None:
  names = {m for r in rows for m in r["answers"]}
  return next((m for m in sorted(names) if re.fullmatch(pattern, m)), None)


def paper_claims(
  rows_by_round: Mapping[int, Rows],
  process_by_round: Mapping[int, Mapping[str, Mapping[str, Any]]] | None = None,
  pairs_by_round: Mapping[int, Mapping[str, int]] | None = None,
) -> list[Claim]:
  """Every claim the results can check (round 0: the bootstrap policy, greedy only).

  `process_by_round[k][scorer]` holds the held-out process set's `is_error` and `right` lists;
  `pairs_by_round[k]` the PPM's held-out pair counts (`correct`, `total`).
  """
  out: list[Claim | None] = []
  rounds = sorted(k for k, rows in rows_by_round.items() if _method(rows, GREEDY))
  if len(rounds) >= 2:
    first, last = rounds[0], rounds[-1]
    out.append(
      compare(
        f"greedy: round {last} beats round {first} by ≥ {100 * MIN_SELF_EVOLUTION_GAIN:.0f} points",
        rows_by_round[last],
        GREEDY,
        rows_by_round[first],
        GREEDY,
        MIN_SELF_EVOLUTION_GAIN,
      )
    )
    steps = list(itertools.pairwise(rounds))
    level = family_level(len(steps))
    for prev, k in steps:
      out.append(
        compare(
          f"greedy: round {k} not worse than round {prev}"
          + (f" ({100 * level:g}% interval, 1 of {len(steps)})" if len(steps) > 1 else ""),
          rows_by_round[k],
          GREEDY,
          rows_by_round[prev],
          GREEDY,
          at_least=True,
          level=level,
        )
      )
  searched = [k for k in rows_by_round if k > 0]
  if searched:
    last = max(searched)
    rows = rows_by_round[last]
    best = {name: _method(rows, rf"best_of_\d+\[{name}\]") for name in ("ppm", "orm", "pqm")}
    maj = _method(rows, r"maj@\d+")

    def at_last(a: str | None, b: str | None, **kw) -> None:
      if a and b:
        out.append(compare(f"round {last}: {a} > {b}", rows, a, rows, b, **kw))

    at_last(best["ppm"], maj)
    at_last(maj, GREEDY)
    if best["ppm"] and _method(rows, re.escape(MCTS_PPM)):
      out.append(
        compare(
          f"round {last}: {MCTS_PPM} ≥ {best['ppm']}",
          rows,
          MCTS_PPM,
          rows,
          best["ppm"],
          at_least=True,
        )
      )
    at_last(best["ppm"], best["orm"])
    at_last(best["ppm"], best["pqm"])
  for k, process in sorted((process_by_round or {}).items()):
    for baseline in ("orm", "pqm"):
      if "ppm" in process and baseline in process:
        d = f1_difference(
          process["ppm"]["is_error"], process["ppm"]["right"], process[baseline]["right"]
        )
        out.append(greater(f"round {k}: process-set F1, ppm > {baseline}", d))
  for k, counts in sorted((pairs_by_round or {}).items()):
    if k >= 3 and counts.get("total"):
      out.append(
        pair_accuracy(
          f"round {k}: PPM held-out pairwise accuracy ≥ {MIN_PAIR_ACCURACY:.1f}",
          counts["correct"],
          counts["total"],
        )
      )
  return [c for c in out if c is not None]
