"""Objectives against hand-written numpy references (values and gradients)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rstar_jax.training import dense_grads
from rstar_jax.training import losses
from rstar_jax.training import optim
from rstar_jax.training import ppm_data
from rstar_jax.training.config import SFTConfig


def _np_log_sigmoid(x):
  return -np.log1p(np.exp(-x))


class LinearScorer:
  """Score = <w, mean of token features> at each position: small enough to differentiate by hand."""

  def __init__(self, w, feats):
    self.w, self.feats = w, feats

  def __call__(self, tokens_bt, *, mask_bt, dropout_keys_b=None):
    return self.feats[tokens_bt] @ self.w


def test_bt_loss_and_grad_match_numpy():
  rng = np.random.default_rng(0)
  vocab, dim, b, t = 11, 5, 6, 7
  feats = rng.normal(size=(vocab, dim)).astype(np.float32)
  w = rng.normal(size=(dim,)).astype(np.float32)
  tokens = rng.integers(0, vocab, size=(b, 2, t)).astype(np.int32)
  last = rng.integers(1, t, size=(b, 2)).astype(np.int32)
  mask = np.arange(t)[None, None] <= last[..., None]
  valid = np.array([1, 1, 1, 1, 1, 0], np.float32)
  batch = {
    "tokens": tokens,
    "mask": mask,
    "last": last,
    "valid": valid,
    "q": np.zeros((b, 2), np.float32),
    "pair_weight": np.ones(b, np.float32),
  }

  def loss(w):
    return losses.pair_loss(
      LinearScorer(w, jnp.asarray(feats)), batch, jnp.sum(valid), objective="bt"
    )

  (value, aux), grad = jax.value_and_grad(loss, has_aux=True)(jnp.asarray(w))

  x_b2d = feats[tokens[np.arange(b)[:, None], np.arange(2)[None], last]]  # Features at last token.
  r = x_b2d @ w
  margin = r[:, 0] - r[:, 1]
  want = -np.sum(_np_log_sigmoid(margin) * valid) / valid.sum()
  # d/dw -log s(m) = -(1 - s(m)) * (x_pos - x_neg)
  sig = 1 / (1 + np.exp(-margin))
  want_grad = -np.sum(((1 - sig) * valid)[:, None] * (x_b2d[:, 0] - x_b2d[:, 1]), 0) / valid.sum()
  np.testing.assert_allclose(value, want, rtol=1e-5)
  np.testing.assert_allclose(grad, want_grad, rtol=1e-4, atol=1e-6)
  assert float(aux["correct"]) == np.sum((margin > 0) * valid)


class LastTokenScorer:
  """Score = the token id / 10 at each position, so a side's score is its last token / 10."""

  def __call__(self, tokens_bt, *, mask_bt, dropout_keys_b=None):
    return tokens_bt.astype(jnp.float32) / 10


def test_weighted_bt_loss_is_the_official_sum_over_the_batch_size():
  # Three pairs from nodes with (pos_count, neg_count) = (2, 2), (1, 3), (1, 1), scored
  # (0.9, 0.1), (0.2, 0.5), (0.4, 0.3); the official factors are 1/4, 1/3, 1.
  factors = [ppm_data.official_factor(p, n) for p, n in ((2, 2), (1, 3), (1, 1))]
  assert factors == [0.25, 1 / 3, 1.0]
  tokens = np.array([[[9], [1]], [[2], [5]], [[4], [3]]], np.int32)
  batch = {
    "tokens": tokens,
    "mask": np.ones_like(tokens, bool),
    "last": np.zeros((3, 2), np.int32),
    "valid": np.ones(3, np.float32),
    "q": np.zeros((3, 2), np.float32),
    "pair_weight": np.asarray(factors, np.float32),
  }
  value, aux = losses.pair_loss(LastTokenScorer(), batch, jnp.asarray(3.0), objective="bt")
  # -log sigmoid(m) = log(1 + exp(-m)) for margins 0.8, -0.3, 0.1.
  want_sum = (
    0.25 * math.log1p(math.exp(-0.8))
    + math.log1p(math.exp(0.3)) / 3
    + 1.0 * math.log1p(math.exp(-0.1))
  )
  np.testing.assert_allclose(float(aux["loss_sum"]), want_sum, rtol=1e-5)
  np.testing.assert_allclose(float(value), want_sum / 3, rtol=1e-5)
  assert (float(aux["weight"]), float(aux["correct"])) == (3.0, 2.0)  # Accuracy is unweighted.


