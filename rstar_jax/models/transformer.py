"""Decoder-only transformer (policy) and its value-head variant (the PPM)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flax import nnx
import jax
import jax.numpy as jnp

from rstar_jax.models import rope
from rstar_jax.models.attention import AttentionFn
from rstar_jax.models.attention import CausalAttention
from rstar_jax.models.attention import causal_mask
from rstar_jax.models.config import ModelConfig
from rstar_jax.models.layers import DecoderLayer
from rstar_jax.models.layers import Embedding
from rstar_jax.models.layers import RMSNorm
from rstar_jax.models.params import new_param
from rstar_jax.models.params import normal
from rstar_jax.models.sharding import constrain

HEAD_DROPOUT = 0.1  # The official value head's `summary_dropout_prob` (train/rm.py).
# The official head init (train/rm.py): weight ~ N(5e-7, 1e-6²), bias 1e-6, so a fresh PPM scores
# every prefix at about 0.
_HEAD_MEAN, _HEAD_STD, _HEAD_BIAS = 5e-7, 1e-6, 1e-6


def _head_kernel_init(key, shape, dtype):
  return (_HEAD_MEAN + _HEAD_STD * jax.random.normal(key, shape, jnp.float32)).astype(dtype)


def _head_bias_init(key, shape, dtype):
  del key
  return jnp.full(shape, _HEAD_BIAS, dtype)


def _run_layer(layer: DecoderLayer, x_btd, rope_cos_sin, attention: AttentionFn, cache):
  return layer(x_btd, rope_cos_sin, attention, cache)


_run_layer_remat = nnx.remat(_run_layer)


class _Backbone(nnx.Module):
  """Embedding, decoder layers and final norm: what the policy and the PPM share."""

  def __init__(self, config: ModelConfig, *, rngs: nnx.Rngs):
    self.config = config
    self.remat = False
    self.query_block = 0  # Scoring attends all at once; the trainer views it in blocks.
    self.embed = Embedding(config, rngs=rngs)
    self.layers = nnx.List([DecoderLayer(config, rngs=rngs) for _ in range(config.num_layers)])
    self.final_norm = RMSNorm(config, rngs=rngs)

  def set_view(self, remat: bool | None = None, query_block: int | None = None):
    """`nnx.view(model, remat=True)`: the same parameters, each layer rematerialised in the
    backward pass (activation memory of training); the viewed model itself is unchanged.
    `query_block`: queries per block of its causal attention (`attend_in_blocks`; 0: all)."""
    if remat is not None:
      self.remat = remat
    if query_block is not None:
      if query_block < 0:
        raise ValueError(f"query_block must be >= 0, got {query_block}")
      self.query_block = query_block

  def forward(
    self,
    tokens_bt: jax.Array,
    rope_cos_sin: tuple[jax.Array, jax.Array],
    attention: AttentionFn,
    caches: Sequence[Any] | None = None,
    *,
    constrain_batch: bool = True,
  ) -> tuple[jax.Array, tuple[Any, ...]]:
    """Hidden states [B, T, D] before the final norm, and what `attention` wrote per layer.

    `rope_cos_sin`: the rope tables of the tokens' positions; `caches`: per layer, what `attention`
    reads (None: nothing). `constrain_batch` pins the activations to the batch sharding between
    layers (training and scoring); the engine's programs leave that layout to XLA's propagation
    from their batch-sharded inputs and caches.
    """
    run = _run_layer_remat if self.remat else _run_layer

    def pin(x_btd):
      return constrain(x_btd, ("batch", None, None)) if constrain_batch else x_btd

    x_btd = pin(self.embed(tokens_bt))
    written = []
    for layer, cache in zip(self.layers, caches or (None,) * len(self.layers), strict=True):
      x_btd, layer_written = run(layer, x_btd, rope_cos_sin, attention, cache)
      x_btd = pin(x_btd)
      written.append(layer_written)
    return x_btd, tuple(written)

  def hidden_states(
    self,
    tokens_bt: jax.Array,
    positions_bt: jax.Array | None = None,
    *,
    mask_bt: jax.Array | None = None,
  ) -> jax.Array:
    """Final-norm hidden states [B, T, D] under causal attention. Ragged rows: left-pad,
    mask_bt=False on pads, positions counting from 0 at each row's first real token."""
    if positions_bt is None:
      positions_bt = jnp.broadcast_to(jnp.arange(tokens_bt.shape[1]), tokens_bt.shape)
      rope_cos_sin = rope.arange_cos_sin(self.config, tokens_bt.shape[1])
    else:
      rope_cos_sin = rope.cos_sin(self.config, positions_bt)
    allowed_bts = causal_mask(positions_bt, mask_bt, self.config.sliding_window)
    attention = CausalAttention(allowed_bts, self.query_block)
    x_btd, _ = self.forward(tokens_bt, rope_cos_sin, attention)
    return self.final_norm(x_btd)


