"""Whole-buffer reads and writes on pipe file descriptors (os.read/os.write may move less)."""

import os


def write_all(fd: int, data: bytes | memoryview) -> None:
  view = memoryview(data)
  while view:
    view = view[os.write(fd, view) :]


def read_to_eof(fd: int, chunk: int = 1 << 16) -> bytes:
  """Everything until the writer closes its end; closes `fd`."""
  chunks = []
  try:
    while part := os.read(fd, chunk):
      chunks.append(part)
  finally:
    os.close(fd)
  return b"".join(chunks)
