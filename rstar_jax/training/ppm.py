"""PPM training from the SFT policy: Bradley-Terry pairs, or the ORM / PQM ablation baselines."""

from collections.abc import Sequence
import functools
import pathlib
from typing import Any

from flax import nnx
import grain
import jax
from jax.sharding import Mesh
import numpy as np

from rstar_jax import models
from rstar_jax.models.vocab import grow_vocab
from rstar_jax.runtime import mesh as mesh_lib
from rstar_jax.training import inputs
from rstar_jax.training import loop
from rstar_jax.training import losses
from rstar_jax.training import ppm_data
from rstar_jax.training.config import PPMConfig


def _summarize(sums: dict[str, float]) -> dict[str, float]:
  """Pairwise accuracy (score of pos above neg) over the valid pairs of a batch or split."""
  out = {"acc": sums["correct"] / max(sums["weight"], 1.0)}
  if "loss_sum" in sums and "loss" not in sums:
    out["loss"] = sums["loss_sum"] / max(sums["weight"], 1.0)
  return out


def value_model(init: Any, mesh: Mesh) -> Any:
  """The PPM to train: a `ValueModel` as is, or one initialised from a policy's backbone."""
  model = loop.load_init(init, mesh)
  return model if isinstance(model, models.ValueModel) else models.ValueModel.from_policy(model)


def with_dropout_ids(
  stream: grain.MapDataset, layout: inputs.Layout, seed: int
) -> grain.MapDataset:
  """Training batches with each pair's `dropout_ids` (seed, step, row of the global batch), from
  which the loss draws the value head's dropout masks (`losses.side_dropout_keys`)."""
  rows = layout.host_rows(np.arange(layout.batch_size))

  def add(step: int, batch: inputs.HostBatch) -> inputs.HostBatch:
    ids = np.stack(np.broadcast_arrays(seed, step, rows), axis=-1).astype(np.uint32)
    return {**batch, "dropout_ids": ids}

  return stream.map_with_index(add)


def pair_task(cfg: PPMConfig, eval_batches: Sequence[inputs.HostBatch] = ()) -> loop.Task:
  """The trainer's task for `cfg.objective`: the pair loss over valid pairs, pairwise accuracy."""
  return loop.Task(
    f"ppm-{cfg.objective}",
    functools.partial(losses.pair_loss, objective=cfg.objective),
    "valid",
    _summarize,
    eval_batches,
    cfg.eval_every,
  )


def train_ppm(
  cfg: PPMConfig,
  *,
  data_dir: str | pathlib.Path,
  init: Any,
  tokenizer: Any,
  out_dir: str | pathlib.Path,
  mesh: Mesh | None = None,
  callbacks: Sequence[loop.Callback] = (),
) -> loop.TrainResult:
  """Trains a PPM on a pair dataset directory, starting from a policy or a `ValueModel`.

  `init` is a `Transformer` (its backbone is copied and the LM head replaced by the scalar value
  head), a `ValueModel`, or an HF folder of either. Holds out `cfg.eval_fraction` of the problems
  and reports their pairwise accuracy as `eval_acc`. Resumes like `train_sft`.
  """
  out = pathlib.Path(out_dir)
  mesh = mesh or mesh_lib.single_device_mesh()
  tokenizer = loop.marked_tokenizer(tokenizer, "ppm")
  data, stats = ppm_data.load_pairs(data_dir, tokenizer, cfg)
  train, held = ppm_data.split_by_problem(data, cfg.eval_fraction, cfg.seed)
  with jax.set_mesh(mesh):
    model = grow_vocab(value_model(init, mesh), len(tokenizer))
    model = nnx.view(model, head_dropout=cfg.head_dropout)
    layout = loop.host_layout(cfg, mesh)
    pid = loop.pad_id(tokenizer)
    stream, total = loop.train_stream(
      cfg, ppm_data.make_pair_batcher(train, pad_id=pid, cfg=cfg), train.lengths, layout
    )
    if cfg.head_dropout:
      stream = with_dropout_ids(stream, layout, cfg.seed)
    evals = (
      ()
      if held is None
      else inputs.eval_batches(
        len(held), ppm_data.make_pair_batcher(held, pad_id=pid, cfg=cfg), layout=layout
      )
    )
    task = pair_task(cfg, evals)
    model, step, history = loop.run(
      cfg,
      model,
      task,
      stream=stream,
      total_steps=total,
      run_schedule=loop.schedule_fingerprint(
        cfg, task, data_dir=data_dir, examples=len(train), total_steps=total
      ),
      out_dir=out,
      mesh=mesh,
      callbacks=callbacks,
    )
    hf_dir = loop.export(model, out, tokenizer, cfg)
  return loop.TrainResult(
    model,
    step,
    history,
    loop.final_metrics(history),
    loop.stats_dict(stats),
    out / "checkpoints",
    hf_dir,
  )
