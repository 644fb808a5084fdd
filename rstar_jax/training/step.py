"""The jitted, sharded train and eval steps shared by the SFT and PPM trainers.

A step takes a batch of shape (grad_accum, micro, ...), runs the micro-batches in a `lax.scan`
accumulating fp32 gradients, then applies one optimizer update. Parameters and optimizer state
are donated and pinned to their shardings, so they never move or get copied between steps.
"""

from collections.abc import Callable
from typing import Any

from flax import nnx
import jax
import jax.numpy as jnp
import optax

from rstar_jax.training.dense_grads import with_dense_grads
from rstar_jax.training.params import ModelParams
from rstar_jax.training.params import Params

LossFn = Callable[[Any, dict[str, jax.Array], jax.Array], tuple[jax.Array, dict[str, jax.Array]]]


def opt_state_shardings(tx: optax.GradientTransformation, params: Params) -> Any:
  """Optimizer-state leaves shaped like a parameter share its sharding; the rest is replicated."""
  shardings = {k: v.sharding for k, v in params.items()}
  replicated = jax.sharding.NamedSharding(
    next(iter(shardings.values())).mesh, jax.sharding.PartitionSpec()
  )

  def pick(path, leaf):
    for entry in reversed(path):
      key = getattr(entry, "key", None)
      if key in shardings and params[key].shape == leaf.shape:
        return shardings[key]
    return replicated

  return jax.tree_util.tree_map_with_path(pick, jax.eval_shape(tx.init, params))


def model_builder(mp: ModelParams, remat: bool, query_block: int) -> Callable[[Params], nnx.Module]:
  """Rebuilds the model from flat parameters, viewed with per-layer remat where `remat` and
  its causal attention `query_block` queries at a time."""

  def build(params: Params) -> nnx.Module:
    return nnx.view(mp.merge(params), query_block=query_block, **({"remat": True} if remat else {}))

  return build


def make_train_step(
  loss_fn: LossFn,
  weight_key: str,
  build: Callable[[Params], nnx.Module],
  tx: optax.GradientTransformation,
  param_shardings: Any,
  opt_shardings: Any,
  *,
  dense_grads: bool,
):
  """jit(params, opt_state, batch) -> (params, opt_state, metrics), state donated.

  `dense_grads` rewrites the model's dense matmul backward passes (see `dense_grads.py`).
  """

  def objective(p, micro, denom):
    return loss_fn(build(p), micro, denom)

  if dense_grads:
    objective = with_dense_grads(objective)

  def micro_grads(params, micro, denom):
    return jax.value_and_grad(objective, has_aux=True)(params, micro, denom)

  def step(params, opt_state, batch):
    denom = jnp.maximum(jnp.sum(batch[weight_key]), 1.0)
    if batch[weight_key].shape[0] == 1:
      (loss, aux), grads = micro_grads(params, jax.tree.map(lambda x: x[0], batch), denom)
    else:

      def body(carry, micro):
        (loss, aux), grads = micro_grads(params, micro, denom)
        return jax.tree.map(jnp.add, carry, (loss, aux, grads)), None

      zeros = jax.eval_shape(
        lambda: micro_grads(params, jax.tree.map(lambda x: x[0], batch), denom)
      )
      zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, jnp.float32), zeros)
      (loss, aux, grads), _ = jax.lax.scan(body, (zeros[0][0], zeros[0][1], zeros[1]), batch)
    grads = jax.tree.map(lambda g, p: g.astype(p.dtype), grads, params)
    grad_norm = optax.global_norm(grads)
    updates, opt_state = tx.update(grads, opt_state, params)
    params = optax.apply_updates(params, updates)
    metrics = {"loss": loss, "grad_norm": grad_norm, **aux}
    return params, opt_state, metrics

  return jax.jit(step, donate_argnums=(0, 1), out_shardings=(param_shardings, opt_shardings, None))


def make_eval_step(loss_fn: LossFn, weight_key: str, build: Callable[[Params], nnx.Module]):
  """jit(params, batch) -> summed aux metrics over the batch's micro-batches."""

  def step(params, batch):
    denom = jnp.maximum(jnp.sum(batch[weight_key]), 1.0)
    _, aux = jax.lax.map(lambda micro: loss_fn(build(params), micro, denom), batch)
    return jax.tree.map(lambda x: jnp.sum(x, axis=0), aux)

  return jax.jit(step)
