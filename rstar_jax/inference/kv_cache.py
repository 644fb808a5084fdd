"""The engine's KV-cache layout and the two attention strategies that fill and read it.

Each prompt's KV (the prefix) is stored once and shared by its n samples; each sample keeps its
own small suffix cache. Prefill runs the decoder layer with causal attention that also keeps the
prompts' KV; decode runs it with one query per row against the prefix (read once per group of n
rows, Hydragen-style) and the row's suffix, merged in a single softmax. Masking follows
`models.attention`. A new cache layout is an edit of this module only.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from rstar_jax.models.attention import MASKED
from rstar_jax.models.attention import attend
from rstar_jax.models.attention import in_window


class KV(NamedTuple):
  """One layer's keys and values, in the layout of the cache that holds them."""

  k: jax.Array
  v: jax.Array


class Prefix(NamedTuple):
  """KV of P prompts (right-padded to L): per layer k, v [P, K, L, H] (batch dims leading, so the
  per-step attention reads them without a transpose); lengths [P]."""

  kv: tuple[KV, ...]
  lengths_p: jax.Array


def empty_suffix(prefix: Prefix, n: int, steps: int) -> tuple[KV, ...]:
  """Per layer, zeroed suffix caches k, v [P, K, n, S, H]: n samples of `steps` tokens per prompt."""
  p, kv, _, h = prefix.kv[0].k.shape
  shape = (p, kv, n, steps, h)
  return tuple(
    KV(jnp.zeros(shape, layer.k.dtype), jnp.zeros(shape, layer.v.dtype)) for layer in prefix.kv
  )


class PrefillAttention(NamedTuple):
  """Causal attention over the prompts under `allowed_bts` that also writes each layer's KV in the
  prefix layout."""

  allowed_bts: jax.Array

  def __call__(self, q_ptnh, k_ptkh, v_ptkh, cache: None) -> tuple[jax.Array, KV]:
    del cache
    return (
      attend(q_ptnh, k_ptkh, v_ptkh, self.allowed_bts),
      KV(k_ptkh.transpose(0, 2, 1, 3), v_ptkh.transpose(0, 2, 1, 3)),
    )


class DecodeAttention(NamedTuple):
  """One new token per row (R = P*n rows, prompt-major) at suffix slot `t`: writes its KV there and
  attends to its prompt's KV and its own suffix. The layer cache is (prefix KV, suffix KV)."""

  t: jax.Array
  prefix_ok_pl: jax.Array  # prompt keys each prompt's rows may see
  suffix_ok_s: jax.Array  # suffix slots every row may see

  @classmethod
  def at_step(
    cls, prefix: Prefix, t: jax.Array, steps: int, sliding_window: int | None
  ) -> DecodeAttention:
    """The masks for the token at suffix slot `t` (position lengths_p + t of its prompt)."""
    key_pos_l = jnp.arange(prefix.kv[0].k.shape[2])
    prefix_ok = key_pos_l[None] < prefix.lengths_p[:, None]
    prefix_ok = in_window(
      prefix_ok, (prefix.lengths_p + t)[:, None], key_pos_l[None], sliding_window
    )
    slots_s = jnp.arange(steps)
    return cls(t, prefix_ok, in_window(slots_s <= t, t, slots_s, sliding_window))

  def __call__(self, q_r1nh, k_r1kh, v_r1kh, cache: tuple[KV, KV]) -> tuple[jax.Array, KV]:
    prefix, suffix = cache
    p, kv, n, _, h = suffix.k.shape
    g = q_r1nh.shape[2] // kv
    k_pkn1h = k_r1kh.reshape(p, n, kv, h).transpose(0, 2, 1, 3)[:, :, :, None]
    v_pkn1h = v_r1kh.reshape(p, n, kv, h).transpose(0, 2, 1, 3)[:, :, :, None]
    written = KV(
      jax.lax.dynamic_update_slice_in_dim(suffix.k, k_pkn1h.astype(suffix.k.dtype), self.t, axis=3),
      jax.lax.dynamic_update_slice_in_dim(suffix.v, v_pkn1h.astype(suffix.v.dtype), self.t, axis=3),
    )
    q_pkngh = q_r1nh.reshape(p, n, kv, g, h).transpose(0, 2, 1, 3, 4)
    o_pkngh = self._merged_softmax(q_pkngh, prefix, written)
    return o_pkngh.transpose(0, 2, 1, 3, 4).reshape(p * n, 1, kv * g, h), written

  def _merged_softmax(self, q_pkngh: jax.Array, prefix: KV, suffix: KV) -> jax.Array:
    """Prefix scores (one matmul for all n samples of a prompt) and suffix scores in one softmax."""
    p, kv, n, g, h = q_pkngh.shape
    scale = h**-0.5
    q_pkqh = q_pkngh.reshape(p, kv, n * g, h)
    s_pre = (
      jnp.einsum("pkqh,pklh->pkql", q_pkqh, prefix.k, preferred_element_type=jnp.float32) * scale
    )
    s_pre = jnp.where(self.prefix_ok_pl[:, None, None, :], s_pre, MASKED).reshape(p, kv, n, g, -1)
    s_suf = (
      jnp.einsum("pkngh,pknsh->pkngs", q_pkngh, suffix.k, preferred_element_type=jnp.float32)
      * scale
    )
    s_suf = jnp.where(self.suffix_ok_s, s_suf, MASKED)
    m = jnp.maximum(s_pre.max(-1, keepdims=True), s_suf.max(-1, keepdims=True))
    e_pre, e_suf = jnp.exp(s_pre - m), jnp.exp(s_suf - m)
    denom = e_pre.sum(-1, keepdims=True) + e_suf.sum(-1, keepdims=True)
    o_pre = jnp.einsum(
      "pkql,pklh->pkqh", e_pre.reshape(p, kv, n * g, -1).astype(prefix.v.dtype), prefix.v
    )
    o_suf = jnp.einsum("pkngs,pknsh->pkngh", e_suf.astype(suffix.v.dtype), suffix.v)
    return (o_pre.reshape(p, kv, n, g, h) + o_suf) / denom.astype(o_suf.dtype)