class Transformer(_Backbone):
  """Causal LM: `model(tokens_bt, positions_bt=None, *, mask_bt=None) -> logits_btv`."""

  def __init__(self, config: ModelConfig, *, rngs: nnx.Rngs):
    super().__init__(config, rngs=rngs)
    if not config.tie_embeddings:
      self.lm_head = new_param(
        rngs,
        normal(0.02),
        (config.hidden_size, config.vocab_size),
        ("embed", "vocab"),
        config.param_dtype,
      )

  def logits(self, h_btd: jax.Array) -> jax.Array:
    dt = self.config.compute_dtype
    if self.config.tie_embeddings:
      return jnp.einsum("btd,vd->btv", h_btd.astype(dt), self.embed.embedding[...].astype(dt))
    return jnp.einsum("btd,dv->btv", h_btd.astype(dt), self.lm_head[...].astype(dt))

  def __call__(
    self,
    tokens_bt: jax.Array,
    positions_bt: jax.Array | None = None,
    *,
    mask_bt: jax.Array | None = None,
  ) -> jax.Array:
    return self.logits(self.hidden_states(tokens_bt, positions_bt, mask_bt=mask_bt))


class ValueModel(_Backbone):
  """The PPM: backbone + scalar head (hidden -> 1, with bias), one raw score per position.

  As the official value head, the head's input goes through dropout (rate `head_dropout`; set it
  with `nnx.view(model, head_dropout=rate)`) when the caller passes per-row dropout keys. Only
  the PPM trainer's training steps do, so scoring and evaluation never drop.
  """

  def __init__(self, config: ModelConfig, *, rngs: nnx.Rngs):
    super().__init__(config, rngs=rngs)
    self.head_dropout = nnx.Dropout(HEAD_DROPOUT)
    self._new_head(rngs)

  def _new_head(self, rngs: nnx.Rngs) -> None:
    cfg = self.config
    self.score_kernel = new_param(
      rngs, _head_kernel_init, (cfg.hidden_size, 1), ("embed", None), cfg.param_dtype
    )
    self.score_bias = new_param(rngs, _head_bias_init, (1,), (None,), cfg.param_dtype)

  def set_view(
    self,
    remat: bool | None = None,
    query_block: int | None = None,
    head_dropout: float | None = None,
  ):
    """`nnx.view(model, head_dropout=rate)`: the same model with the head's dropout rate set."""
    super().set_view(remat, query_block)
    if head_dropout is not None:
      self.head_dropout = nnx.Dropout(head_dropout)

  def scores(self, h_btd: jax.Array, dropout_keys_b: jax.Array | None = None) -> jax.Array:
    if dropout_keys_b is not None:
      h_btd = jax.vmap(lambda h_td, key: self.head_dropout(h_td, rngs=key))(h_btd, dropout_keys_b)
    y = jnp.einsum(
      "btd,do->bto", h_btd.astype(jnp.float32), self.score_kernel[...].astype(jnp.float32)
    )
    return (y + self.score_bias[...].astype(jnp.float32))[..., 0]

  def __call__(
    self,
    tokens_bt: jax.Array,
    positions_bt: jax.Array | None = None,
    *,
    mask_bt: jax.Array | None = None,
    dropout_keys_b: jax.Array | None = None,
  ) -> jax.Array:
    h_btd = self.hidden_states(tokens_bt, positions_bt, mask_bt=mask_bt)
    return self.scores(h_btd, dropout_keys_b)

  @classmethod
  def from_policy(cls, policy: Transformer, *, rngs: nnx.Rngs | None = None) -> ValueModel:
    """PPM initialised from a policy: backbone copied (own buffers), LM head dropped, fresh head."""
    ppm = nnx.eval_shape(lambda: cls(policy.config, rngs=nnx.Rngs(0)))
    backbone = jax.tree.map(jnp.copy, nnx.state(policy, nnx.Param))
    if not policy.config.tie_embeddings:
      del backbone["lm_head"]
    nnx.update(ppm, backbone)
    ppm._new_head(rngs or nnx.Rngs(0))
    return ppm
