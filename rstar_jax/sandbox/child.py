"""What runs inside the disposable child forked from the warm worker for one program.

The child applies the limits to itself, runs the program in fresh globals and reports the
exception it ended with (its real type and message) on a private pipe, then leaves with
`os._exit` so that no cleanup code of the worker's image runs and lingering threads die with it.
"""

import dataclasses
import errno
import io
import json
import os
import resource
import select
import signal
import sys
from typing import Any

from rstar_jax.sandbox import fdio
from rstar_jax.sandbox import guard
from rstar_jax.sandbox import isolation
from rstar_jax.sandbox import limits as limits_lib
from rstar_jax.sandbox import prefault

_MAX_MESSAGE_CHARS = 2000
# errno values whose OSError means a sandbox limit refused the operation.
_ERRNO_LIMITS = {errno.EFBIG: limits_lib.FILE_SIZE, errno.EAGAIN: limits_lib.PROCESSES}


@dataclasses.dataclass(frozen=True)
class ChildSetup:
  """Everything the worker decided before forking; the program itself arrives on `program_fd`."""

  limits: limits_lib.Limits
  workdir: str
  writable_dirs: tuple[str, ...]
  program_fd: int
  stdout_fd: int
  report_fd: int
  address_space_bytes: int
  confinement: isolation.Confinement
  block_network: bool
  prefault_ranges: prefault.PageRanges


def _limit_of(exc: BaseException) -> str | None:
  if isinstance(exc, MemoryError):
    return limits_lib.MEMORY
  if isinstance(exc, OSError):
    return _ERRNO_LIMITS.get(exc.errno)
  return None


def _count_processes(uid: int) -> int:
  count = 0
  for entry in os.scandir("/proc"):
    try:
      count += entry.name.isdigit() and entry.stat().st_uid == uid
    except OSError:
      pass
  return count


def _set_limits(setup: ChildSetup) -> None:
  lim = setup.limits
  cpu = lim.cpu_seconds
  resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
  resource.setrlimit(resource.RLIMIT_AS, (setup.address_space_bytes, setup.address_space_bytes))
  resource.setrlimit(resource.RLIMIT_FSIZE, (lim.file_size_bytes, lim.file_size_bytes))
  resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
  if setup.confinement.uid is not None:  # A uid of its own: the count is the program's alone.
    resource.setrlimit(resource.RLIMIT_NPROC, (lim.max_processes, lim.max_processes))
  elif os.geteuid() != 0:  # Shared uid: allow what the user already runs plus the budget.
    nproc = _count_processes(os.getuid()) + lim.max_processes
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))


def _redirect_fds(setup: ChildSetup) -> tuple[int, int]:
  """Points stdio at the capture pipe and /dev/null and closes every worker descriptor.

  Returns the new numbers of the program and report pipes.
  """
  devnull = os.open(os.devnull, os.O_RDWR)
  program_fd = os.dup(setup.program_fd)
  report_fd = os.dup(setup.report_fd)
  os.dup2(devnull, 0)
  os.dup2(setup.stdout_fd, 1)
  os.dup2(devnull, 2)
  program_fd = os.dup2(program_fd, 3)
  report_fd = os.dup2(report_fd, 4)
  for fd in map(int, os.listdir("/proc/self/fd")):
    if fd > 4:
      try:
        os.close(fd)
      except OSError:
        pass  # The descriptor of the listing itself.
  return program_fd, report_fd


def _read_program(fd: int) -> str:
  return fdio.read_to_eof(fd).decode("utf-8", "surrogateescape")


def _prepare(setup: ChildSetup) -> tuple[int, int]:
  os.setsid()  # Own process group: the worker kills the whole group.
  for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
    signal.signal(sig, signal.SIG_DFL)
  signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # Oversized writes fail with EFBIG instead.
  fds = _redirect_fds(setup)
  prefault.populate(setup.prefault_ranges, lambda: bool(select.select([fds[0]], [], [], 0)[0]))
  _set_limits(setup)  # Before the view: counting processes may need the worker's /proc.
  setup.confinement.apply()
  os.chdir(setup.workdir)  # The same path inside the view, which holds the scratch directories.
  guard.install(setup.writable_dirs, setup.block_network)
  sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
  sys.stdout = io.TextIOWrapper(
    io.FileIO(1, "w", closefd=False), encoding="utf-8", errors="backslashreplace"
  )
  sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8")
  sys.argv = ["<program>"]
  return fds


def _report(fd: int, exc: BaseException | None, spawned: bool) -> None:
  """Writes one JSON line (JSON, not pickle: the worker must not unpickle program data)."""
  record: dict[str, Any] = {"error_type": None, "error_message": None, "limit_hit": None}
  if exc is not None:
    message = str(exc) if not isinstance(exc, SystemExit) else f"exit code {exc.code!r}"
    record = {
      "error_type": type(exc).__name__,
      "error_message": message[:_MAX_MESSAGE_CHARS],
      "limit_hit": _limit_of(exc),
    }
  record["spawned"] = spawned
  fdio.write_all(fd, json.dumps(record).encode() + b"\n")


def run(setup: ChildSetup) -> None:
  """Prepares, waits for the program, runs it and exits the process; never returns."""
  exc: BaseException | None = None
  report_fd = -1
  main_pid = os.getpid()
  try:
    program_fd, report_fd = _prepare(setup)
    program = _read_program(program_fd)
    code = compile(program, "<program>", "exec")
    exec(code, {"__name__": "__main__", "__builtins__": __builtins__})
    sys.stdout.flush()
  except BaseException as e:
    exc = e
  try:
    if os.getpid() == main_pid and report_fd >= 0:  # Forked copies of the program stay silent.
      try:
        sys.stdout.flush()
      except BaseException:
        pass
      _report(report_fd, exc, guard.spawned())
      for fd in (1, 2, report_fd):  # EOF tells the worker the program is over.
        try:
          os.close(fd)
        except OSError:
          pass
  finally:
    os._exit(0)
