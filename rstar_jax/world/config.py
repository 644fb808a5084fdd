"""What the built-in world is built from: its size, seed, teacher and bootstrap policy."""

import dataclasses

from rstar_jax.world.bootstrap import BootstrapConfig
from rstar_jax.world.teacher import TeacherConfig


@dataclasses.dataclass(frozen=True)
class WorldConfig:
  seed: int = 0
  num_train: int = 64
  num_heldout: int = 48
  teacher: TeacherConfig = TeacherConfig()
  bootstrap: BootstrapConfig = BootstrapConfig()

  def __post_init__(self):
    if self.num_train < 1 or self.num_heldout < 1:
      raise ValueError(
        f"world.num_train and world.num_heldout must be >= 1, got {self.num_train}, "
        f"{self.num_heldout}"
      )
