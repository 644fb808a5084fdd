"""Batches of token sequences for the engine and the scorer: length-sorted groups under a cap on
padded tokens, padded to shape buckets, placed batch-sharded on the mesh."""

from __future__ import annotations

from collections.abc import Sequence
import contextlib

import jax
import jax.numpy as jnp
from jax.sharding import Mesh
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
import numpy as np

from rstar_jax.inference.buckets import bucket
from rstar_jax.inference.buckets import length_bucket
from rstar_jax.inference.config import EngineConfig
from rstar_jax.inference.config import ScorerConfig
from rstar_jax.models.sharding import fit_spec


class Batcher:
  """The shape buckets and padded-token cap of `config`, and the mesh the programs run on (None:
  the default device)."""

  def __init__(self, config: EngineConfig | ScorerConfig, *, pad_id: int, mesh: Mesh | None):
    self.min_batch_bucket = config.min_batch_bucket
    self.min_length_bucket = config.min_length_bucket
    self.max_tokens = config.max_prefill_tokens
    self.pad_id = pad_id
    self.mesh = mesh

  def shape(self, lengths: Sequence[int]) -> tuple[int, int]:
    """Padded (rows, length) of a batch of sequences of these lengths."""
    return bucket(len(lengths), self.min_batch_bucket), length_bucket(
      max(lengths), self.min_length_bucket
    )

  def groups(self, lengths: Sequence[int], max_rows: int | None = None) -> list[list[int]]:
    """Indices grouped by similar length: each group's padded batch holds at most `max_tokens`
    tokens and `max_rows` sequences (a sequence over the cap forms a group alone)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    groups: list[list[int]] = []
    current: list[int] = []
    for i in order:
      trial = [*current, i]
      rows, length = self.shape([lengths[j] for j in trial])
      if current and (
        (max_rows is not None and len(trial) > max_rows) or rows * length > self.max_tokens
      ):
        groups.append(current)
        trial = [i]
      current = trial
    if current:
      groups.append(current)
    return groups

  def pad(self, ids: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """tokens [B, L] right-padded to `shape` and lengths [B] (1 on padding rows, so a program
    reading each row's last token stays in bounds)."""
    rows, length = self.shape([len(t) for t in ids])
    tokens = np.full((rows, length), self.pad_id, np.int32)
    lengths = np.ones((rows,), np.int32)
    for i, toks in enumerate(ids):
      tokens[i, : len(toks)] = toks
      lengths[i] = len(toks)
    return tokens, lengths

  def put(self, array: np.ndarray) -> jax.Array:
    """The array on the device, split along its first (batch) axis over the mesh's data axes."""
    if self.mesh is None:
      return jnp.asarray(array)
    spec = fit_spec(P(("data", "fsdp")), array.shape, self.mesh)
    return jax.device_put(array, NamedSharding(self.mesh, spec))

  def scope(self) -> contextlib.AbstractContextManager:
    """The context to run programs in: `jax.set_mesh` of the mesh, if any."""
    return jax.set_mesh(self.mesh) if self.mesh is not None else contextlib.nullcontext()
