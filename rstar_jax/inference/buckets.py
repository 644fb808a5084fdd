"""Shape buckets, and a counter of the distinct programs they lead XLA to compile."""

from __future__ import annotations


def bucket(n: int, minimum: int) -> int:
  """Smallest power-of-two multiple of `minimum` that holds n."""
  size = max(1, minimum)
  while size < n:
    size *= 2
  return size


def length_bucket(n: int, minimum: int) -> int:
  """Like `bucket`, with a half step between powers of two (64, 96, 128, 192, ...): at most 1.5x
  padding for at most twice as many programs."""
  size = bucket(n, minimum)
  half = size * 3 // 4
  return half if size > minimum and half >= n and half % 8 == 0 else size


class ProgramCounter:
  """Counts distinct (program, static shapes) signatures: each is one XLA compilation."""

  def __init__(self):
    self._seen: set[tuple] = set()

  def record(self, *signature) -> None:
    self._seen.add(signature)

  def __len__(self) -> int:
    return len(self._seen)
