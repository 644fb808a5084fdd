"""What the built-in world is built from: its size, seed, teacher and bootstrap policy."""

import dataclasses

from rstar_jax.world.bootstrap import BootstrapConfig
from rstar_jax.world.code_generator import CodeGeneratorConfig
from rstar_jax.world.generator import GeneratorConfig
from rstar_jax.world.teacher import TeacherConfig

WORLDS = ("math", "code")  # The domains with a built-in world.
# Each world's (easiest, hardest) level: operations of a story, stages of a task.
LEVELS = {
  "math": (GeneratorConfig().min_ops, GeneratorConfig().max_ops),
  "code": (CodeGeneratorConfig().min_stages, CodeGeneratorConfig().max_stages),
}


@dataclasses.dataclass(frozen=True)
class WorldConfig:
  """domain: which world is built, 'math' (arithmetic stories) or 'code' (function tasks).
  process_problems: size of each of the math world's process sets (development, held-out):
    teacher solutions labelled step by step (0: none).
  teacher_max_level: the teacher's problems are of this level or below (0: every level), but
    for `teacher_hard_share` of them, which come from the levels above: the bootstrap policy
    solves the easy levels and seldom the hard ones, so the search must teach those (issue 18).
    Without any hard share it writes no more steps than it was shown, and the search seldom
    finds a longer solution (docs/benchmarks.md).
  """

  domain: str = "math"
  seed: int = 0
  num_train: int = 64
  num_heldout: int = 48
  process_problems: int = 0
  teacher_max_level: int = 0
  teacher_hard_share: float = 0.0
  teacher: TeacherConfig = TeacherConfig()
  bootstrap: BootstrapConfig = BootstrapConfig()

  def __post_init__(self):
    if self.domain not in WORLDS:
      raise ValueError(f"world.domain must be one of {'|'.join(WORLDS)}, got {self.domain!r}")
    if self.process_problems < 0:
      raise ValueError(f"world.process_problems must be >= 0, got {self.process_problems}")
    lowest, highest = LEVELS[self.domain]
    if self.teacher_max_level and self.teacher_max_level < lowest:
      raise ValueError(
        f"world.teacher_max_level must be 0 (every level) or >= the {self.domain} world's "
        f"lowest level {lowest}, got {self.teacher_max_level}"
      )
    if not 0.0 <= self.teacher_hard_share < 1.0:
      raise ValueError(f"world.teacher_hard_share must be in [0, 1), got {self.teacher_hard_share}")
    if self.teacher_hard_share and not lowest <= self.teacher_max_level < highest:
      raise ValueError(
        f"world.teacher_hard_share needs a teacher_max_level below the {self.domain} world's "
        f"hardest level {highest}, got {self.teacher_max_level}"
      )
    if self.num_train < 1 or self.num_heldout < 1:
      raise ValueError(
        f"world.num_train and world.num_heldout must be >= 1, got {self.num_train}, "
        f"{self.num_heldout}"
      )
