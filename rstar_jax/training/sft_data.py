"""SFT dataset: records -> tokens with response-only loss weights -> padded batches."""

import dataclasses
import pathlib

import numpy as np

from rstar_jax.data import records
from rstar_jax.data import schemas
from rstar_jax.training import encode
from rstar_jax.training import inputs
from rstar_jax.training.config import SFTConfig


@dataclasses.dataclass(frozen=True)
class SFTData:
  tokens: inputs.Ragged
  targets: inputs.Ragged  # True where the token carries loss (is predicted).
  stats: encode.EncodeStats

  def __len__(self) -> int:
    return len(self.tokens)


def load_sft(data_dir: str | pathlib.Path, tokenizer: encode.Tokenizer, cfg: SFTConfig) -> SFTData:
  stats = encode.EncodeStats()
  encoded = []
  for where, example in records.read_examples(data_dir, schemas.SFTExample):
    tokens = encode.encode_sft(
      example,
      where,
      tokenizer,
      max_len=cfg.max_len,
      overlong=cfg.overlong,
      append_eos=cfg.append_eos,
      stats=stats,
    )
    if tokens is not None:
      encoded.append(tokens)
  stats.log(f"SFT data {data_dir}")
  if not encoded:
    raise ValueError(
      f"SFT data {data_dir}: no usable example among {stats.records} records "
      f"({stats.dropped_overlong} longer than max_len={cfg.max_len}, "
      f"{stats.dropped_no_target} without response tokens)"
    )
  return SFTData(
    inputs.Ragged.from_rows([e.tokens for e in encoded], np.int32),
    inputs.Ragged.from_rows([e.targets for e in encoded], bool),
    stats,
  )


def make_sft_batcher(data: SFTData, *, pad_id: int, cfg: SFTConfig) -> inputs.Batcher:
  """A function from global batch indices to this host's padded (A, M, T) SFT batch.

  `T` comes from the longest row of the whole global batch, which every host sees; `labels` are
  the next tokens and `weights` mark the labels that are response tokens. Length-grouped runs
  also get `norm`, every row the dataset's mean number of weighted labels: its sum over a batch
  is their loss denominator (`sft_task`).
  """
  lengths = data.tokens.lengths
  first_of_row = data.targets.flat[data.targets.offsets[:-1]]
  mean_weight = (data.targets.flat.sum() - first_of_row.sum()) / len(data)

  def make(idx: np.ndarray, layout: inputs.Layout) -> inputs.HostBatch:
    rows_am = layout.host_rows(idx)
    t = inputs.bucket_length(int(lengths[idx].max()), cfg.bucket_multiple, cfg.max_len)
    flat = rows_am.reshape(-1)
    tokens = inputs.pad_rows(data.tokens, flat, t, pad_id)
    targets = inputs.pad_rows(data.targets, flat, t, False)
    mask = np.arange(t)[None, :] < lengths[flat][:, None]
    labels = np.concatenate([tokens[:, 1:], np.full((len(flat), 1), pad_id, np.int32)], axis=1)
    weights = np.concatenate([targets[:, 1:], np.zeros((len(flat), 1), bool)], axis=1)
    shape = (*rows_am.shape, t)
    batch = {
      "tokens": tokens.reshape(shape),
      "mask": mask.reshape(shape),
      "labels": labels.reshape(shape),
      "weights": weights.astype(np.float32).reshape(shape),
    }
    if cfg.groups_by_length:
      batch["norm"] = np.full(rows_am.shape, mean_weight, np.float32)
    return batch

  return make
