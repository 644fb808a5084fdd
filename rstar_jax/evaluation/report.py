"""Per-round tables, the paper's claims and the plots of a self-evolution run."""

from collections.abc import Mapping, Sequence
import json
import os
import pathlib
import re
from typing import Any

from rstar_jax.evaluation import claims as claims_lib
from rstar_jax.evaluation import harness as evaluation
from rstar_jax.evaluation import stats

PPM_PAIR_ACC = "ppm pairwise acc"  # On the held-out share of the round's training pairs.
PPM_HELDOUT_PAIR_ACC = "ppm held-out pair acc"  # On pairs of the held-out MCTS trees.
GREEDY_ERROR_KINDS = "greedy_error_kinds"  # A round's entry in report.json: `error_kind_rows`.
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
    for method, (lo, hi, method_n) in _intervals(results, row, n).items():
      cells[method] = f"{100 * lo:.0f}–{100 * hi:.0f}%" + (
        f" (n={method_n})" if method_n != n else ""
      )
    rows.append(cells)
  return rows


def _intervals(
  results: Mapping[int, Mapping[str, Mapping[str, Any]]], row: Mapping[str, Any], n: int
) -> dict[str, tuple[float, float, int]]:
  """Per method of a `round_rows` row: its Wilson interval and its own problem count (MCTS+PPM
  may run on a subset)."""
  per_method = results.get(row["round"], {}).get("evaluate", {}).get("num_problems_by_method", {})
  out = {}
  for method, value in row.items():
    if method in ("round", PPM_PAIR_ACC, PPM_HELDOUT_PAIR_ACC) or not isinstance(value, float):
      continue
    method_n = per_method.get(method, n)
    out[method] = (*stats.wilson_interval(round(value * method_n), method_n), method_n)
  return out


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
    heldout_acc = evaluated.get("heldout_pairs", {}).get("accuracy")
    if heldout_acc is not None:
      row[PPM_HELDOUT_PAIR_ACC] = heldout_acc
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
  if column in (PPM_PAIR_ACC, PPM_HELDOUT_PAIR_ACC):
    return len(_COLUMN_ORDER) + 1, column
  rank = next((i for i, p in enumerate(_COLUMN_ORDER) if p.match(column)), len(_COLUMN_ORDER))
  return rank, column


def _columns(rows: Sequence[Mapping[str, Any]], first: str) -> list[str]:
  """Every column but `first`, in the fixed method order; the PPM pair accuracy (not a method)
  last."""
  return sorted({c for r in rows for c in r if c != first}, key=_column_rank)


def format_table(
  rows: Sequence[Mapping[str, Any]], first: str = "round", *, leading: Sequence[str] = ()
) -> str:
  """A Markdown table; `first` and `leading` columns as given, then the rest in the fixed
  method order; numbers as percentages."""
  if not rows:
    return "(no finished rounds)"
  fixed = [first, *(c for c in leading if c != first)]
  columns = fixed + [c for c in _columns(rows, first) if c not in fixed]

  def cell(value: Any) -> str:
    if isinstance(value, float):
      return f"{100 * value:.1f}%"
    return "–" if value is None else str(value)

  lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
  lines += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in rows]
  return "\n".join(lines)


def level_rows(results: Mapping[int, Mapping[str, Mapping[str, Any]]]) -> list[dict[str, Any]]:
  """Accuracy per difficulty level of round 0 (the bootstrap) and of the last evaluated round,
  one row per (round, level) with the level's problem count."""
  by_round = {k: r["evaluate"].get("by_level") for k, r in results.items() if "evaluate" in r}
  prepared = results.get(0, {}).get("prepare", {}).get("stages", {}).get("evaluate", {})
  by_round[0] = prepared.get("by_level")
  evaluated = sorted(k for k, v in by_round.items() if v)
  rows = []
  for k in dict.fromkeys(evaluated[:1] + evaluated[-1:]):
    for level, cell in by_round[k].items():
      # Every distinct count: the sampled methods may run on a subset of the level's problems.
      n = " / ".join(str(c) for c in sorted(set(cell["num_problems"].values()), reverse=True))
      rows.append({"round": k, "level": level, "n": n, **cell["accuracy"]})
  return rows


def process_rows(results: Mapping[int, Mapping[str, Mapping[str, Any]]]) -> list[dict[str, Any]]:
  """ProcessBench metrics on the held-out process set, per round and reward model."""
  rows = []
  for k in sorted(results):
    for name, m in results[k].get("evaluate", {}).get("process", {}).items():
      held = m["heldout"]
      rows.append(
        {
          "round": k,
          "scorer": name,
          "threshold (dev)": f"{m['threshold']:.3f}",
          "dev F1": m["dev"]["f1"],
          "error acc": held["error_acc"],
          "correct acc": held["correct_acc"],
          "F1": held["f1"],
        }
      )
  return rows


