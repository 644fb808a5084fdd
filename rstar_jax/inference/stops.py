"""Stop strings: token sequences matched inside jit, and the host-side text rule that is final.

Inside the decode loop a stop fires when the generated ids end with the tokenizer's own encoding
of a stop string (cheap, catches the usual case, e.g. special-token markers). A model can also spell
a stop string with other tokens, so the host checks the decoded text of every unfinished row
between chunks; the text rule decides what is returned.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def stop_table(tokenizer, stops: Sequence[str]) -> np.ndarray:
  """[num_stops, M] int32, each stop's ids right-aligned, -1 (wildcard) padding on the left."""
  encoded = [tokenizer.encode(s, add_special_tokens=False) for s in stops]
  for s, ids in zip(stops, encoded):
    if not ids:
      raise ValueError(f"stop string {s!r} encodes to no tokens")
  width = max((len(ids) for ids in encoded), default=1)
  table = np.full((max(len(encoded), 1), width), -1, np.int32)
  if not encoded:
    table[:] = -3  # matches nothing
  for i, ids in enumerate(encoded):
    table[i, width - len(ids) :] = ids
  return table


def first_stop_end(text: str, stops: Sequence[str]) -> int | None:
  """End index of the earliest stop string occurrence in `text`, or None."""
  ends = [i + len(s) for s in stops if (i := text.find(s)) >= 0]
  return min(ends) if ends else None
