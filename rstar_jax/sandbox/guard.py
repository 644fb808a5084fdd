"""Audit hook installed in each program's process: file writes stay in its work directory.

Python raises an audit event before every file open, removal, rename, ... (PEP 578); the hook
rejects any that would modify a path outside the work directory (or the private scratch
directories), so such a program fails with PermissionError. It also blocks sockets where no
network namespace could be had. It is a second line of defence behind the OS measures in
`isolation` (ctypes calls into libc do not raise audit events).
"""

from collections.abc import Callable
import os
import sys
from typing import Any

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
# Events whose listed arguments are paths the operation modifies.
_PATH_EVENTS = {
  "os.remove": (0,),
  "os.rmdir": (0,),
  "os.mkdir": (0,),
  "os.rename": (0, 1),
  "os.link": (1,),
  "os.symlink": (1,),
  "os.chmod": (0,),
  "os.chown": (0,),
  "os.utime": (0,),
  "os.truncate": (0,),
  "shutil.rmtree": (0,),
  "os.chflags": (0,),
  "os.mkfifo": (0,),
  "os.mknod": (0,),
}
_SOCKET_EVENTS = frozenset(
  {
    "socket.connect",
    "socket.bind",
    "socket.sendto",
    "socket.sendmsg",
    "socket.getaddrinfo",
    "socket.gethostbyname",
    "socket.gethostbyaddr",
  }
)
_ALWAYS_WRITABLE = ("/dev/null",)
# Events that start a process, which may outlive the program.
_SPAWN_EVENTS = frozenset(
  {"os.fork", "os.forkpty", "os.posix_spawn", "subprocess.Popen", "os.system", "pty.spawn"}
)
_spawn_seen: list[str] = []


def spawned() -> bool:
  """Whether the program asked for a new process (the worker then waits for the whole tree)."""
  return bool(_spawn_seen)


def _opens_for_write(mode: Any, flags: Any) -> bool:
  if isinstance(mode, str):
    return any(c in mode for c in "wax+")
  return isinstance(flags, int) and bool(flags & _WRITE_FLAGS)


def make_hook(
  allowed_dirs: tuple[str, ...], block_network: bool
) -> Callable[[str, tuple[Any, ...]], None]:
  """Returns the audit hook for a program allowed to write below `allowed_dirs`."""
  roots = tuple(os.path.realpath(d) for d in allowed_dirs)

  def check_path(event: str, path: Any) -> None:
    if isinstance(path, int) or path is None:
      return  # An already open descriptor: its opening was checked.
    real = os.path.realpath(os.fsdecode(path))
    if real in _ALWAYS_WRITABLE or any(real == r or real.startswith(r + "/") for r in roots):
      return
    raise PermissionError(f"sandbox: {event} outside the work directory: {real}")

  def check_signal(event: str, pid: int) -> None:
    """Signals may only reach the program's own session; `pid` as kill(2) takes it."""
    if pid == 0:
      return  # Its own process group.
    if pid == -1:
      raise PermissionError(f"sandbox: {event} to every process is not allowed")
    try:
      same = os.getsid(abs(pid)) == os.getsid(0)
    except ProcessLookupError:
      return  # The call itself will fail.
    if not same:
      raise PermissionError(f"sandbox: {event} outside the program's processes: {pid}")

  def hook(event: str, args: tuple[Any, ...]) -> None:
    if event == "open":
      if _opens_for_write(args[1], args[2]):
        check_path(event, args[0])
    elif event in _PATH_EVENTS:
      for i in _PATH_EVENTS[event]:
        check_path(event, args[i])
    elif event == "os.kill":
      check_signal(event, args[0])
    elif event == "os.killpg":
      check_signal(event, -args[0])
    elif event in _SPAWN_EVENTS:
      _spawn_seen.append(event)
    elif block_network and event in _SOCKET_EVENTS:
      raise PermissionError(f"sandbox: network access is disabled ({event})")

  return hook


def install(allowed_dirs: tuple[str, ...], block_network: bool) -> None:
  sys.addaudithook(make_hook(allowed_dirs, block_network))
