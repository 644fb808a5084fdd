"""Frozen library configs from an ml_collections config (unknown keys are reported by section)."""
from collections.abc import Mapping
import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")


def to_dataclass(cls: type[T], section: Mapping[str, Any] | None, where: str, **fixed: Any) -> T:
  """`cls(**section, **fixed)`; a key that `cls` lacks is an error naming `where`."""
  values = dict(section or {})
  names = {f.name for f in dataclasses.fields(cls)}
  unknown = sorted(set(values) - names)
  if unknown:
    raise ValueError(f"config.{where}: unknown keys {unknown} for {cls.__name__} "
                     f"(known: {sorted(names)})")
  for key, value in values.items():
    if isinstance(value, list):
      values[key] = tuple(value)
  values.update(fixed)
  return cls(**values)
