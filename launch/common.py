"""What every absl launcher shares: the config flag and multi-host start-up."""

import difflib
import importlib.machinery
import importlib.util
import logging
import pathlib
import sys
import traceback

from absl import app
from absl import flags
import jax
from ml_collections import config_dict
from ml_collections.config_flags import config_flags

from launch import run_config
from rstar_jax.evolution.config import RunConfig
from rstar_jax.runtime.sync import ProcessSync

DEFAULT_CONFIG = str(pathlib.Path(__file__).resolve().parents[1] / "configs" / "world.py")


class _DropLibraryInfo(logging.Filter):
  """orbax logs every checkpoint open/close at INFO through absl; runs keep only its warnings."""

  def filter(self, record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING or "/orbax/" not in record.pathname


logging.getLogger("absl").addFilter(_DropLibraryInfo())
logging.getLogger("jax").setLevel(logging.WARNING)  # Backend probing ("no libtpu") is noise.

_COORDINATOR = flags.DEFINE_string(
  "coordinator_address",
  None,
  "host:port of process 0 for a multi-host run (jax.distributed); unset: single process, "
  "unless --distributed auto-detects a cluster (SLURM, TPU pods).",
)
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", None, "Processes in a multi-host run.")
_PROCESS_ID = flags.DEFINE_integer("process_id", None, "This process's index in [0, N).")
_DISTRIBUTED = flags.DEFINE_bool(
  "distributed", False, "Call jax.distributed.initialize() with cluster auto-detection."
)


class _ConfigFileParser(flags.ArgumentParser):
  """Loads `file.py[:variant]` as its locked `get_config(variant)`. A file that is missing or
  raises is a ValueError naming it, which absl reports as a one-line flag error (ml_collections
  defers the one to a later traceback and wraps a traceback into the other)."""

  def parse(self, argument: str) -> config_dict.ConfigDict:
    path, *variant = argument.split(":", 1)
    try:
      loader = importlib.machinery.SourceFileLoader("launch_config_file", path)
      module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
      loader.exec_module(module)
      config = module.get_config(*variant)
    except Exception as e:  # A config file is user code: whatever it raises is the user's to fix.
      raise ValueError(f"{_line_in(path, e)}{type(e).__name__}: {e}") from e
    if not isinstance(config, config_dict.ConfigDict):
      raise ValueError(f"get_config() returned a {type(config).__name__}, not a ConfigDict")
    config.lock()
    return config

  def flag_type(self) -> str:
    return "config object"


def _line_in(path: str, error: Exception) -> str:
  """`path:line: ` of the innermost frame of `error` in the config file itself, if any."""
  lines = [
    frame.lineno for frame in traceback.extract_tb(error.__traceback__) if frame.filename == path
  ]
  return f"{path}:{lines[-1]}: " if lines else ""


class _ConfigFlag(config_flags._ConfigFlag):  # What DEFINE_config_file builds; not exported.
  """ml_collections' config flag; an override of a field the config lacks is refused by name
  (the library fails on it with a bare AttributeError or KeyError)."""

  def _initialize_missing_parent_fields(self, config, overrides):
    for override in overrides:
      _check_override(config, override)
    super()._initialize_missing_parent_fields(config, overrides)


def _check_override(config: config_dict.ConfigDict, override: str) -> None:
  """Raises a flag error naming `--config.<override>` unless its path exists in `config`."""
  section, path = config, []
  for name in override.split("."):
    where = f"config section '{'.'.join(path)}'" if path else "the config"
    if not isinstance(section, config_dict.ConfigDict):
      raise flags.IllegalFlagValueError(
        f"--config.{override}: config.{'.'.join(path)} is {section!r}, not a section"
      )
    if name not in section:
      fields = sorted(section.keys())
      close = difflib.get_close_matches(name, fields)
      hint = f"did you mean {' or '.join(close)}? " if close else ""
      raise flags.IllegalFlagValueError(
        f"--config.{override}: no such field in {where} ({hint}fields: {', '.join(fields)})"
      )
    section = section[name]
    path.append(name)


def define_config(default: str = DEFAULT_CONFIG) -> flags.FlagHolder:
  """`--config=configs/x.py[:variant]` with `--config.a.b=value` overrides; a bad file or override
  ends the program with a message naming it, not a traceback."""
  try:
    flag = _ConfigFlag(
      parser=_ConfigFileParser(),
      serializer=flags.ArgumentSerializer(),
      name="config",
      default=default,
      help_string="ml_collections config file.",
    )
  except flags.Error as e:  # Without --config the default, overrides included, is parsed here.
    sys.exit(f"{pathlib.Path(sys.argv[0]).stem}: {e}")
  return flags.DEFINE_flag(flag)


def typed_config(config) -> RunConfig:
  """The `--config` ConfigDict as the library's typed `RunConfig`; a bad field is a usage error
  that names it (before any work starts)."""
  try:
    return run_config.run_config(config)
  except run_config.ConfigError as e:
    raise app.UsageError(str(e)) from e


def init_processes() -> ProcessSync:
  """Starts jax.distributed when asked to (one process per host); returns this process's place."""
  if _COORDINATOR.value or _DISTRIBUTED.value:
    # CPU processes need gloo for cross-process collectives; GPU/TPU backends ignore it.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
      coordinator_address=_COORDINATOR.value,
      num_processes=_NUM_PROCESSES.value,
      process_id=_PROCESS_ID.value,
    )
  return ProcessSync.from_jax()
