"""Parameter creation: every parameter carries its logical axes and is born on its sharding."""

from __future__ import annotations

from collections.abc import Callable, Sequence
import functools

from flax import nnx
import jax
import jax.numpy as jnp

from rstar_jax.models.sharding import DEFAULT_RULES
from rstar_jax.models.sharding import ShardingRules
from rstar_jax.models.sharding import fit_spec
from rstar_jax.models.sharding import named_sharding

Initializer = Callable[[jax.Array, Sequence[int], jnp.dtype], jax.Array]


def new_param(
  rngs: nnx.Rngs, init: Initializer, shape: Sequence[int], logical: Sequence[str | None], dtype: str
) -> nnx.Param:
  """Initialises a parameter directly on its sharding when a mesh is active (`jax.set_mesh`)."""
  shape, dtype = tuple(shape), jnp.dtype(dtype)
  key = rngs.params()
  mesh = jax.sharding.get_abstract_mesh()
  if mesh.empty or not mesh.axis_names:
    value = init(key, shape, dtype)
  else:
    value = _sharded_init(init, shape, dtype, fit_spec(DEFAULT_RULES.spec(logical), shape, mesh))(
      key
    )
  return nnx.Param(value, logical_axes=tuple(logical))


@functools.cache
def _sharded_init(
  init: Initializer, shape: tuple[int, ...], dtype: jnp.dtype, spec: jax.sharding.PartitionSpec
) -> Callable[[jax.Array], jax.Array]:
  """One jitted initialiser per (init, shape, dtype, spec): the layers of a model share compiles."""
  return jax.jit(lambda key: init(key, shape, dtype), out_shardings=spec)


@functools.cache
def normal(stddev: float) -> Initializer:
  return lambda key, shape, dtype: jax.random.normal(key, shape, jnp.float32).astype(dtype) * stddev


def zeros(key, shape, dtype):
  del key
  return jnp.zeros(shape, dtype)


def ones(key, shape, dtype):
  del key
  return jnp.ones(shape, dtype)


def logical_axes_of(model: nnx.Module) -> nnx.State:
  """State tree of each parameter's logical axes (same structure as `nnx.state(model, nnx.Param)`)."""
  return jax.tree.map(
    lambda v: v.get_metadata()["logical_axes"],
    nnx.state(model, nnx.Param),
    is_leaf=lambda x: isinstance(x, nnx.Variable),
  )


def param_shardings(
  model: nnx.Module, mesh: jax.sharding.Mesh, rules: ShardingRules = DEFAULT_RULES
) -> nnx.State:
  """NamedSharding for every parameter of `model` (works on abstract models from nnx.eval_shape)."""
  return jax.tree.map(
    lambda v: named_sharding(mesh, v.get_metadata()["logical_axes"], v.shape, rules),
    nnx.state(model, nnx.Param),
    is_leaf=lambda x: isinstance(x, nnx.Variable),
  )
