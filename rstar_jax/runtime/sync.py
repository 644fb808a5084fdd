"""Process coordination for multi-host runs (one process per host, `jax.distributed`).

Every process runs every stage on its share of the work; the leader (process 0) alone writes
stage markers and reports, after a barrier that all processes reach once their share is done.
"""

import dataclasses

import jax
from jax.experimental import multihost_utils


@dataclasses.dataclass(frozen=True)
class ProcessSync:
  index: int = 0
  count: int = 1

  @classmethod
  def from_jax(cls) -> "ProcessSync":
    return cls(jax.process_index(), jax.process_count())

  @property
  def is_leader(self) -> bool:
    return self.index == 0

  def barrier(self, name: str) -> None:
    """Blocks until every process reached the barrier of the same name (no-op alone)."""
    if self.count > 1:
      multihost_utils.sync_global_devices(name)
