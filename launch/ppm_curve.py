"""The PPM recipe's learning curve on step pairs the built-in math world labels by value.

  python -m launch.ppm_curve --config=configs/world.py:full --run_dir=runs/world_full --round=4 \
      --errors=misread --sizes=2000,6000,16000 --out=runs/world_full/ppm_curve

Trains PPMs from round K's policy on N world-labelled step pairs with --errors wrong steps, for
each N of --sizes, and scores them beside round K's own reward models on held-out pairs
(`rstar_jax.evolution.ppm_curve`); writes `report.md` and `report.json` under OUT/ERRORS.
Resumable: rerun the same command.
"""

import pathlib

from absl import app
from absl import flags

from launch import common
from rstar_jax.evolution import ppm_curve
from rstar_jax.evolution.layout import RunLayout
from rstar_jax.world import oracle_pairs

_CONFIG = common.define_config()
_RUN_DIR = flags.DEFINE_string("run_dir", None, "A run of the built-in math world.", required=True)
_ROUND = flags.DEFINE_integer("round", None, "Round whose policy and reward models.", required=True)
_SIZES = flags.DEFINE_list("sizes", ["2000", "6000", "16000"], "Training pairs of each PPM.")
_EVAL_PAIRS = flags.DEFINE_integer("eval_pairs", 600, "Held-out pairs.")
_ERRORS = flags.DEFINE_enum("errors", "misread", oracle_pairs.ERRORS, "Kind of wrong step.")
_OUT = flags.DEFINE_string("out", None, "Output directory.", required=True)


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  sizes = [int(s) for s in _SIZES.value]
  if not sizes or min(sizes) < 1 or _EVAL_PAIRS.value < 1:
    raise app.UsageError("--sizes and --eval_pairs must be positive")
  try:
    table = ppm_curve.learning_curve(
      common.typed_config(_CONFIG.value),
      RunLayout(pathlib.Path(_RUN_DIR.value)),
      _ROUND.value,
      sizes,
      _EVAL_PAIRS.value,
      _ERRORS.value,
      pathlib.Path(_OUT.value),
    )
  except (ValueError, FileNotFoundError) as e:
    raise app.UsageError(str(e)) from e
  print(table)


if __name__ == "__main__":
  app.run(main)
