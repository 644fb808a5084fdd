"""What the built-in world is built from: its size, seed, teacher and bootstrap policy."""

import dataclasses

from rstar_jax.world.bootstrap import BootstrapConfig
from rstar_jax.world.code_generator import CodeGeneratorConfig
from rstar_jax.world.generator import GeneratorConfig
from rstar_jax.world.teacher import TeacherConfig

WORLDS = ("math", "code")  # The domains with a built-in world.
# Each world's easiest level: operations of a story, stages of a task.
LOWEST_LEVEL = {"math": GeneratorConfig().min_ops, "code": CodeGeneratorConfig().min_stages}


@dataclasses.dataclass(frozen=True)
class WorldConfig:
  """domain: which world is built, 'math' (arithmetic stories) or 'code' (function tasks).
  process_problems: size of each of the math world's process sets (development, held-out):
    teacher solutions labelled step by step (0: none).
  teacher_max_level: the teacher solves problems of levels up to this one only (0: every
    level), so the bootstrap policy meets the harder levels first in the search, and only
    self-evolution can teach them (issue 18: the bootstrap solves the easy levels only).
  """

  domain: str = "math"
  seed: int = 0
  num_train: int = 64
  num_heldout: int = 48
  process_problems: int = 0
  teacher_max_level: int = 0
  teacher: TeacherConfig = TeacherConfig()
  bootstrap: BootstrapConfig = BootstrapConfig()

  def __post_init__(self):
    if self.domain not in WORLDS:
      raise ValueError(f"world.domain must be one of {'|'.join(WORLDS)}, got {self.domain!r}")
    if self.process_problems < 0:
      raise ValueError(f"world.process_problems must be >= 0, got {self.process_problems}")
    if self.teacher_max_level and self.teacher_max_level < LOWEST_LEVEL[self.domain]:
      raise ValueError(
        f"world.teacher_max_level must be 0 (every level) or >= the {self.domain} world's "
        f"lowest level {LOWEST_LEVEL[self.domain]}, got {self.teacher_max_level}"
      )
    if self.num_train < 1 or self.num_heldout < 1:
      raise ValueError(
        f"world.num_train and world.num_heldout must be >= 1, got {self.num_train}, "
        f"{self.num_heldout}"
      )
