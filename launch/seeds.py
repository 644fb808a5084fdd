"""The table of one experiment run with several seeds (issue 18's "three seeds, mean and spread").

  for s in 0 1 2; do
    python -m launch.self_evolve --config=configs/world.py:full \
        --config.seed=$s --config.world.seed=$s --config.world.bootstrap.seed=$s \
        --config.run_dir=runs/world_full_s$s
  done
  python -m launch.seeds runs/world_full_s0 runs/world_full_s1 runs/world_full_s2

Prints (and with --out writes) each accuracy's mean and range over the seeds, each claim of
the paper with its verdict for every seed (paired intervals per seed, `report.md` of each run),
and the wrong held-out greedy solutions by the kind of their first wrong step, summed.
"""

import json
import pathlib

from absl import app
from absl import flags

from rstar_jax.evaluation import report
from rstar_jax.evaluation import seeds
from rstar_jax.evolution import evolve
from rstar_jax.evolution.layout import RunLayout

_OUT = flags.DEFINE_string("out", None, "Write the tables to this Markdown file as well.")


def _load(run_dir: str):
  layout = RunLayout(pathlib.Path(run_dir))
  if not layout.report_json.is_file():
    raise app.UsageError(f"{layout.report_json}: missing; is {run_dir} a finished run directory?")
  raw = json.loads(layout.report_json.read_text(encoding="utf-8"))
  results = {int(k): v for k, v in raw.items()}
  return results, evolve.problem_rows(layout, results)


def main(argv: list[str]) -> None:
  if len(argv) < 2:
    raise app.UsageError("pass the run directories of the seeds")
  loaded = [_load(d) for d in argv[1:]]
  runs, rows = [r for r, _ in loaded], [p for _, p in loaded]
  text = (
    f"{len(runs)} seeds: {', '.join(argv[1:])}\n\nHeld-out accuracy, mean (min–max) over seeds:\n\n"
    + report.format_table(seeds.accuracy_rows(runs), leading=("seeds",))
    + "\n\nThe paper's claims, per seed:\n\n"
    + report.format_table(seeds.claim_rows(runs, rows), first="claim", leading=("mean difference",))
  )
  errors = seeds.error_kind_rows(runs)
  if errors:
    text += (
      "\n\nWrong held-out greedy solutions by the kind of their first wrong step, summed over "
      "the seeds (`world.error_kinds`):\n\n" + report.error_kind_table(errors)
    )
  if _OUT.value:
    pathlib.Path(_OUT.value).write_text(text + "\n", encoding="utf-8")
  print(text)


if __name__ == "__main__":
  app.run(main)
