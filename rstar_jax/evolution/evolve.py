"""One self-evolution run: plan, stages, report."""

import contextlib
import dataclasses
import json
import logging
import pathlib

from rstar_jax.evaluation import report
from rstar_jax.evolution import driver
from rstar_jax.evolution import plan as plan_lib
from rstar_jax.evolution.config import RunConfig
from rstar_jax.evolution.layout import RunLayout
from rstar_jax.evolution.pipeline import Pipeline
from rstar_jax.runtime import files
from rstar_jax.runtime import lock
from rstar_jax.runtime.sync import ProcessSync


def _record_config(config: RunConfig, layout: RunLayout) -> None:
  """Keeps the config of every start of the run (a resumed run may have changed it)."""
  layout.root.mkdir(parents=True, exist_ok=True)
  path = layout.root / "config.json"
  text = json.dumps(dataclasses.asdict(config), indent=2, sort_keys=True)
  if path.is_file() and json.loads(path.read_text()) != json.loads(text):
    logging.warning(
      "%s: the config differs from the one this run started with; finished "
      "stages keep their results",
      path,
    )
    path = layout.root / "config.resumed.json"
  files.write_text(path, text + "\n")


def problem_rows(layout: RunLayout, results) -> dict[int, list]:
  """Each evaluated round's per-problem rows (round 0: the world's bootstrap evaluation)."""
  reports = {k: layout.eval_dir(k) / "report.json" for k in results if k > 0}
  paths = layout.prepare_dir / "paths.json"
  if paths.is_file() and "bootstrap_eval" in (known := json.loads(paths.read_text())):
    reports[0] = pathlib.Path(known["bootstrap_eval"])
  return {
    k: json.loads(path.read_text(encoding="utf-8"))["problems"]
    for k, path in reports.items()
    if path.is_file()
  }


def check(config: RunConfig, sync: ProcessSync = ProcessSync()) -> None:
  """The checks a run makes before its first stage (`Pipeline.preflight`), writing nothing: a
  config is known to start before any machine time is spent on it."""
  Pipeline(config, RunLayout(pathlib.Path(config.run_dir)), sync).preflight()


def run_evolution(config: RunConfig, sync: ProcessSync = ProcessSync()) -> str:
  """The whole loop for `config`; returns the final per-round table.

  The leader holds the run directory's lock throughout, so a second run started on the same
  directory stops at once (`lock.RunDirBusyError`) instead of writing beside this one.
  """
  layout = RunLayout(pathlib.Path(config.run_dir))
  with lock.hold(layout.root) if sync.is_leader else contextlib.nullcontext():
    return _run(config, layout, sync)


def _run(config: RunConfig, layout: RunLayout, sync: ProcessSync) -> str:
  if sync.is_leader:
    _record_config(config, layout)
  pipeline = Pipeline(config, layout, sync)
  pipeline.preflight()
  tables: list[str] = []

  def on_round(k: int, results) -> None:
    if sync.is_leader:
      rows_by_round = problem_rows(layout, results)
      tables.append(
        report.write_run_report(
          results,
          layout.report_json,
          layout.report_md,
          layout.plot_png,
          rows_by_round=rows_by_round,
          error_kinds=pipeline.greedy_error_kinds(rows_by_round),
        )
      )
      print(f"\n== after round {k} ==\n{tables[-1]}\n", flush=True)

  driver.run_rounds(pipeline, plan_lib.make_plan(config.rounds), layout, sync, on_round=on_round)
  return tables[-1] if tables else ""
