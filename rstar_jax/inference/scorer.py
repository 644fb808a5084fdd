"""`Scorer.score`: batched PPM values at the last token of each text, bucketed like the sampler.

With `ScorerConfig.cache_pages` set, a radix prefix cache keeps every scored text's KV: the
candidates of one node share their parent's text, scored one depth earlier, so each runs only
its own step.
"""

from __future__ import annotations

from collections.abc import Sequence

from flax import nnx
import jax
import jax.numpy as jnp
from jax.sharding import Mesh
import numpy as np

from rstar_jax.inference import paged
from rstar_jax.inference.batching import Batcher
from rstar_jax.inference.buckets import ProgramCounter
from rstar_jax.inference.config import EngineStats
from rstar_jax.inference.config import ScorerConfig
from rstar_jax.inference.prefix_cache import Reservation
from rstar_jax.inference.prefix_cache import new_cache
from rstar_jax.inference.prefix_cache import reserved
from rstar_jax.models import ValueModel


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


def _paged_last_token_scores(graphdef, state, tokens_pu, start_p, new_p, pages_pm, pool):
  model: ValueModel = nnx.merge(graphdef, state)
  h_p1d, _, pool = paged.prefill(model, tokens_pu, start_p, new_p, pages_pm, pool)
  return model.scores(h_p1d)[:, 0], pool


class Scorer:
  """Scores texts (prompt + partial solution) with the PPM (or an ORM/PQM value model)."""

  def __init__(
    self,
    model: ValueModel,
    tokenizer,
    config: ScorerConfig = ScorerConfig(),
    *,
    mesh: Mesh | None = None,
  ):
    if not isinstance(model, ValueModel):
      raise TypeError(f"Scorer needs a ValueModel, got {type(model).__name__}")
    if not isinstance(config, ScorerConfig):
      raise TypeError(f"Scorer needs a ScorerConfig, got {type(config).__name__}")
    self.config = config
    self.tokenizer = tokenizer
    self.mesh = mesh
    self._batcher = Batcher(config, pad_id=tokenizer.pad_token_id or 0, mesh=mesh)
    self.max_seq_len = config.max_seq_len or model.config.max_position_embeddings
    self.stats = EngineStats()
    self._programs = ProgramCounter()
    self._graphdef, self._params = nnx.split(model)
    self._score = jax.jit(_last_token_scores, static_argnums=0)
    self._paged_score = jax.jit(_paged_last_token_scores, static_argnums=0, donate_argnums=6)
    self._cache = new_cache(
      model.config, config.cache_pages, config.page_size, self.max_seq_len, mesh
    )

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
    # An overlong text is scored on its last tokens, as the PPM trainer keeps them: the scored
    # step (the last token) survives, and one long partial solution never aborts a search.
    ids = [toks[-self.max_seq_len :] for toks in ids]
    raw = np.zeros((len(ids),), np.float32)
    cached = [0 if self._cache is None else self._cache.cached_length(t) for t in ids]
    for group in self._batcher.groups([len(t) - c for t, c in zip(ids, cached)]):
      for indices, reservation in reserved(self._cache, group, ids):
        raw[indices] = self._score_group([ids[i] for i in indices], reservation)
    self.stats.scored_texts += len(texts)
    self.stats.requested_tokens += sum(len(t) for t in ids)
    self.stats.compiled_programs = len(self._programs)
    if self._cache is not None:
      self._cache.record(self.stats)
    return squash(raw, self.config.squash).astype(np.float32)

  def _score_group(self, ids: list[list[int]], reservation: Reservation | None) -> np.ndarray:
    put = self._batcher.put
    if reservation is None:
      tokens, lengths = self._batcher.pad(ids)
      self._programs.record("score", *tokens.shape)
      self.stats.prefill_tokens += sum(len(t) for t in ids)
      with self._batcher.scope():
        out = self._score(self._graphdef, self._params, put(tokens), put(lengths))
      return np.asarray(out)[: len(ids)]
    cache = self._cache
    tokens, starts, counts, tables = cache.arrays(
      reservation, self._batcher, self.config.min_length_bucket, self.stats
    )
    self._programs.record("paged_score", *tokens.shape, tables.shape[1])
    with self._batcher.scope():
      out, cache.pool = self._paged_score(
        self._graphdef, self._params, put(tokens), put(starts), put(counts), put(tables), cache.pool
      )
    cache.keep(reservation)
    return np.asarray(out)[: len(ids)]
