"""Token sampling inside jit: temperature, top-k, top-p, greedy, all as traced values.

Settings are traced scalars, so one compiled decode program serves every sampling setting.
"""
import jax
import jax.numpy as jnp

_NEG = -1e30


def filter_logits(logits_rv: jax.Array, top_k: jax.Array, top_p: jax.Array) -> jax.Array:
  """Masks tokens outside the top-k (k = 0: none) and outside the top-p nucleus (p = 1: none)."""
  vocab = logits_rv.shape[-1]
  sorted_rv = jnp.sort(logits_rv, axis=-1)[:, ::-1]
  k = jnp.where(top_k > 0, jnp.minimum(top_k, vocab), vocab)
  kth = jnp.take_along_axis(sorted_rv, jnp.broadcast_to(k - 1, (logits_rv.shape[0], 1)), axis=-1)
  probs = jax.nn.softmax(jnp.where(sorted_rv >= kth, sorted_rv, _NEG), axis=-1)
  # Keep the smallest prefix whose mass reaches top_p: a token stays if the mass before it is < p.
  before = jnp.cumsum(probs, axis=-1) - probs
  keep = (before < top_p) & (sorted_rv >= kth)
  threshold = jnp.min(jnp.where(keep, sorted_rv, jnp.inf), axis=-1, keepdims=True)
  return jnp.where(logits_rv >= threshold, logits_rv, _NEG)


def row_keys(seed: jax.Array, row_ids_r: jax.Array, step: jax.Array) -> jax.Array:
  """A key per (row, step) from the row's identity, so padding rows or batch composition never
  change another row's samples: same seed, same outputs."""
  base = jax.random.key(seed)
  return jax.vmap(lambda r: jax.random.fold_in(jax.random.fold_in(base, r), step))(row_ids_r)


def sample(keys_r: jax.Array, logits_rv: jax.Array, temperature: jax.Array, top_k: jax.Array,
           top_p: jax.Array) -> jax.Array:
  """One token per row; temperature 0 means greedy (argmax of the unfiltered logits)."""
  logits_rv = logits_rv.astype(jnp.float32)
  greedy = jnp.argmax(logits_rv, axis=-1)
  scaled = filter_logits(logits_rv, top_k, top_p) / jnp.maximum(temperature, 1e-6)
  sampled = jax.vmap(jax.random.categorical)(keys_r, scaled)
  return jnp.where(temperature > 0, sampled, greedy).astype(jnp.int32)
