"""Problem domains: what the loop needs of a field to search, learn and evaluate in it.

`get(name)` returns a registered `Domain`; `register(domain)` adds one (docs/domains.md).
"""

from rstar_jax.domains import code
from rstar_jax.domains import math
from rstar_jax.domains.base import Domain
from rstar_jax.domains.base import Draft

_REGISTRY: dict[str, Domain] = {}


def register(domain: Domain) -> Domain:
  """Makes `domain` available as `get(domain.name)`; a name is registered once."""
  if domain.name in _REGISTRY and _REGISTRY[domain.name] is not domain:
    raise ValueError(f"a domain named {domain.name!r} is already registered")
  _REGISTRY[domain.name] = domain
  return domain


def get(name: str) -> Domain:
  try:
    return _REGISTRY[name]
  except KeyError:
    raise ValueError(
      f"unknown domain {name!r}; registered: {', '.join(sorted(_REGISTRY))}"
    ) from None


def names() -> tuple[str, ...]:
  return tuple(sorted(_REGISTRY))


MATH = register(math.MathDomain())
CODE = register(code.CodeDomain())

__all__ = ["CODE", "MATH", "Domain", "Draft", "get", "names", "register"]
