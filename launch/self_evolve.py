"""Runs (or resumes) rStar-Math self-evolution: rounds of search → extract → SFT → PPM → evaluate.

  python -m launch.self_evolve                                   # built-in world, CPU, minutes
  python -m launch.self_evolve --config=configs/world.py:smoke   # a handful of problems
  python -m launch.self_evolve --config=configs/qwen25_math_7b.py \
      --config.bootstrap.policy=/ckpt/Qwen2.5-Math-7B --config.problems.train=train.jsonl
  python -m launch.self_evolve --config=configs/qwen25_math_7b.py ... --check_only

Re-running the same command with the same `run_dir` resumes where a killed run stopped. Ends
with the per-round table of held-out accuracy; writes report.json / report.md / accuracy.png
and tree viewer pages into the run directory. `--check_only` validates the config and its
inputs, prints `config ok` (or the bad fields, with a non-zero exit) and does no work.
"""

import pathlib
import sys

from absl import app
from absl import flags

from launch import common
from rstar_jax import hf
from rstar_jax import training
from rstar_jax.evolution import evolve
from rstar_jax.evolution import pipeline
from rstar_jax.evolution.layout import RunLayout
from rstar_jax.runtime import lock

_CONFIG = common.define_config()
_CHECK_ONLY = flags.DEFINE_bool(
  "check_only",
  False,
  "Validate the config and check its inputs (files, models, meshes) as a run does before its "
  "first stage, print 'config ok' and stop; writes nothing.",
)
# Errors whose message says all there is to say: printed alone, without a traceback.
_USER_ERRORS = (
  lock.RunDirBusyError,
  pipeline.PreflightError,
  training.ResumeMismatchError,
  training.NonFiniteLossError,
  hf.CheckpointError,
)


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  config = common.typed_config(_CONFIG.value)
  sync = common.init_processes()
  try:
    if _CHECK_ONLY.value:
      evolve.check(config, sync)
      print("config ok")
      return
    table = evolve.run_evolution(config, sync)
  except _USER_ERRORS as e:
    sys.exit(f"self_evolve: {e}")
  if sync.is_leader:
    layout = RunLayout(pathlib.Path(config.run_dir))
    print(f"Held-out accuracy per round (run directory {layout.root}):\n{table}")
    print(f"report: {layout.report_md}  plot: {layout.plot_png}")


if __name__ == "__main__":
  app.run(main)
