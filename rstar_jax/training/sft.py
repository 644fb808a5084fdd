"""SFT of the policy on verified trajectories: next-token cross-entropy on response tokens."""

from collections.abc import Sequence
import functools
import pathlib
from typing import Any

import grain
import jax
from jax.sharding import Mesh

from rstar_jax.models.vocab import grow_vocab
from rstar_jax.runtime import mesh as mesh_lib
from rstar_jax.training import inputs
from rstar_jax.training import loop
from rstar_jax.training import losses
from rstar_jax.training import sft_data
from rstar_jax.training.config import SFTConfig


def _summarize(sums: dict[str, float]) -> dict[str, float]:
  return {"tokens": sums["weight"]}


def sft_task(cfg: SFTConfig) -> loop.Task:
  """Plain batches divide the loss by the batch's response tokens, a token mean. Length-grouped
  batches divide by the tokens a batch holds on average (`norm`): a batch of short rows has
  fewer tokens, and dividing by its own count would weigh each of them more than a long row's
  (measured: a bootstrap trained so lost 13 points, most on the long stories)."""
  weight_key = "norm" if cfg.groups_by_length else "weights"
  return loop.Task(
    "sft", functools.partial(losses.sft_loss, chunk=cfg.loss_chunk), weight_key, _summarize
  )


def sft_stream(
  data: sft_data.SFTData, cfg: SFTConfig, layout: inputs.Layout, pad_id: int
) -> tuple[grain.MapDataset, int]:
  """The run's padded SFT batches and the number of steps its schedule spans."""
  return loop.train_stream(
    cfg, sft_data.make_sft_batcher(data, pad_id=pad_id, cfg=cfg), data.tokens.lengths, layout
  )


def train_sft(
  cfg: SFTConfig,
  *,
  data_dir: str | pathlib.Path,
  init: Any,
  tokenizer: Any,
  out_dir: str | pathlib.Path,
  mesh: Mesh | None = None,
  callbacks: Sequence[loop.Callback] = (),
  stop: loop.EarlyStop | None = None,
) -> loop.TrainResult:
  """Trains a policy (`Transformer` or HF folder) on an SFT dataset directory (until `stop`'s
  goal is reached, when given).

  As the official trainer, it first adds the step markers the tokenizer lacks as special tokens
  and grows the model's vocabulary when they do not fit (`grow_vocab`). Resumes from the latest
  checkpoint under `out_dir/checkpoints` when there is one; a run that already finished returns
  its final model without training. Writes `metrics.jsonl`, `tensorboard/` and (with
  `cfg.export_hf`) an HF folder `out_dir/hf`, with the tokenizer holding the markers.
  """
  out = pathlib.Path(out_dir)
  mesh = mesh or mesh_lib.single_device_mesh()
  tokenizer = loop.marked_tokenizer(tokenizer, "sft")
  data = sft_data.load_sft(data_dir, tokenizer, cfg)
  with jax.set_mesh(mesh):
    model = grow_vocab(loop.load_init(init, mesh), len(tokenizer))
    layout = loop.host_layout(cfg, mesh)
    stream, total = sft_stream(data, cfg, layout, loop.pad_id(tokenizer))
    task = sft_task(cfg)
    model, step, history = loop.run(
      cfg,
      model,
      task,
      stream=stream,
      total_steps=total,
      run_schedule=loop.schedule_fingerprint(
        cfg, task, data_dir=data_dir, examples=len(data), total_steps=total
      ),
      out_dir=out,
      mesh=mesh,
      callbacks=callbacks,
      stop=stop,
    )
    hf_dir = loop.export(model, out, tokenizer, cfg)
  return loop.TrainResult(
    model,
    step,
    history,
    loop.final_metrics(history),
    loop.stats_dict(data.stats),
    out / "checkpoints",
    hf_dir,
  )
