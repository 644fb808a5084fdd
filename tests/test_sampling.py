"""Sampling correctness: empirical next-token frequencies match the expected filtered softmax."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rstar_jax.inference.sampling import filter_logits
from rstar_jax.inference.sampling import row_keys
from rstar_jax.inference.sampling import sample

LOGITS = np.log(np.asarray([0.30, 0.25, 0.15, 0.12, 0.08, 0.05, 0.03, 0.02], np.float64))
DRAWS = 40_000


def _expected(temperature, top_k, top_p):
  logits = LOGITS / temperature
  order = np.argsort(-LOGITS)
  keep = np.zeros_like(LOGITS, bool)
  keep[order[: top_k or len(LOGITS)]] = True
  probs = np.where(keep, np.exp(LOGITS - LOGITS.max()), 0)
  probs /= probs.sum()
  mass = 0.0
  nucleus = np.zeros_like(keep)
  for i in order:
    if keep[i] and mass < top_p:
      nucleus[i] = True
      mass += probs[i]
  scaled = np.where(nucleus, np.exp(logits - logits.max()), 0)
  return scaled / scaled.sum()


@pytest.mark.parametrize(
  "temperature, top_k, top_p",
  [(1.0, 0, 1.0), (0.5, 0, 1.0), (1.0, 3, 1.0), (1.0, 0, 0.7), (0.8, 5, 0.8)],
)
def test_empirical_distribution_matches(temperature, top_k, top_p):
  logits = jnp.asarray(np.tile(LOGITS, (DRAWS, 1)), jnp.float32)
  keys = row_keys(jnp.uint32(123), jnp.arange(DRAWS), 0)
  tokens = np.asarray(
    jax.jit(sample)(keys, logits, jnp.float32(temperature), jnp.int32(top_k), jnp.float32(top_p))
  )
  freq = np.bincount(tokens, minlength=len(LOGITS)) / DRAWS
  expected = _expected(temperature, top_k, top_p)
  # Tolerance: 5 standard errors of a binomial proportion at 40k draws (max ~0.012), fixed seed.
  tol = 5 * np.sqrt(expected * (1 - expected) / DRAWS) + 1e-9
  assert np.all(np.abs(freq - expected) <= tol), (freq, expected)
  assert np.all(freq[expected == 0] == 0)  # filtered tokens are never drawn


def test_greedy_is_argmax_and_filters_are_exact():
  logits = jnp.asarray([LOGITS, LOGITS[::-1]], jnp.float32)
  keys = row_keys(jnp.uint32(0), jnp.arange(2), 0)
  assert np.asarray(
    sample(keys, logits, jnp.float32(0.0), jnp.int32(0), jnp.float32(1.0))
  ).tolist() == [0, 7]
  kept = np.asarray(filter_logits(logits, jnp.int32(2), jnp.float32(1.0))) > -1e29
  assert kept.sum(axis=1).tolist() == [2, 2]
  kept = np.asarray(filter_logits(logits, jnp.int32(0), jnp.float32(0.5))) > -1e29
  assert kept[0].tolist() == [True, True, False, False, False, False, False, False]