def pair_label_rows(results: Mapping[int, Mapping[str, Mapping[str, Any]]]) -> list[dict[str, Any]]:
  """The share of each world-value label among a round's PPM training pairs (the extract
  stage's `pair_labels`), per round and kind of pair."""
  rows = []
  for k in sorted(results):
    for kind, counts in results[k].get("extract", {}).get("pair_labels", {}).items():
      n = counts["pairs"]
      if n:
        shares = {label.replace("_", " "): c / n for label, c in counts.items() if label != "pairs"}
        rows.append({"round": k, "pairs": kind, "n": str(n), **shares})
  return rows


def error_kind_rows(error_kinds: Mapping[int, Mapping[str, Any]]) -> list[dict[str, Any]]:
  """Per round, its wrong held-out greedy solutions and how many of them first went wrong in
  each way (`world.error_kinds`)."""
  return [
    {"round": k, "wrong": tally["wrong"], **tally["kinds"]}
    for k, tally in sorted(error_kinds.items())
  ]


def error_kind_table(rows: Sequence[Mapping[str, Any]]) -> str:
  """`error_kind_rows` (or rows built on them) as Markdown, the columns in the rows' own order:
  the kinds in `world.error_kinds.KINDS` order, not the method order of `format_table`."""
  return format_table(rows, leading=list(dict.fromkeys(c for r in rows for c in r)))


def claim_rows(
  results: Mapping[int, Mapping[str, Mapping[str, Any]]],
  rows_by_round: Mapping[int, Sequence[Mapping[str, Any]]],
) -> list[dict[str, str]]:
  """The paper's claims (`claims.paper_claims`) on the run's per-problem results."""
  process = {
    k: r["evaluate"]["process"] for k, r in results.items() if r.get("evaluate", {}).get("process")
  }
  pairs = {
    k: r["evaluate"]["heldout_pairs"]
    for k, r in results.items()
    if r.get("evaluate", {}).get("heldout_pairs")
  }
  return [c.to_row() for c in claims_lib.paper_claims(rows_by_round, process, pairs)]


def _pyplot():
  import matplotlib  # local import: heavy, and only a finished round plots

  matplotlib.use("Agg")
  from matplotlib import pyplot as plt  # local import: must follow matplotlib.use('Agg')

  return plt


def _save(fig, ax, path: str | os.PathLike, title: str, xlabel: str) -> pathlib.Path:
  """Percent axis from 0 to 100 (a difference reads at its true size), legend, PNG."""
  ax.set_xlabel(xlabel)
  ax.set_ylabel("accuracy (%)")
  ax.set_ylim(0, 100)
  ax.set_title(title)
  ax.grid(alpha=0.3)
  ax.legend(fontsize=8)
  fig.tight_layout()
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  fig.savefig(path, dpi=110)
  return path


def plot_rounds(
  rows: Sequence[Mapping[str, Any]],
  path: str | os.PathLike,
  title: str = "held-out accuracy per round (95% intervals)",
  intervals: Mapping[int, Mapping[str, tuple[float, float, int]]] | None = None,
) -> pathlib.Path:
  """Every method's accuracy over rounds with its interval (`intervals[round][method]`)."""
  plt = _pyplot()
  fig, ax = plt.subplots(figsize=(7, 4.5))
  for i, method in enumerate(_columns(rows, "round")):
    points = [(r["round"], r[method]) for r in rows if r.get(method) is not None]
    if not points:
      continue
    xs = [x + 0.03 * (i - 3) for x, _ in points]  # A small offset keeps the bars apart.
    ys = [100 * y for _, y in points]
    bounds = [(intervals or {}).get(x, {}).get(method) for x, _ in points]
    err = [
      [100 * (y - b[0]) if b else 0 for (_, y), b in zip(points, bounds)],
      [100 * (b[1] - y) if b else 0 for (_, y), b in zip(points, bounds)],
    ]
    style = "--" if method in (PPM_PAIR_ACC, PPM_HELDOUT_PAIR_ACC) else "-"
    ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, label=method, linestyle=style)
  ax.set_xticks(sorted({r["round"] for r in rows}))
  path = _save(fig, ax, path, title, "round")
  plt.close(fig)
  return path


def plot_levels(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike) -> pathlib.Path:
  """Accuracy per difficulty level (`level_rows`): round 0 and the last round."""
  plt = _pyplot()
  fig, ax = plt.subplots(figsize=(7, 4.5))
  levels = list(dict.fromkeys(r["level"] for r in rows))
  methods = _columns(
    [{k: v for k, v in r.items() if k not in ("level", "n")} for r in rows], "round"
  )
  for k in dict.fromkeys(r["round"] for r in rows):
    mine = {r["level"]: r for r in rows if r["round"] == k}
    for method in methods:
      ys = [100 * mine[lv][method] if method in mine.get(lv, {}) else None for lv in levels]
      if any(y is not None for y in ys):
        ax.plot(levels, ys, marker="o", label=f"round {k}: {method}")
  path = _save(fig, ax, path, "held-out accuracy per difficulty level", "level")
  plt.close(fig)
  return path


