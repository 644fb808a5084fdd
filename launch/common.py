"""What every absl launcher shares: the config flag and multi-host start-up."""

import logging
import pathlib

from absl import app
from absl import flags
import jax
from ml_collections import config_flags

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


def define_config(default: str = DEFAULT_CONFIG):
  """`--config=configs/x.py[:variant]` with `--config.a.b=value` overrides."""
  return config_flags.DEFINE_config_file(
    "config", default, "ml_collections config file.", lock_config=True
  )


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
