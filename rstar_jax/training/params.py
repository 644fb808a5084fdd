"""Flat, string-keyed views of an NNX model's parameters for jit, optax and orbax.

The trainers keep parameters as `{"layers/0/attn/q/kernel": array}`: string keys checkpoint and
restore with orbax unchanged, and optax states mirror the same flat dict.
"""

from collections.abc import Mapping
from typing import Any

from flax import nnx
import jax
from jax.sharding import Mesh
from jax.sharding import NamedSharding

from rstar_jax import models

Params = dict[str, jax.Array]


def _key(path: tuple[Any, ...]) -> str:
  return "/".join(str(p) for p in path)


class ModelParams:
  """Splits a model once into its graph, its parameters and everything else (frozen buffers)."""

  def __init__(self, model: nnx.Module):
    self.graphdef, param_state, self.rest = nnx.split(model, nnx.Param, ...)
    self._vars = list(nnx.to_flat_state(param_state))
    self._model = model

  def flat(self) -> Params:
    return {_key(path): var.get_value() for path, var in self._vars}

  def merge(self, params: Mapping[str, jax.Array], rest: Any = None) -> nnx.Module:
    """A model whose parameters are `params` (traceable inside jit)."""
    state = nnx.from_flat_state(
      [(path, var.replace(params[_key(path)])) for path, var in self._vars]
    )
    return nnx.merge(self.graphdef, state, self.rest if rest is None else rest)

  def shardings(self, mesh: Mesh) -> dict[str, NamedSharding]:
    """Each parameter's NamedSharding on `mesh` from the model's logical-axis rules."""
    return {_key(k): s for k, s in nnx.to_flat_state(models.param_shardings(self._model, mesh))}

  def fingerprint(self) -> dict[str, list[Any]]:
    """Parameter names with shapes and dtypes: what a checkpoint must match to be restored."""
    return {
      _key(path): [list(var.get_value().shape), str(var.get_value().dtype)]
      for path, var in self._vars
    }
