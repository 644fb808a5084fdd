"""One experiment over several seeds: each accuracy's mean and spread, each claim's verdicts.

A claim of the paper holds for the experiment when it holds for every seed (issue 18's targets
ask for every seed), so the table lists the verdict of each seed beside the mean difference.
"""

import collections
from collections.abc import Mapping, Sequence
from typing import Any

from rstar_jax.evaluation import report

Results = Mapping[int, Mapping[str, Mapping[str, Any]]]


def accuracy_rows(runs: Sequence[Results]) -> list[dict[str, str]]:
  """Per round and method: `mean (min–max)` over the runs that report it, in percent."""
  tables = [{r["round"]: r for r in report.round_rows(results)} for results in runs]
  rounds = sorted({k for table in tables for k in table})
  rows = []
  for k in rounds:
    cells: dict[str, str] = {"round": str(k), "seeds": str(sum(k in t for t in tables))}
    methods = dict.fromkeys(m for t in tables for m in t.get(k, {}) if m != "round")
    for method in methods:
      values = [100 * t[k][method] for t in tables if isinstance(t.get(k, {}).get(method), float)]
      if values:
        mean = sum(values) / len(values)
        cells[method] = f"{mean:.1f} ({min(values):.1f}–{max(values):.1f})"
    rows.append(cells)
  return rows


def claim_rows(
  runs: Sequence[Results], rows_by_run: Sequence[Mapping[int, Sequence[Mapping[str, Any]]]]
) -> list[dict[str, str]]:
  """Per claim: the mean over seeds of its difference in points (a one-sample claim: of its
  value, in %) and each seed's verdict."""
  per_run = [
    {c["claim"]: c for c in report.claim_rows(results, rows)}
    for results, rows in zip(runs, rows_by_run, strict=True)
  ]
  claims = dict.fromkeys(name for claims in per_run for name in claims)
  rows = []
  for name in claims:
    found = [claims.get(name) for claims in per_run]
    values = [float(c["difference"].rstrip("%")) for c in found if c]
    mean = sum(values) / len(values)
    one_sample = all(c["difference"].endswith("%") for c in found if c)
    rows.append(
      {
        "claim": name,
        "mean difference": f"{mean:.1f}%" if one_sample else f"{mean:+.1f}",
        "verdict per seed": ", ".join(c["verdict"] if c else "–" for c in found),
        "all seeds": "holds"
        if all(c and c["verdict"] == "holds" for c in found)
        else "does not hold for every seed",
      }
    )
  return rows


def error_kind_rows(runs: Sequence[Results]) -> list[dict[str, Any]]:
  """Per round, the wrong held-out greedy solutions of every seed that judged them, summed, and
  how many first went wrong in each way (`report.error_kind_rows` of the pooled tallies)."""
  pooled: dict[int, dict[str, Any]] = {}
  seeds_per_round: collections.Counter = collections.Counter()
  for results in runs:
    for k, summary in results.items():
      tally = summary.get(report.GREEDY_ERROR_KINDS)
      if tally is None:
        continue
      seeds_per_round[k] += 1
      into = pooled.setdefault(k, {"wrong": 0, "kinds": collections.Counter()})
      into["wrong"] += tally["wrong"]
      into["kinds"].update(tally["kinds"])
  return [{"seeds": seeds_per_round[row["round"]], **row} for row in report.error_kind_rows(pooled)]
