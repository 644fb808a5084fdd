"""`Scorer.score`: batched PPM values at the last token of each text, bucketed like the sampler."""
from __future__ import annotations

import contextlib
from typing import Sequence

from flax import nnx
import jax
import jax.numpy as jnp
from jax.sharding import Mesh
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
import numpy as np

from rstar_jax.inference.buckets import ProgramCounter
from rstar_jax.inference.buckets import bucket
from rstar_jax.inference.buckets import length_bucket
from rstar_jax.inference.config import EngineConfig
from rstar_jax.inference.config import EngineStats
from rstar_jax.models import ValueModel
from rstar_jax.models.sharding import fit_spec


def squash(raw: np.ndarray, how: str) -> np.ndarray:
  """The official code trains raw scores and reads tanh(r / 5) at inference."""
  if how == "tanh5":
    return np.tanh(raw / 5.0)
  if how == "sigmoid":
    return 1.0 / (1.0 + np.exp(-raw))
  return raw


def _last_token_scores(graphdef, state, tokens_bt, lengths_b):
  model: ValueModel = nnx.merge(graphdef, state)
  b, t = tokens_bt.shape
  mask = jnp.arange(t)[None] < lengths_b[:, None]
  h = model.hidden_states(tokens_bt, mask_bt=mask)
  return model.scores(h[jnp.arange(b), lengths_b - 1][:, None])[:, 0]


class Scorer:
  """Scores texts (prompt + partial solution) with the PPM (or an ORM/PQM value model)."""

  def __init__(self, model: ValueModel, tokenizer, config: EngineConfig = EngineConfig(), *,
               mesh: Mesh | None = None):
    if not isinstance(model, ValueModel):
      raise TypeError(f"Scorer needs a ValueModel, got {type(model).__name__}")
    self.config = config
    self.tokenizer = tokenizer
    self.mesh = mesh
    self.max_seq_len = config.max_seq_len or model.config.max_position_embeddings
    self.stats = EngineStats()
    self._programs = ProgramCounter()
    self._graphdef, self._params = nnx.split(model)
    self._score = jax.jit(_last_token_scores, static_argnums=0)

  def score(self, texts: Sequence[str]) -> np.ndarray:
    """Squashed scores, float32, one per text."""
    if isinstance(texts, str):
      raise TypeError("texts must be a sequence of strings, not one string")
    if len(texts) == 0:
      return np.zeros((0,), np.float32)
    ids = [self.tokenizer.encode(t) for t in texts]
    for i, toks in enumerate(ids):
      if not toks:
        raise ValueError(f"text {i} encodes to no tokens")
      if len(toks) > self.max_seq_len:
        raise ValueError(f"text {i} has {len(toks)} tokens, more than the maximum context {self.max_seq_len}")
    raw = np.zeros((len(ids),), np.float32)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    start = 0
    while start < len(order):
      group = [order[start]]
      while start + len(group) < len(order):
        trial = group + [order[start + len(group)]]
        size = bucket(len(trial), self.config.min_batch_bucket) * length_bucket(
            len(ids[trial[-1]]), self.config.min_length_bucket)
        if size > self.config.max_prefill_tokens:
          break
        group = trial
      raw[group] = self._score_group([ids[i] for i in group])
      start += len(group)
    self.stats.scored_texts += len(texts)
    self.stats.prefill_tokens += sum(len(t) for t in ids)
    self.stats.compiled_programs = len(self._programs)
    return squash(raw, self.config.squash).astype(np.float32)

  def _score_group(self, ids: list[list[int]]) -> np.ndarray:
    b = bucket(len(ids), self.config.min_batch_bucket)
    length = length_bucket(max(len(t) for t in ids), self.config.min_length_bucket)
    tokens = np.full((b, length), self.tokenizer.pad_token_id or 0, np.int32)
    lengths = np.ones((b,), np.int32)
    for i, toks in enumerate(ids):
      tokens[i, :len(toks)] = toks
      lengths[i] = len(toks)
    self._programs.record("score", b, length)
    context = jax.set_mesh(self.mesh) if self.mesh is not None else contextlib.nullcontext()
    with context:
      if self.mesh is not None:
        tokens, lengths = (jax.device_put(a, NamedSharding(self.mesh, fit_spec(P(("data", "fsdp")), a.shape,
                                                                               self.mesh)))
                           for a in (tokens, lengths))
      out = self._score(self._graphdef, self._params, tokens, lengths)
    return np.asarray(out)[:len(ids)]
