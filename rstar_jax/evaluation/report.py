"""Per-round tables and the accuracy plot of a self-evolution run."""

from collections.abc import Mapping, Sequence
import json
import os
import pathlib
import re
from typing import Any

from rstar_jax.evaluation import harness as evaluation
from rstar_jax.evaluation import stats

PPM_PAIR_ACC = "ppm pairwise acc"
BOOTSTRAP_GREEDY = "bootstrap_heldout_greedy_accuracy"  # Written by the world's prepare stage.


def _sizes(results: Mapping[int, Mapping[str, Mapping[str, Any]]]) -> dict[int, int]:
  """Problems behind each row of `round_rows` (round 0: the world's bootstrap evaluation)."""
  sizes = {k: r["evaluate"].get("num_problems") for k, r in results.items() if "evaluate" in r}
  prepared = results.get(0, {}).get("prepare", {}).get("stages", {}).get("evaluate", {})
  sizes[0] = prepared.get("problems")
  return {k: n for k, n in sizes.items() if n}


def interval_rows(results: Mapping[int, Mapping[str, Mapping[str, Any]]]) -> list[dict[str, Any]]:
  """`round_rows` with each accuracy as its 95% Wilson interval and the problem count `n`."""
  sizes = _sizes(results)
  rows = []
  for row in round_rows(results):
    n = sizes.get(row["round"])
    if n is None:
      continue
    cells: dict[str, Any] = {"round": row["round"], "n": str(n)}
    for method, value in row.items():
      if method not in ("round", PPM_PAIR_ACC) and isinstance(value, float):
        lo, hi = stats.wilson_interval(round(value * n), n)
        cells[method] = f"{100 * lo:.0f}–{100 * hi:.0f}%"
    rows.append(cells)
  return rows


def round_rows(results: Mapping[int, Mapping[str, Mapping[str, Any]]]) -> list[dict[str, Any]]:
  """One row per finished evaluation: held-out accuracy per method plus PPM pair accuracy.

  Round 0 is the bootstrap policy's greedy accuracy when the prepare stage measured it (the
  built-in world does), the point the rounds improve from.
  """
  rows = []
  bootstrap = results.get(0, {}).get("prepare", {}).get(BOOTSTRAP_GREEDY)
  if bootstrap is not None:
    rows.append({"round": 0, evaluation.GREEDY: bootstrap})
  for k in sorted(r for r in results if r > 0):
    evaluated = results[k].get("evaluate")
    if evaluated is None:
      continue
    row: dict[str, Any] = {"round": k, **evaluated.get("accuracy", {})}
    pair_acc = results[k].get("train_ppm", {}).get("eval_acc")
    if pair_acc is not None:
      row[PPM_PAIR_ACC] = pair_acc
    rows.append(row)
  return rows


# Method columns in this order whatever order the rows were written in (a resumed run's rows
# come back in another): greedy, then the k-sample methods, MCTS+PPM, the baselines' best-of-k.
_COLUMN_ORDER = (
  re.compile(r"greedy$"),
  re.compile(r"pass@\d+$"),
  re.compile(r"maj@\d+$"),
  re.compile(r"best_of_\d+\[ppm\]$"),
  re.compile(re.escape(evaluation.MCTS_PPM) + "$"),
  re.compile(r"best_of_\d+\[.*\]$"),
)


def _column_rank(column: str) -> tuple[int, str]:
  if column == "n":
    return -1, column
  if column == PPM_PAIR_ACC:
    return len(_COLUMN_ORDER) + 1, column
  rank = next((i for i, p in enumerate(_COLUMN_ORDER) if p.match(column)), len(_COLUMN_ORDER))
  return rank, column


def _columns(rows: Sequence[Mapping[str, Any]], first: str) -> list[str]:
  """Every column but `first`, in the fixed method order; the PPM pair accuracy (not a method)
  last."""
  return sorted({c for r in rows for c in r if c != first}, key=_column_rank)


def format_table(rows: Sequence[Mapping[str, Any]], first: str = "round") -> str:
  """A Markdown table; columns in the fixed method order, numbers as percentages."""
  if not rows:
    return "(no finished rounds)"
  columns = [first] + _columns(rows, first)

  def cell(value: Any) -> str:
    if isinstance(value, float):
      return f"{100 * value:.1f}%"
    return "–" if value is None else str(value)

  lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
  lines += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in rows]
  return "\n".join(lines)


def plot_rounds(
  rows: Sequence[Mapping[str, Any]],
  path: str | os.PathLike,
  title: str = "held-out accuracy per round",
) -> pathlib.Path:
  """Line plot of every method's accuracy over rounds (PNG, no display needed)."""
  import matplotlib  # local import: heavy, and only a finished round plots

  matplotlib.use("Agg")
  from matplotlib import pyplot as plt  # local import: must follow matplotlib.use('Agg')

  path = pathlib.Path(path)
  methods = _columns(rows, "round")
  fig, ax = plt.subplots(figsize=(7, 4.5))
  for method in methods:
    points = [(r["round"], 100 * r[method]) for r in rows if r.get(method) is not None]
    if points:
      xs, ys = zip(*points)
      ax.plot(xs, ys, marker="o", label=method, linestyle="--" if method == PPM_PAIR_ACC else "-")
  ax.set_xlabel("round")
  ax.set_ylabel("accuracy (%)")
  ax.set_title(title)
  ax.set_xticks(sorted({r["round"] for r in rows}))
  ax.grid(alpha=0.3)
  ax.legend(fontsize=8)
  fig.tight_layout()
  path.parent.mkdir(parents=True, exist_ok=True)
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return path


def write_run_report(
  results: Mapping[int, Mapping[str, Mapping[str, Any]]],
  json_path: str | os.PathLike,
  md_path: str | os.PathLike,
  png_path: str | os.PathLike,
) -> str:
  """Writes the run's stage summaries (JSON), its table (Markdown, accuracies then their 95%
  intervals) and plot; returns the tables."""
  rows = round_rows(results)
  table = format_table(rows)
  intervals = interval_rows(results)
  if intervals:
    table += "\n\n95% intervals (Wilson score; n held-out problems):\n\n" + format_table(intervals)
  json_path, md_path = pathlib.Path(json_path), pathlib.Path(md_path)
  json_path.write_text(
    json.dumps({str(k): v for k, v in results.items()}, indent=2, default=str) + "\n",
    encoding="utf-8",
  )
  md_path.write_text("# Held-out accuracy per round\n\n" + table + "\n", encoding="utf-8")
  if rows:
    plot_rounds(rows, png_path)
  return table
