"""Shape buckets, and a counter of the distinct programs they lead XLA to compile."""
from __future__ import annotations


def bucket(n: int, minimum: int) -> int:
  """Smallest power-of-two multiple of `minimum` that holds n."""
  size = max(1, minimum)
  while size < n:
    size *= 2
  return size


class ProgramCounter:
  """Counts distinct (program, static shapes) signatures: each is one XLA compilation."""

  def __init__(self):
    self._seen: set[tuple] = set()

  def record(self, *signature) -> None:
    self._seen.add(signature)

  def __len__(self) -> int:
    return len(self._seen)