def test_pqm_loss_matches_numpy():
  r = np.array([[0.3, -0.2], [1.0, 0.5]], np.float32)
  q = np.array([[0.5, -0.5], [1.0, -1.0]], np.float32)
  want = 0.5 * ((r - q) ** 2).sum(-1)
  np.testing.assert_allclose(losses.pqm_loss_terms(jnp.asarray(r), jnp.asarray(q)), want, rtol=1e-6)


@pytest.mark.parametrize("chunk", [0, 4, 8, 3])
def test_chunked_ce_matches_numpy_and_unchunked_grad(chunk):
  rng = np.random.default_rng(1)
  b, t, d, v = 2, 8, 4, 9
  h = rng.normal(size=(b, t, d)).astype(np.float32)
  wv = rng.normal(size=(d, v)).astype(np.float32)
  labels = rng.integers(0, v, size=(b, t)).astype(np.int32)
  weights = (rng.random((b, t)) > 0.3).astype(np.float32)

  def ce(wv, c):
    return losses.chunked_ce_sum(lambda x: x @ wv, jnp.asarray(h), labels, weights, c)

  logits = h @ wv
  lse = np.log(np.exp(logits).sum(-1))
  want = np.sum((lse - np.take_along_axis(logits, labels[..., None], -1)[..., 0]) * weights)
  np.testing.assert_allclose(ce(jnp.asarray(wv), chunk), want, rtol=1e-5)
  np.testing.assert_allclose(
    jax.grad(ce)(jnp.asarray(wv), chunk), jax.grad(ce)(jnp.asarray(wv), 0), rtol=1e-5, atol=1e-6
  )


def test_schedule_warmup_then_decay():
  cfg = SFTConfig(lr=1.0, warmup_steps=4, schedule="linear", end_lr_ratio=0.1)
  s = optim.make_schedule(cfg, 14)
  np.testing.assert_allclose(
    [float(s(i)) for i in (0, 2, 4, 9, 14)], [0, 0.5, 1, 0.55, 0.1], atol=1e-6
  )
  c = optim.make_schedule(SFTConfig(lr=1.0, warmup_ratio=0.5, schedule="cosine"), 10)
  np.testing.assert_allclose([float(c(i)) for i in (5, 10)], [1.0, 0.0], atol=1e-6)


def test_dense_grads_rewrite_keeps_values_and_gradients():
  rng = np.random.default_rng(2)
  x = jnp.asarray(rng.normal(size=(2, 5, 4)), jnp.float32)
  w = jnp.asarray(rng.normal(size=(4, 6)), jnp.float32)
  e = jnp.asarray(rng.normal(size=(7, 6)), jnp.float32)
  o = jnp.asarray(rng.normal(size=(2, 3, 6)), jnp.float32)

  def f(params, x):
    h = jnp.tanh(x @ params["w"])  # Activation x weight.
    heads = h.reshape(2, 5, 2, 3)
    h = h + jnp.einsum("btnh,nhd->btd", heads, params["o"])  # Two contracting dims.
    logits = jnp.einsum("btf,vf->btv", h, params["e"])  # Activation x weight^T (tied head).
    att = jnp.einsum("btv,bsv->bts", logits, logits)  # Batched: left to autodiff.
    return jnp.sum(jax.nn.log_softmax(logits) * 0.1) + jnp.sum(att) * 1e-3, {"h": h}

  params = {"w": w, "e": e, "o": o}
  want = jax.value_and_grad(f, has_aux=True)(params, x)
  got = jax.jit(jax.value_and_grad(dense_grads.with_dense_grads(f), has_aux=True))(params, x)
  for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
  jaxpr = jax.make_jaxpr(jax.grad(lambda p: dense_grads.with_dense_grads(f)(p, x)[0]))(params)
  assert "custom_vjp_call" in str(jaxpr)
