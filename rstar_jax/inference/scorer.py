"""`Scorer.score`: batched PPM values at the last token of each text, bucketed like the sampler."""

from __future__ import annotations

from collections.abc import Sequence

from flax import nnx
import jax
import jax.numpy as jnp
from jax.sharding import Mesh
import numpy as np

from rstar_jax.inference.batching import Batcher
from rstar_jax.inference.buckets import ProgramCounter
from rstar_jax.inference.config import EngineStats
from rstar_jax.inference.config import ScorerConfig
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
    for group in self._batcher.groups([len(t) for t in ids]):
      raw[group] = self._score_group([ids[i] for i in group])
    self.stats.scored_texts += len(texts)
    self.stats.prefill_tokens += sum(len(t) for t in ids)
    self.stats.compiled_programs = len(self._programs)
    return squash(raw, self.config.squash).astype(np.float32)

  def _score_group(self, ids: list[list[int]]) -> np.ndarray:
    tokens, lengths = self._batcher.pad(ids)
    self._programs.record("score", *tokens.shape)
    with self._batcher.scope():
      out = self._score(
        self._graphdef, self._params, self._batcher.put(tokens), self._batcher.put(lengths)
      )
    return np.asarray(out)[: len(ids)]
