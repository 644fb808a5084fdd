"""Partition specs for parameters and activations.

Every parameter is declared with logical axis names ('vocab', 'embed', 'heads', ...);
`ShardingRules` maps them onto the mesh axes ('data', 'fsdp', 'tensor'). A mesh axis that does not
divide a dimension is dropped for that dimension (it stays replicated) instead of failing, so one
rule set serves every model size and mesh shape.
"""

from __future__ import annotations

from collections.abc import Sequence
import dataclasses
import math

import jax
from jax.sharding import Mesh
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P


@dataclasses.dataclass(frozen=True)
class ShardingRules:
  """Logical axis name -> mesh axis (or None for replicated)."""

  batch: tuple[str, ...] = ("data", "fsdp")
  embed: str | None = "fsdp"
  vocab: str | None = "tensor"
  heads: str | None = "tensor"
  kv_heads: str | None = "tensor"
  mlp: str | None = "tensor"
  head_dim: str | None = None
  seq: str | None = None

  def spec(self, logical: Sequence[str | None]) -> P:
    return P(*(None if name is None else getattr(self, name) for name in logical))


DEFAULT_RULES = ShardingRules()


def fit_spec(spec: P, shape: Sequence[int], mesh: Mesh) -> P:
  """Drops mesh axes that do not divide their dimension or that an earlier dimension already uses
  (replicating that dimension instead)."""
  fitted, used = [], set()
  for dim, axes in zip(shape, tuple(spec) + (None,) * (len(shape) - len(spec))):
    names = (axes,) if isinstance(axes, str) else tuple(axes or ())
    names = tuple(n for n in names if mesh.shape.get(n, 1) > 1 and n not in used)
    used.update(names)
    size = math.prod(mesh.shape[n] for n in names)
    fitted.append(None if not names or dim % size else (names[0] if len(names) == 1 else names))
  return P(*fitted)


def named_sharding(
  mesh: Mesh,
  logical: Sequence[str | None],
  shape: Sequence[int],
  rules: ShardingRules = DEFAULT_RULES,
) -> NamedSharding:
  return NamedSharding(mesh, fit_spec(rules.spec(logical), shape, mesh))


def constrain(
  x: jax.Array, logical: Sequence[str | None], rules: ShardingRules = DEFAULT_RULES
) -> jax.Array:
  """with_sharding_constraint on an activation when a mesh is active; identity otherwise."""
  mesh = jax.sharding.get_abstract_mesh()
  if mesh.empty or not mesh.axis_names:
    return x
  spec = P(
    *(
      rules.batch if name == "batch" else (None if name is None else getattr(rules, name))
      for name in logical
    )
  )
  return jax.lax.with_sharding_constraint(x, fit_spec(spec, x.shape, mesh))
