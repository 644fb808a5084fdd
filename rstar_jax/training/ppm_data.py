"""PPM pair dataset: records -> (prompt+pos, prompt+neg) tokens -> train / held-out split -> batches."""

import dataclasses
import pathlib

import numpy as np

from rstar_jax.data import records
from rstar_jax.data import schemas
from rstar_jax.training import encode
from rstar_jax.training import inputs
from rstar_jax.training.config import PPMConfig


def official_factor(pos_count: int, neg_count: int) -> float:
  """The official pair weight (`train/rm.py`): the pairs of one node together weigh about 1."""
  if pos_count == 0 or neg_count == 0:
    return 1.0 / (pos_count + neg_count)
  return 1.0 / (pos_count * neg_count)


def pair_weight(pair: schemas.PPMPair, weighting: str) -> float:
  """1 under 'uniform' weighting, and for pairs written without their node's counts."""
  if weighting == "uniform" or pair.pos_count is None:
    return 1.0
  return official_factor(pair.pos_count, pair.neg_count)


@dataclasses.dataclass(frozen=True)
class PairData:
  pos: inputs.Ragged
  neg: inputs.Ragged
  q_n2: np.ndarray  # (N, 2) float32 Q-values of (pos, neg); zeros unless the objective is PQM.
  weight_n: np.ndarray  # (N,) float32 loss weight of each pair (`PPMConfig.pair_weighting`).
  problem_ids: tuple[str, ...]

  def __len__(self) -> int:
    return len(self.pos)

  @property
  def lengths(self) -> np.ndarray:
    """Each pair's padded length: its longer side."""
    return np.maximum(self.pos.lengths, self.neg.lengths)

  def subset(self, idx: np.ndarray) -> "PairData":
    def take(rows: inputs.Ragged) -> inputs.Ragged:
      return inputs.Ragged.from_rows([rows[i] for i in idx], np.int32)

    return PairData(
      take(self.pos),
      take(self.neg),
      self.q_n2[idx],
      self.weight_n[idx],
      tuple(self.problem_ids[i] for i in idx),
    )


def load_pairs(
  data_dir: str | pathlib.Path, tokenizer: encode.Tokenizer, cfg: PPMConfig
) -> tuple[PairData, encode.EncodeStats]:
  """Tokenised pairs; PQM requires Q-values. ORM scores complete solutions: each side followed
  by its completion when the pair has them, and only pairs whose sides both end in an answer."""
  stats = encode.EncodeStats()
  pos, neg, qs, weights, ids = [], [], [], [], []
  for where, pair in records.read_examples(data_dir, schemas.PPMPair):
    stats.records += 1
    if cfg.objective == "pqm" and pair.pos_q is None:
      raise ValueError(f"{where}: missing fields 'pos_q', 'neg_q' (PQM trains on Q-values)")
    texts = (pair.pos, pair.neg)
    if cfg.objective == "orm":
      texts = (pair.pos + (pair.pos_completion or ""), pair.neg + (pair.neg_completion or ""))
      if not all(cfg.terminal_marker in t for t in texts):
        stats.filtered += 1
        continue
    sides = [
      encode.encode_scored(
        pair.prompt + text, tokenizer, max_len=cfg.max_len, overlong=cfg.overlong, stats=stats
      )
      for text in texts
    ]
    if sides[0] is None or sides[1] is None:
      continue
    stats.used += 1
    pos.append(sides[0])
    neg.append(sides[1])
    qs.append([0.0, 0.0] if pair.pos_q is None else [float(pair.pos_q), float(pair.neg_q)])
    weights.append(pair_weight(pair, cfg.pair_weighting))
    ids.append(pair.problem_id)
  stats.log(f"PPM pairs {data_dir}")
  if not pos:
    raise ValueError(
      f"PPM pairs {data_dir}: no usable pair among {stats.records} records "
      f"({stats.filtered} not complete trajectories for ORM, "
      f"{stats.dropped_overlong} sides longer than max_len={cfg.max_len})"
    )
  data = PairData(
    inputs.Ragged.from_rows(pos, np.int32),
    inputs.Ragged.from_rows(neg, np.int32),
    np.asarray(qs, np.float32),
    np.asarray(weights, np.float32),
    tuple(ids),
  )
  return data, stats


def split_by_problem(
  data: PairData, fraction: float, seed: int
) -> tuple[PairData, PairData | None]:
  """Holds out whole problems, so held-out accuracy never sees a training prefix."""
  problems = sorted(set(data.problem_ids))
  n_eval = round(fraction * len(problems))
  if n_eval == 0 or n_eval == len(problems):
    return data, None
  held = set(np.random.default_rng(seed).permutation(problems)[:n_eval].tolist())
  is_eval = np.array([p in held for p in data.problem_ids])
  return data.subset(np.flatnonzero(~is_eval)), data.subset(np.flatnonzero(is_eval))


def make_pair_batcher(data: PairData, *, pad_id: int, cfg: PPMConfig) -> inputs.Batcher:
  """Global batch indices -> this host's (A, M, 2, T) tokens with last-token indices, Q and
  pair weights."""
  lengths_n2 = np.stack([data.pos.lengths, data.neg.lengths], axis=1)
  pair_lengths = data.lengths

  def make(idx: np.ndarray, layout: inputs.Layout) -> inputs.HostBatch:
    rows_am = layout.host_rows(idx)
    t = inputs.bucket_length(int(pair_lengths[idx].max()), cfg.bucket_multiple, cfg.max_len)
    flat = rows_am.reshape(-1)
    tokens = np.stack(
      [inputs.pad_rows(data.pos, flat, t, pad_id), inputs.pad_rows(data.neg, flat, t, pad_id)],
      axis=1,
    )
    lens_m2 = lengths_n2[flat]
    mask = np.arange(t)[None, None, :] < lens_m2[..., None]
    am = rows_am.shape
    return {
      "tokens": tokens.reshape(*am, 2, t),
      "mask": mask.reshape(*am, 2, t),
      "last": (lens_m2 - 1).astype(np.int32).reshape(*am, 2),
      "q": data.q_n2[flat].reshape(*am, 2),
      "pair_weight": data.weight_n[flat].reshape(am),
      "valid": np.ones(am, np.float32),
    }

  return make
