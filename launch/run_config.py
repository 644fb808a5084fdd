"""ml_collections config → typed, frozen dataclasses, once, with errors that name the bad field.

Each section of a config file maps onto one dataclass field of the target (recursively); a key
the dataclass lacks, a value of the wrong type, or a value its `__post_init__` refuses is a
`ConfigError` naming `config.<section>.<field>`. Fields a section leaves out keep the library's
defaults.
"""

from collections.abc import Mapping
import dataclasses
import types
import typing
from typing import Any, TypeVar

from rstar_jax.evolution.config import PIPELINE_SET
from rstar_jax.evolution.config import RunConfig

T = TypeVar("T")


class ConfigError(ValueError):
  """A config value that cannot become the typed config; the message names the field."""


def run_config(config: Any) -> RunConfig:
  """The typed config of an ml_collections ConfigDict (or a plain nested dict)."""
  if hasattr(config, "to_dict"):
    config = config.to_dict()
  for section, owned in PIPELINE_SET.items():
    for key in sorted(set(config.get(section) or {}) & set(owned)):
      raise ConfigError(
        f"config.{section}.{key} is set by the run itself; set {owned[key]} instead"
      )
  return to_dataclass(RunConfig, config, "config")


def to_dataclass(cls: type[T], section: Mapping[str, Any] | None, where: str, **fixed: Any) -> T:
  """`cls(**section, **fixed)` with every value checked against `cls`'s type hints."""
  values = dict(section or {})
  hints = typing.get_type_hints(cls)
  names = [f.name for f in dataclasses.fields(cls) if f.init]
  unknown = sorted(set(values) - set(names))
  if unknown:
    raise ConfigError(f"{where}: unknown keys {unknown} for {cls.__name__} (known: {names})")
  kwargs = {
    name: _convert(hints[name], values[name], f"{where}.{name}") for name in names if name in values
  }
  kwargs.update(fixed)
  try:
    return cls(**kwargs)
  except (ValueError, TypeError) as e:
    raise ConfigError(f"{where}: {e}") from e


def _convert(hint: Any, value: Any, where: str) -> Any:
  origin, args = typing.get_origin(hint), typing.get_args(hint)
  if dataclasses.is_dataclass(hint):
    if not isinstance(value, Mapping):
      raise ConfigError(f"{where}: expected a section of {hint.__name__} fields, got {value!r}")
    return to_dataclass(hint, value, where)
  if origin in (types.UnionType, typing.Union):
    if value is None and type(None) in args:
      return None
    errors = []
    for arg in (a for a in args if a is not type(None)):
      try:
        return _convert(arg, value, where)
      except ConfigError as e:
        errors.append(str(e))
    raise ConfigError(f"{where}: {value!r} is none of {hint} ({'; '.join(errors)})")
  if origin is typing.Literal:
    if value not in args:
      raise ConfigError(f"{where}: expected one of {list(args)}, got {value!r}")
    return value
  if origin is tuple:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
      raise ConfigError(f"{where}: expected a tuple of {args[0].__name__}, got {value!r}")
    item = args[0]
    return tuple(_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value))
  if hint is float and isinstance(value, int) and not isinstance(value, bool):
    return float(value)
  if hint is Any:
    return value
  if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
    raise ConfigError(f"{where}: expected {hint.__name__}, got {value!r} ({type(value).__name__})")
  return value
