"""Attention as an injected strategy, and the masking rules every strategy shares.

A decoder layer computes q, k, v and hands them to an `AttentionFn`, which owns the softmax part
and whatever cache it reads or writes: full causal attention for training and scoring
(`CausalAttention`), or the inference engine's prefill and shared-prefix decode. The masking
constant and the sliding-window rule live here only, so every strategy masks alike.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Protocol

import jax
import jax.numpy as jnp

MASKED = -1e30  # finite, so fully masked (padding) rows give uniform weights instead of NaN


class AttentionFn(Protocol):
  """`(q [B,T,N,H], k, v [B,T,K,H], cache) -> (o [B,T,N,H], written)` for one layer.

  `cache` is what the strategy reads for this layer (None when it keeps none); `written` is what
  it stores for the caller (None when nothing).
  """

  def __call__(
    self, q_btnh: jax.Array, k_btkh: jax.Array, v_btkh: jax.Array, cache: Any
  ) -> tuple[jax.Array, Any]: ...


def in_window(
  allowed: jax.Array, query_pos: jax.Array, key_pos: jax.Array, sliding_window: int | None
) -> jax.Array:
  """`allowed` restricted to keys fewer than `sliding_window` positions behind their query."""
  if sliding_window is None:
    return allowed
  return allowed & (query_pos - key_pos < sliding_window)


def causal_mask(
  positions_bt: jax.Array, mask_bt: jax.Array | None, sliding_window: int | None
) -> jax.Array:
  """[B, T, T] keys each query may attend to: causal, real (mask_bt) and inside the window."""
  b, t = positions_bt.shape
  allowed = jnp.broadcast_to(jnp.tril(jnp.ones((t, t), bool)), (b, t, t))
  if mask_bt is not None:
    allowed = allowed & mask_bt[:, None, :].astype(bool)
  return in_window(allowed, positions_bt[:, :, None], positions_bt[:, None, :], sliding_window)


def attend(
  q_btnh: jax.Array, k_bskh: jax.Array, v_bskh: jax.Array, allowed_bts: jax.Array
) -> jax.Array:
  """Softmax attention of T queries over S keys with GQA; fp32 scores and softmax.

  Computed head-major, with each KV head's query group folded into the query axis (m = g*T + t),
  so both products are plain batched matmuls over 4-D arrays: XLA:CPU runs this form (and its
  gradient) ~1.6x faster than the 5-D grouped einsum.
  """
  b, t, n, h = q_btnh.shape
  kv = k_bskh.shape[2]
  g = n // kv
  q_bkmh = q_btnh.reshape(b, t, kv, g, h).transpose(0, 2, 3, 1, 4).reshape(b, kv, g * t, h)
  k_bksh, v_bksh = k_bskh.transpose(0, 2, 1, 3), v_bskh.transpose(0, 2, 1, 3)
  scores = jnp.einsum("bkmh,bksh->bkms", q_bkmh, k_bksh, preferred_element_type=jnp.float32)
  allowed_bms = jnp.tile(allowed_bts, (1, g, 1)) if g > 1 else allowed_bts
  scores = jnp.where(allowed_bms[:, None], scores * (h**-0.5), MASKED)
  probs = jax.nn.softmax(scores, axis=-1).astype(v_bskh.dtype)
  o_bkmh = jnp.einsum("bkms,bksh->bkmh", probs, v_bksh)
  return o_bkmh.reshape(b, kv, g, t, h).transpose(0, 3, 1, 2, 4).reshape(b, t, n, h)


def attend_in_blocks(
  q_btnh: jax.Array, k_bskh: jax.Array, v_bskh: jax.Array, allowed_bts: jax.Array, block: int
) -> jax.Array:
  """`attend`, with the queries taken `block` at a time (padded up to equal blocks) and each
  block's softmax recomputed in the backward pass: the same result, but the backward pass holds
  one block's [B, K, g*block, S] fp32 buffers instead of several full [B, K, g*T, S] ones (at the
  world PPM's 64 x 512 tokens: 1.75 GiB of XLA temporaries instead of 4.6, docs/benchmarks.md)."""
  b, t, n, h = q_btnh.shape
  if not block or t <= block:
    return attend(q_btnh, k_bskh, v_bskh, allowed_bts)
  count = -(-t // block)
  size = -(-t // count)  # Equal blocks with the least padding.
  pad = count * size - t
  q_cbqnh = jnp.pad(q_btnh, ((0, 0), (0, pad), (0, 0), (0, 0))).reshape(b, count, size, n, h)
  allowed_cbqs = jnp.pad(allowed_bts, ((0, 0), (0, pad), (0, 0))).reshape(b, count, size, -1)

  @jax.checkpoint
  def one_block(q_and_allowed):
    return attend(q_and_allowed[0], k_bskh, v_bskh, q_and_allowed[1])

  o_cbqnh = jax.lax.map(one_block, (q_cbqnh.swapaxes(0, 1), allowed_cbqs.swapaxes(0, 1)))
  return o_cbqnh.swapaxes(0, 1).reshape(b, count * size, n, h)[:, :t]


@functools.partial(
  jax.tree_util.register_dataclass, data_fields=["allowed_bts"], meta_fields=["query_block"]
)
@dataclasses.dataclass(frozen=True)
class CausalAttention:
  """Self-attention of a whole sequence under `allowed_bts` (see `causal_mask`), `query_block`
  queries at a time (`attend_in_blocks`; 0: all at once); no cache.

  A pytree whose block size is static, so it passes through `nnx.remat` as an argument like the
  mask it holds.
  """

  allowed_bts: jax.Array
  query_block: int = 0

  def __call__(self, q_btnh, k_btkh, v_btkh, cache: None) -> tuple[jax.Array, None]:
    del cache
    return attend_in_blocks(q_btnh, k_btkh, v_btkh, self.allowed_bts, self.query_block), None