def plot_process(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike) -> pathlib.Path:
  """Held-out process-set F1 per round for each reward model (`process_rows`)."""
  plt = _pyplot()
  fig, ax = plt.subplots(figsize=(7, 4.5))
  for name in dict.fromkeys(r["scorer"] for r in rows):
    points = [(r["round"], 100 * r["F1"]) for r in rows if r["scorer"] == name]
    ax.plot(*zip(*points), marker="o", label=name)
  ax.set_xticks(sorted({r["round"] for r in rows}))
  ax.set_ylabel("F1 (%)")
  path = _save(fig, ax, path, "process set: F1 of the first wrong step (ProcessBench)", "round")
  plt.close(fig)
  return path


def write_run_report(
  results: Mapping[int, Mapping[str, Mapping[str, Any]]],
  json_path: str | os.PathLike,
  md_path: str | os.PathLike,
  png_path: str | os.PathLike,
  rows_by_round: Mapping[int, Sequence[Mapping[str, Any]]] | None = None,
  error_kinds: Mapping[int, Mapping[str, Any]] | None = None,
) -> str:
  """Writes the run's stage summaries (JSON), its tables (Markdown: accuracies, their 95%
  intervals, the paper's claims with paired intervals, accuracy per level, the process set) and
  plots (`png_path`, and `levels.png` / `process_f1.png` beside it); returns the tables.

  `rows_by_round`: each round's per-problem evaluation rows (round 0: the bootstrap's), which
  the paired claims need. `error_kinds`: each round's wrong greedy solutions by the kind of
  their first wrong step (`world.error_kinds.greedy_error_kinds`), where the world can judge
  them; the JSON keeps each under its round's `GREEDY_ERROR_KINDS`.
  """
  rows = round_rows(results)
  table = format_table(rows)
  intervals = interval_rows(results)
  if intervals:
    table += "\n\n95% intervals (Wilson score; n held-out problems):\n\n" + format_table(intervals)
  claims = claim_rows(results, rows_by_round or {})
  if claims:
    table += (
      "\n\nThe paper's claims (difference in points, paired bootstrap 95% interval over the "
      "same problems; a one-sample value with its Wilson interval):\n\n"
      + format_table(claims, first="claim", leading=list(claims[0]))
    )
  levels = level_rows(results)
  if levels:
    table += "\n\nAccuracy per difficulty level:\n\n" + format_table(levels, leading=("level", "n"))
  process = process_rows(results)
  if process:
    table += (
      "\n\nHeld-out process set (first wrong step; threshold chosen on the development "
      "set):\n\n" + format_table(process, leading=list(process[0]))
    )
  labels = pair_label_rows(results)
  if labels:
    table += (
      "\n\nThe PPM's training pairs judged by the world's values (pos right and neg wrong, "
      "both right, both wrong, reversed; unjudged: a step the checker cannot run):\n\n"
      + format_table(labels, leading=list(labels[0]))
    )
  errors = error_kind_rows(error_kinds or {})
  if errors:
    table += (
      "\n\nWrong held-out greedy solutions by their first wrong step, judged by the world's "
      "values (misread: quotes its sentence with another number; miscomputed: quotes it right, "
      "computes wrong; skipped: leaves a sentence out; final: the print or answer step; "
      "unreadable: a step the checker cannot place; unfinished: cut off before the answer):\n\n"
      + error_kind_table(errors)
    )
  json_path, md_path, png_path = map(pathlib.Path, (json_path, md_path, png_path))
  summaries = {str(k): dict(v) for k, v in results.items()}
  for k, tally in (error_kinds or {}).items():
    summaries.setdefault(str(k), {})[GREEDY_ERROR_KINDS] = tally
  json_path.write_text(json.dumps(summaries, indent=2, default=str) + "\n", encoding="utf-8")
  md_path.write_text("# Held-out accuracy per round\n\n" + table + "\n", encoding="utf-8")
  if rows:
    sizes = _sizes(results)
    bounds = {
      r["round"]: _intervals(results, r, sizes[r["round"]]) for r in rows if r["round"] in sizes
    }
    plot_rounds(rows, png_path, intervals=bounds)
  if levels:
    plot_levels(levels, png_path.with_name("levels.png"))
  if process:
    plot_process(process, png_path.with_name("process_f1.png"))
  return table
