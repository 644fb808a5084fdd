"""Training objectives as sums over a micro-batch, divided by the whole step's weight.

Dividing every micro-batch by the full step's denominator makes gradient accumulation and
data-parallel sharding give exactly the mean over the global batch.
"""

import math
from typing import Any

import jax
import jax.numpy as jnp

Batch = dict[str, jax.Array]


def _ce_sum(logits_btv: jax.Array, labels_bt: jax.Array, weights_bt: jax.Array) -> jax.Array:
  logits_btv = logits_btv.astype(jnp.float32)
  lse_bt = jax.nn.logsumexp(logits_btv, axis=-1)
  picked_bt = jnp.take_along_axis(logits_btv, labels_bt[..., None], axis=-1)[..., 0]
  return jnp.sum((lse_bt - picked_bt) * weights_bt)


def chunked_ce_sum(
  logits_fn, h_btd: jax.Array, labels_bt: jax.Array, weights_bt: jax.Array, chunk: int
) -> jax.Array:
  """Sum of weighted next-token CE without holding all (B, T, V) logits for the backward pass.

  The sequence is cut into chunks whose logits are recomputed in the backward pass, so peak
  memory is one chunk of logits; `chunk=0` (or a chunk >= T) computes the logits in one go.
  """
  b, t, _ = h_btd.shape
  c = math.gcd(t, chunk) if chunk else t
  if c >= t:
    return _ce_sum(logits_fn(h_btd), labels_bt, weights_bt)
  n = t // c

  def split(x):
    return jnp.swapaxes(x.reshape(b, n, c, *x.shape[2:]), 0, 1)

  @jax.checkpoint
  def body(total, xs):
    h_bcd, y_bc, w_bc = xs
    return total + _ce_sum(logits_fn(h_bcd), y_bc, w_bc), None

  total, _ = jax.lax.scan(
    body, jnp.zeros((), jnp.float32), (split(h_btd), split(labels_bt), split(weights_bt))
  )
  return total


def sft_loss(
  model: Any, batch: Batch, denom: jax.Array, *, chunk: int
) -> tuple[jax.Array, dict[str, jax.Array]]:
  """Token-mean next-token CE over response tokens (weights are 0 on prompt and padding)."""
  h_btd = model.hidden_states(batch["tokens"], mask_bt=batch["mask"])
  ce = chunked_ce_sum(model.logits, h_btd, batch["labels"], batch["weights"], chunk)
  return ce / denom, {"loss_sum": ce, "weight": jnp.sum(batch["weights"])}


def side_dropout_keys(ids_b3: jax.Array) -> jax.Array:
  """A key per side (B * 2, pos before neg) from each pair's (seed, step, row of the global batch):
  the masks depend on where the pair sits in the run alone, so a resumed run draws the same ones
  and the mesh or `grad_accum` does not change them."""

  def sides(ids):
    seed, step, row = ids
    return jax.random.split(jax.random.fold_in(jax.random.fold_in(jax.random.key(seed), step), row))

  return jax.vmap(sides)(ids_b3).reshape(-1)


def pair_scores(model: Any, batch: Batch) -> jax.Array:
  """Raw scores (B, 2) of both sides of each pair, read at each side's last real token; with
  `dropout_ids` (the PPM trainer's training batches) the value head drops out its input."""
  b, two, t = batch["tokens"].shape
  keys = side_dropout_keys(batch["dropout_ids"]) if "dropout_ids" in batch else None
  scores_bt = model(
    batch["tokens"].reshape(b * two, t),
    mask_bt=batch["mask"].reshape(b * two, t),
    dropout_keys_b=keys,
  )
  last_b = batch["last"].reshape(b * two)
  return jnp.take_along_axis(scores_bt, last_b[:, None], axis=1).reshape(b, two).astype(jnp.float32)


def bt_loss_terms(r_b2: jax.Array) -> jax.Array:
  """Bradley-Terry `-log sigmoid(r_pos - r_neg)` per pair."""
  return jax.nn.softplus(r_b2[:, 1] - r_b2[:, 0])


def pqm_loss_terms(r_b2: jax.Array, q_b2: jax.Array) -> jax.Array:
  """Squared error of both sides' scores against their Q-values, averaged over the two sides."""
  return 0.5 * jnp.sum(jnp.square(r_b2 - q_b2), axis=-1)


def pair_loss(
  model: Any, batch: Batch, denom: jax.Array, *, objective: str
) -> tuple[jax.Array, dict[str, jax.Array]]:
  """The BT/ORM pairwise loss or the PQM regression loss, weighted per pair, summed over the
  valid pairs and divided by their number.

  With the official weights this is the official objective (a sum of weighted pair losses,
  `train/rm.py`) times the constant 1 / global batch size, so Adam takes the same steps while
  gradient accumulation and sharding stay exact.
  """
  r_b2 = pair_scores(model, batch)
  terms_b = pqm_loss_terms(r_b2, batch["q"]) if objective == "pqm" else bt_loss_terms(r_b2)
  valid_b = batch["valid"]
  loss_sum = jnp.sum(terms_b * batch["pair_weight"] * valid_b)
  correct = jnp.sum((r_b2[:, 0] > r_b2[:, 1]) * valid_b)
  return loss_sum / denom, {"loss_sum": loss_sum, "weight": jnp.sum(valid_b), "correct": correct}
