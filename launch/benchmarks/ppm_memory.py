"""PPM training memory: causal attention in query blocks (the default) against the whole
sequence at once (the baseline, `query_block=0`), with and without gradient accumulation, each
in a process of its own.

The world's PPM is a 4-layer, 128-wide model, yet its training peaked at 8–16 GiB: a batch is
32 pairs, 64 sequences of up to 512 tokens, and the backward pass of attention over the whole
sequence holds several fp32 score buffers (sequences x query heads x T x T) at once. Each
setting compiles the world config's PPM train step for one batch of random pairs padded to
`--seq` tokens and trains a few steps on it, in a child process, so that its peak resident set
(`ru_maxrss`) is its own; XLA's own temporary-buffer size of the step is printed beside it.
"""

from collections.abc import Sequence
import dataclasses
import json
import resource
import subprocess
import sys
import time

from absl import flags
from flax import nnx
import grain
import jax
import numpy as np

from configs import world
from launch import run_config
from rstar_jax import models
from rstar_jax.runtime import mesh as mesh_lib
from rstar_jax.training import config as train_config
from rstar_jax.training import inputs
from rstar_jax.training import loop
from rstar_jax.training import ppm
from rstar_jax.training import ppm_data
from rstar_jax.world import bootstrap

SETTINGS = {
  "whole attention": {"query_block": 0},
  "query blocks": {},
  "whole attention, grad_accum=2": {"query_block": 0, "grad_accum": 2},
  "query blocks, grad_accum=2": {"grad_accum": 2},
}
_BASELINE = "whole attention"
_SEQ = flags.DEFINE_integer("seq", 512, "Padded tokens of each sequence.")
_STEPS = flags.DEFINE_integer("steps", 4, "Timed steps per setting, after one to compile.")
_QUERY_BLOCK = flags.DEFINE_integer(
  "query_block", None, "Queries per block of the blocked settings (default: TrainConfig's)."
)
_CHILD = flags.DEFINE_enum("child", None, list(SETTINGS), "(internal) Measure this setting.")


class _Vocab:
  """What `bootstrap.model_config` reads of a tokenizer: the world's vocabulary and ids."""

  eos_token_id, pad_token_id = 1, 0

  def __len__(self) -> int:
    return bootstrap.BootstrapConfig().vocab_size


def _pairs(count: int, seq: int, vocab: int) -> ppm_data.PairData:
  rng = np.random.default_rng(0)
  side = lambda: inputs.Ragged.from_rows(  # noqa: E731
    [rng.integers(2, vocab, seq) for _ in range(count)], np.int32
  )
  return ppm_data.PairData(
    side(),
    side(),
    np.zeros((count, 2), np.float32),
    np.ones(count, np.float32),
    tuple(f"p{i}" for i in range(count)),
  )


def _ppm_config(query_block: int | None) -> train_config.TrainConfig:
  """The world config's PPM trainer, with `query_block` queries per block where given."""
  cfg = run_config.run_config(world.get_config()).ppm
  return cfg if query_block is None else dataclasses.replace(cfg, query_block=query_block)


def measure(setting: str, seq: int, steps: int, query_block: int | None) -> dict[str, float]:
  """Trains `steps` steps (after a first one) under `setting`: the best seconds a step, the
  peak resident set after compiling and after training and XLA's temporaries (GiB), the loss."""
  cfg = dataclasses.replace(_ppm_config(query_block), **SETTINGS[setting])
  mesh = mesh_lib.single_device_mesh()
  with jax.set_mesh(mesh):
    policy = models.Transformer(
      bootstrap.model_config(bootstrap.BootstrapConfig(), _Vocab()), rngs=nnx.Rngs(0)
    )
    model = nnx.view(models.ValueModel.from_policy(policy), head_dropout=cfg.head_dropout)
    setup = loop.prepare(cfg, model, ppm.pair_task(cfg), total_steps=1000, mesh=mesh)
    layout = loop.host_layout(cfg, mesh)
    make = ppm_data.make_pair_batcher(_pairs(cfg.batch_size, seq, len(_Vocab())), pad_id=0, cfg=cfg)
    stream = grain.MapDataset.source([make(np.arange(cfg.batch_size), layout)])
    batch = inputs.to_global(ppm.with_dropout_ids(stream, layout, cfg.seed)[0], mesh)
  compiled = setup.train_step.lower(setup.params, setup.opt_state, batch).compile()
  analysis = compiled.memory_analysis()
  gib = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # noqa: E731
  before = gib()
  params, opt_state = setup.params, setup.opt_state
  times = []
  for _ in range(steps + 1):
    start = time.perf_counter()
    params, opt_state, out = compiled(params, opt_state, batch)
    jax.block_until_ready(out["loss"])
    times.append(time.perf_counter() - start)
  return {
    "s_per_step": min(times[1:]),
    "peak_gib": gib(),
    "before_gib": before,
    "xla_temp_gib": analysis.temp_size_in_bytes / 2**30 if analysis else float("nan"),
    "loss": float(out["loss"]),
  }


def run(argv: Sequence[str]) -> None:
  del argv
  seq, steps, query_block = _SEQ.value, _STEPS.value, _QUERY_BLOCK.value
  if _CHILD.value:
    print(json.dumps(measure(_CHILD.value, seq, steps, query_block)))
    return
  block_flag = [] if query_block is None else [f"--query_block={query_block}"]
  results = {}
  for setting in SETTINGS:
    done = subprocess.run(
      [sys.executable, "-m", "launch.benchmark", "--suite=ppm_memory", f"--seq={seq}"]
      + [f"--steps={steps}", f"--child={setting}"]
      + block_flag,
      capture_output=True,
      text=True,
      check=False,
    )
    if done.returncode:
      raise RuntimeError(f"ppm_memory child {setting!r} failed:\n{done.stderr[-3000:]}")
    results[setting] = json.loads(done.stdout.strip().splitlines()[-1])
    r = results[setting]
    print(
      f"{setting}: {r['s_per_step']:.3f} s/step, peak RSS {r['peak_gib']:.2f} GiB "
      f"({r['before_gib']:.2f} before the first step), XLA temporaries "
      f"{r['xla_temp_gib']:.2f} GiB, loss {r['loss']:.6f}",
      flush=True,
    )
  cfg = _ppm_config(query_block)
  print(
    f"config: world PPM, {cfg.batch_size} pairs x 2 sides x {seq} tokens, query blocks of "
    f"{cfg.query_block}, "
    f"head_dropout {cfg.head_dropout}, {jax.default_backend()} backend"
  )
  base = results[_BASELINE]
  print(
    "; ".join(
      f"{name}: peak {r['peak_gib'] / base['peak_gib']:.2f}x, time {r['s_per_step'] / base['s_per_step']:.2f}x"
      for name, r in results.items()
      if name != _BASELINE
    )
    + f" (against {_BASELINE}: {base['peak_gib']:.2f} GiB, {base['s_per_step']:.3f} s/step)"
  )
