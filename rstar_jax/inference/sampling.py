"""Token sampling inside jit: temperature, top-k, top-p, greedy, all as traced values.

Settings are traced scalars, so one compiled decode program serves every sampling setting. No
sort: XLA's CPU sort of a [rows, vocab] array costs more than a whole decode step, so top-k and
top-p thresholds are found by bisection, and sampling inverts the CDF with one uniform per row.
"""

import jax
import jax.numpy as jnp

_NEG = -1e30
_BISECTION_STEPS = 32


def _bisect(lo_r: jax.Array, hi_r: jax.Array, enough) -> jax.Array:
  """Largest threshold t in [lo, hi] (per row) with enough(t) true; enough is monotone decreasing."""

  def body(_, bounds):
    lo, hi = bounds
    mid = (lo + hi) / 2
    ok = enough(mid)
    return jnp.where(ok, mid, lo), jnp.where(ok, hi, mid)

  lo, _ = jax.lax.fori_loop(0, _BISECTION_STEPS, body, (lo_r, hi_r))
  return lo


def filter_logits(logits_rv: jax.Array, top_k: jax.Array, top_p: jax.Array) -> jax.Array:
  """Masks tokens outside the top-k (k = 0: none) and outside the top-p nucleus (p = 1: none)."""
  lo = jnp.min(logits_rv, axis=-1, keepdims=True)
  hi = jnp.max(logits_rv, axis=-1, keepdims=True)
  k = jnp.where(top_k > 0, top_k, logits_rv.shape[-1])
  kth = _bisect(lo, hi, lambda t: jnp.sum(logits_rv >= t, axis=-1, keepdims=True) >= k)
  logits_rv = jnp.where(logits_rv >= kth, logits_rv, _NEG)
  probs = jax.nn.softmax(logits_rv, axis=-1)
  # Nucleus: the most probable tokens whose mass reaches top_p (the largest such probability cut).
  cut = _bisect(
    jnp.zeros_like(hi),
    jnp.max(probs, axis=-1, keepdims=True),
    lambda t: jnp.sum(jnp.where(probs >= t, probs, 0.0), axis=-1, keepdims=True) >= top_p,
  )
  return jnp.where(probs >= cut, logits_rv, _NEG)


def row_keys(seed: jax.Array, row_ids_r: jax.Array, step: jax.Array) -> jax.Array:
  """A key per (row, step) from the row's identity, so padding rows or batch composition never
  change another row's samples: same seed, same outputs."""
  base = jax.random.key(seed)
  return jax.vmap(lambda r: jax.random.fold_in(jax.random.fold_in(base, r), step))(row_ids_r)


def sample(
  keys_r: jax.Array,
  logits_rv: jax.Array,
  temperature: jax.Array,
  top_k: jax.Array,
  top_p: jax.Array,
) -> jax.Array:
  """One token per row; temperature 0 means greedy (argmax of the unfiltered logits)."""
  logits_rv = logits_rv.astype(jnp.float32)
  greedy = jnp.argmax(logits_rv, axis=-1)
  filtering = (top_k > 0) | (top_p < 1.0)
  filtered = jax.lax.cond(
    filtering, lambda x: filter_logits(x, top_k, top_p), lambda x: x, logits_rv
  )
  cdf = jnp.cumsum(jax.nn.softmax(filtered / jnp.maximum(temperature, 1e-6), axis=-1), axis=-1)
  u_r1 = jax.vmap(lambda k: jax.random.uniform(k, (1,)))(keys_r) * cdf[:, -1:]
  sampled = jnp.minimum(jnp.sum(cdf < u_r1, axis=-1), logits_rv.shape[-1] - 1)
  return jnp.where(temperature > 0, sampled, greedy).astype(jnp.int32)
