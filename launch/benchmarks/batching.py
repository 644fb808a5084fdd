"""Length-grouped vs plain shuffled batches: the world bootstrap's pre-training, side by side.

The bootstrap is the largest training job of the default main job. This suite builds the world's
teacher data and tokenizer (`--teacher_problems` of them, in a temporary folder), then pre-trains
the default bootstrap model for `--steps` steps with plain shuffled batches (`group_by_length=0`)
and with `--group` batches dealt out again by length. A step's time grows faster than its
padded length (attention is quadratic in it), and each padded length compiles once: the speedup
is of the steady steps (every step but the first of its padded length, timed by the trainer's
own `tokens_per_s`), and each run's compile-inclusive wall is printed too. Each side runs twice
in alternating order and keeps its faster run, so a burst of load from other jobs does not land
on one side only.
"""

import dataclasses
import pathlib
import tempfile
import time

from absl import flags
import numpy as np

from rstar_jax import hf
from rstar_jax.training import inputs
from rstar_jax.training import sft
from rstar_jax.training import sft_data
from rstar_jax.world import bootstrap
from rstar_jax.world import build
from rstar_jax.world.config import WorldConfig

_STEPS = flags.DEFINE_integer("steps", 100, "Pre-training steps per run.")
_GROUP = flags.DEFINE_integer("group", 64, "Batches per length-grouping window.")
_TEACHER = flags.DEFINE_integer("teacher_problems", 1600, "Teacher solutions to train on.")


def _batches(data: sft_data.SFTData, cfg: bootstrap.BootstrapConfig) -> tuple[list, list]:
  """Each step's real tokens and padded length, from the pre-training's own stream."""
  train = bootstrap.sft_config(cfg, progress=False)
  stream, _ = sft.sft_stream(data, train, inputs.Layout(train.batch_size, 1, 0, 1), pad_id=0)
  batches = list(stream)
  return [int(b["mask"].sum()) for b in batches], [b["tokens"].shape[-1] for b in batches]


def _steady_step_s(history: list[dict[str, float]], real: list, padded: list) -> float:
  """Mean wall of the steps whose padded length had already compiled."""
  seen, walls = set(), []
  for h, tokens, length in zip(history, real, padded, strict=True):
    if length in seen:
      walls.append(tokens / h["tokens_per_s"])
    seen.add(length)
  return float(np.mean(walls))


def run(argv: list[str]) -> None:
  del argv
  with tempfile.TemporaryDirectory() as tmp:
    root = pathlib.Path(tmp)
    base = dataclasses.replace(
      bootstrap.BootstrapConfig(),
      num_teacher_problems=_TEACHER.value,
      max_steps=_STEPS.value,
      eval_problems=0,
    )
    world = WorldConfig(
      num_train=8,
      num_heldout=8,
      process_problems=0,
      bootstrap=dataclasses.replace(base, max_steps=1),
    )
    build.build_world(root / "world", world, progress=False)
    tokenizer = hf.load_tokenizer(build.tokenizer_path(root / "world"))
    teacher = root / "world" / "teacher" / "sft"
    data = sft_data.load_sft(teacher, tokenizer, bootstrap.sft_config(base))
    sides = {
      "shuffled": dataclasses.replace(base, group_by_length=0),
      f"grouped[{_GROUP.value}]": dataclasses.replace(base, group_by_length=_GROUP.value),
    }
    batches = {name: _batches(data, cfg) for name, cfg in sides.items()}
    best = {name: float("inf") for name in sides}
    for r in range(2):
      for name, cfg in sides.items():
        start = time.perf_counter()
        _, history = bootstrap.pretrain(
          cfg, data_dir=teacher, tokenizer=tokenizer, work_dir=root / f"{name}{r}", progress=False
        )
        wall = time.perf_counter() - start
        best[name] = min(best[name], _steady_step_s(history, *batches[name]))
        print(f"run {r}: {name} {wall:.1f} s with compilation, {best[name]:.3f} s/step (best)")
    for name, (real, padded) in batches.items():
      print(
        f"{name}: {best[name]:.3f} s/step, {np.mean(padded):.0f} padded tokens per row, "
        f"{len(set(padded))} padded lengths, {sum(real) / (sum(padded) * base.batch_size):.0%} real"
      )
  print(
    f"config: bootstrap model {base.num_layers} layers, hidden {base.hidden_size}, "
    f"batch {base.batch_size}, {len(data)} teacher solutions (mean {np.mean(data.tokens.lengths):.0f} tokens), "
    f"{_STEPS.value} steps per run"
  )
  names = list(sides)
  print(
    f"length grouping speedup {best[names[0]] / best[names[1]]:.2f}x "
    f"({names[1]} {best[names[1]]:.3f} s/step, shuffled {best[names[0]]:.3f} s/step)"
  )
