"""Length-prefixed pickle frames over pipe file descriptors (pool <-> warm worker)."""

import os
import pickle
import struct
from typing import Any

from rstar_jax.sandbox import fdio

_HEADER = struct.Struct("<I")


def send(fd: int, obj: Any) -> None:
  data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
  fdio.write_all(fd, _HEADER.pack(len(data)) + data)


def _read_exact(fd: int, n: int) -> bytes | None:
  chunks = []
  while n:
    chunk = os.read(fd, n)
    if not chunk:
      return None
    chunks.append(chunk)
    n -= len(chunk)
  return b"".join(chunks)


def recv(fd: int) -> Any:
  """The next object, or raises EOFError when the other side closed the pipe."""
  header = _read_exact(fd, _HEADER.size)
  if header is None:
    raise EOFError("sandbox pipe closed")
  data = _read_exact(fd, _HEADER.unpack(header)[0])
  if data is None:
    raise EOFError("sandbox pipe closed mid-message")
  return pickle.loads(data)
