"""SFT of a policy on an extracted dataset (resumable; config section `sft`).

  python -m launch.train_sft --config=configs/qwen25_math_7b.py --data=run/data/sft \
      --init=/ckpt/Qwen2.5-Math-7B --out=run/sft --config.sft.lr=7e-6
"""

from absl import app

from launch import common
from launch import train

_CONFIG = common.define_config()


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  train.train("sft", _CONFIG.value)


if __name__ == "__main__":
  app.run(main)
