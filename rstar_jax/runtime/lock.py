"""One process per run directory: an exclusive lock taken at start, released on exit.

The lock is an `flock` on `<dir>/.lock`, so the kernel releases it when its holder dies, however
it dies: a lock left by a killed run is never mistaken for a live one. The file names the holder
(host, pid, start time) for the message a second run gets.
"""

from collections.abc import Iterator
import contextlib
import datetime
import fcntl
import json
import os
import pathlib
import socket

LOCK_FILE = ".lock"


class RunDirBusyError(RuntimeError):
  """Another live process holds the run directory."""


@contextlib.contextmanager
def hold(directory: str | os.PathLike) -> Iterator[pathlib.Path]:
  """Holds `directory`'s lock for the duration of the block; raises `RunDirBusyError` at once
  when another live process holds it."""
  directory = pathlib.Path(directory)
  directory.mkdir(parents=True, exist_ok=True)
  path = directory / LOCK_FILE
  fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
  try:
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      raise RunDirBusyError(
        f"{directory} is in use by another run ({_holder(path)}); wait for it to finish, stop "
        "it, or choose another run_dir"
      ) from None
    holder = {
      "host": socket.gethostname(),
      "pid": os.getpid(),
      "since": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(holder) + "\n").encode(), 0)
    yield path
  finally:
    os.close(fd)  # Closing the descriptor releases the lock.


def _holder(path: pathlib.Path) -> str:
  try:
    holder = json.loads(path.read_text(encoding="utf-8"))
    return f"pid {holder['pid']} on {holder['host']} since {holder['since']}"
  except (OSError, ValueError, KeyError, TypeError):
    return "holder unknown"
