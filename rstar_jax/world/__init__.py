"""The built-in world: generated arithmetic word problems, an imperfect teacher, a tokenizer and
a tiny bootstrap policy, so that self-evolution runs end to end on a CPU (docs/architecture.md)."""

from rstar_jax.world.bootstrap import BootstrapConfig
from rstar_jax.world.build import bootstrap_report_path
from rstar_jax.world.build import build_world
from rstar_jax.world.build import dev_path
from rstar_jax.world.build import heldout_path
from rstar_jax.world.build import policy_path
from rstar_jax.world.build import process_set_path
from rstar_jax.world.build import tokenizer_path
from rstar_jax.world.build import train_path
from rstar_jax.world.config import WorldConfig
from rstar_jax.world.process_set import read_process_set
from rstar_jax.world.teacher import TeacherConfig

__all__ = [
  "BootstrapConfig",
  "TeacherConfig",
  "WorldConfig",
  "bootstrap_report_path",
  "build_world",
  "dev_path",
  "heldout_path",
  "policy_path",
  "process_set_path",
  "read_process_set",
  "tokenizer_path",
  "train_path",
]
