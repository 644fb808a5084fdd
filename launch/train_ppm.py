"""PPM training on preference pairs, or the ORM / PQM baselines (config section `ppm`).

python -m launch.train_ppm --data=run/data/ppm --init=run/sft/hf --out=run/ppm
python -m launch.train_ppm --data=run/data/ppm --init=run/sft/hf --out=run/pqm --objective=pqm
"""

from absl import app
from absl import flags

from launch import common
from launch import train

_CONFIG = common.define_config()
_OBJECTIVE = flags.DEFINE_enum(
  "objective",
  "bt",
  ["bt", "orm", "pqm"],
  "bt: the PPM (Bradley-Terry pairs); orm / pqm: baselines.",
)


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  train.train("ppm", _CONFIG.value, objective=_OBJECTIVE.value)


if __name__ == "__main__":
  app.run(main)
