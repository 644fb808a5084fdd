"""Transformer building blocks shared by the policy, the PPM and the inference engine."""

from __future__ import annotations

from typing import Any

from flax import nnx
import jax
import jax.numpy as jnp

from rstar_jax.models.attention import AttentionFn
from rstar_jax.models.config import ModelConfig
from rstar_jax.models.params import new_param
from rstar_jax.models.params import normal
from rstar_jax.models.params import ones
from rstar_jax.models.params import zeros
from rstar_jax.models.rope import apply_rope

_INIT_STD = 0.02


class RMSNorm(nnx.Module):
  """RMS normalisation computed in fp32 (as transformers does), scaled in the input dtype."""

  def __init__(self, config: ModelConfig, *, rngs: nnx.Rngs):
    self.eps = config.rms_norm_eps
    self.scale = new_param(rngs, ones, (config.hidden_size,), ("embed",), config.param_dtype)

  def __call__(self, x_btd: jax.Array) -> jax.Array:
    x = x_btd.astype(jnp.float32)
    x = x * jax.lax.rsqrt(jnp.mean(x * x, axis=-1, keepdims=True) + self.eps)
    return self.scale[...].astype(x_btd.dtype) * x.astype(x_btd.dtype)


class Attention(nnx.Module):
  """Grouped-query attention projections with RoPE; an injected `AttentionFn` does the softmax part."""

  def __init__(self, config: ModelConfig, *, rngs: nnx.Rngs):
    c = config
    self.config = c
    d, n, k, h, dt = c.hidden_size, c.num_heads, c.num_kv_heads, c.head_dim, c.param_dtype
    self.q_proj = new_param(rngs, normal(_INIT_STD), (d, n, h), ("embed", "heads", "head_dim"), dt)
    self.k_proj = new_param(
      rngs, normal(_INIT_STD), (d, k, h), ("embed", "kv_heads", "head_dim"), dt
    )
    self.v_proj = new_param(
      rngs, normal(_INIT_STD), (d, k, h), ("embed", "kv_heads", "head_dim"), dt
    )
    self.o_proj = new_param(rngs, normal(_INIT_STD), (n, h, d), ("heads", "head_dim", "embed"), dt)
    if c.qkv_bias:
      self.q_bias = new_param(rngs, zeros, (n, h), ("heads", "head_dim"), dt)
      self.k_bias = new_param(rngs, zeros, (k, h), ("kv_heads", "head_dim"), dt)
      self.v_bias = new_param(rngs, zeros, (k, h), ("kv_heads", "head_dim"), dt)
    if c.o_bias:
      self.o_bias = new_param(rngs, zeros, (d,), ("embed",), dt)

  def qkv(self, x_btd: jax.Array, rope_cos_sin: tuple[jax.Array, jax.Array]):
    """Returns RoPE-applied q [B,T,N,H] and k, v [B,T,K,H] in the compute dtype.

    `rope_cos_sin`: the tables of `rope.cos_sin` (or `rope.arange_cos_sin`) for x's positions.
    """
    dt = self.config.compute_dtype
    x = x_btd.astype(dt)
    q = jnp.einsum("btd,dnh->btnh", x, self.q_proj[...].astype(dt))
    k = jnp.einsum("btd,dkh->btkh", x, self.k_proj[...].astype(dt))
    v = jnp.einsum("btd,dkh->btkh", x, self.v_proj[...].astype(dt))
    if self.config.qkv_bias:
      q = q + self.q_bias[...].astype(dt)
      k = k + self.k_bias[...].astype(dt)
      v = v + self.v_bias[...].astype(dt)
    cos, sin = rope_cos_sin
    return apply_rope(q, cos, sin), apply_rope(k, cos, sin), v

  def out(self, o_btnh: jax.Array) -> jax.Array:
    dt = self.config.compute_dtype
    y = jnp.einsum("btnh,nhd->btd", o_btnh.astype(dt), self.o_proj[...].astype(dt))
    if self.config.o_bias:
      y = y + self.o_bias[...].astype(dt)
    return y


class MLP(nnx.Module):
  """SwiGLU feed-forward."""

  def __init__(self, config: ModelConfig, *, rngs: nnx.Rngs):
    self.compute_dtype = config.compute_dtype
    d, f, dt = config.hidden_size, config.intermediate_size, config.param_dtype
    self.gate = new_param(rngs, normal(_INIT_STD), (d, f), ("embed", "mlp"), dt)
    self.up = new_param(rngs, normal(_INIT_STD), (d, f), ("embed", "mlp"), dt)
    self.down = new_param(rngs, normal(_INIT_STD), (f, d), ("mlp", "embed"), dt)

  def __call__(self, x_btd: jax.Array) -> jax.Array:
    dt = self.compute_dtype
    x = x_btd.astype(dt)
    gate = jnp.einsum("btd,df->btf", x, self.gate[...].astype(dt))
    up = jnp.einsum("btd,df->btf", x, self.up[...].astype(dt))
    return jnp.einsum("btf,fd->btd", jax.nn.silu(gate) * up, self.down[...].astype(dt))


class DecoderLayer(nnx.Module):
  """Pre-norm attention + MLP block with residuals: the one layer forward of every code path.

  Training, scoring, prefill and decode differ only in the `attention` they inject (and the
  layer cache it reads); see `attention.AttentionFn`.
  """

  def __init__(self, config: ModelConfig, *, rngs: nnx.Rngs):
    self.attn_norm = RMSNorm(config, rngs=rngs)
    self.attn = Attention(config, rngs=rngs)
    self.mlp_norm = RMSNorm(config, rngs=rngs)
    self.mlp = MLP(config, rngs=rngs)

  def __call__(
    self,
    x_btd: jax.Array,
    rope_cos_sin: tuple[jax.Array, jax.Array],
    attention: AttentionFn,
    cache: Any = None,
  ) -> tuple[jax.Array, Any]:
    """The layer's output [B, T, D] and what `attention` wrote for this layer."""
    q, k, v = self.attn.qkv(self.attn_norm(x_btd), rope_cos_sin)
    o, written = attention(q, k, v, cache)
    x_btd = x_btd + self.attn.out(o)
    return x_btd + self.mlp(self.mlp_norm(x_btd)), written


class Embedding(nnx.Module):
  def __init__(self, config: ModelConfig, *, rngs: nnx.Rngs):
    self.compute_dtype = config.compute_dtype
    self.embedding = new_param(
      rngs,
      normal(_INIT_STD),
      (config.vocab_size, config.hidden_size),
      ("vocab", "embed"),
      config.param_dtype,
    )

  def __call__(self, tokens_bt: jax.Array) -> jax.Array:
    return jnp.take(self.embedding[...], tokens_bt, axis=0).astype(self.compute_dtype)
