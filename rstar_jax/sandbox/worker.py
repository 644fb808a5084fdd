"""The long-lived warm worker: imports the math stack once, then forks one child per program.

Started by `SandboxPool` as `python -I -c ...` with a scrubbed environment. It speaks
`protocol` frames on its original stdin/stdout: first the `Limits`, answered by a description of
the isolation it obtained, then one program per request, answered by the fields of an
`ExecResult`. It supervises each child (deadline, output size), then kills and reaps everything
the program left behind before taking the next request.
"""

import contextlib
import dataclasses
import gc
import importlib
import json
import os
import pathlib
import resource
import select
import shutil
import signal
import sys
import tempfile
import time
from typing import Any

import numpy

from rstar_jax.sandbox import child as child_lib
from rstar_jax.sandbox import fdio
from rstar_jax.sandbox import isolation
from rstar_jax.sandbox import limits as limits_lib
from rstar_jax.sandbox import prefault
from rstar_jax.sandbox import protocol

# Imported once here so that programs find them in sys.modules at no cost.
PREIMPORTED = (
  "math",
  "cmath",
  "fractions",
  "decimal",
  "itertools",
  "functools",
  "collections",
  "operator",
  "statistics",
  "random",
  "re",
  "string",
  "heapq",
  "bisect",
  "numpy",
  "sympy",
  "sympy.abc",
)
# Exercised once so that lazily loaded parts of sympy are already in the image every child shares.
_WARMUP = """
from sympy import symbols, solve, simplify, factor, expand, Rational, sqrt, Matrix, factorint
from sympy import integrate, diff, limit, oo, nsimplify, binomial, Eq, sin, cos, pi, isprime
x, y = symbols('x y')
solve(Eq(x**2 - 5*x + 6, 0), x); solve([x + y - 3, x - y - 1], [x, y])
simplify((x**2 - 1) / (x - 1)); factor(x**3 - x); expand((x + 1)**3); sqrt(Rational(8, 9))
Matrix([[1, 2], [3, 4]]).det(); factorint(360); integrate(x**2, (x, 0, 1)); diff(sin(x), x)
limit(sin(x) / x, x, 0); nsimplify(0.5); binomial(10, 3); isprime(97); str(pi.evalf(20))
str(x**2 + Rational(1, 3)); repr(Matrix([[x, 1]]))
"""
_READ_CHUNK = 1 << 16
_REAP_GRACE_S = 5.0
# The checkout the pool puts first on the worker's sys.path (its `_PACKAGE_ROOT`).
_CHECKOUT = str(pathlib.Path(__file__).resolve().parents[2])


def _python_dirs() -> tuple[str, ...]:
  """Directories a program must be able to read to import what is not pre-imported."""
  return tuple(os.path.dirname(m.__file__) for m in (os, json, numpy))


def _install_paths() -> tuple[str, ...]:
  """What a program's view holds of the Python installation.

  The prefixes (interpreter, standard library, the virtual environment with its site-packages)
  and any import path outside them (e.g. a package installed in development mode), except the
  checkout: programs never import rstar_jax, and it holds the run directories.
  """
  prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
  outside = [
    p
    for p in sys.path
    if os.path.isabs(p) and p != _CHECKOUT and not any(p.startswith(q + "/") for q in prefixes)
  ]
  return tuple(sorted(prefixes)) + tuple(outside)


def _build_view(root: str) -> str | None:
  os.mkdir(root, 0o700)
  return isolation.build_view(root, _install_paths())


def _address_space_bytes() -> int:
  with open("/proc/self/statm") as f:
    return int(f.read().split()[0]) * resource.getpagesize()


@dataclasses.dataclass(frozen=True)
class _ReadyChild:
  pid: int
  workdir: str
  program_w: int
  out_r: int
  report_r: int


def _write_all(fd: int, data: bytes) -> None:
  """Sends the program and closes the pipe; a child that already died just misses it."""
  try:
    fdio.write_all(fd, data)
  except BrokenPipeError:
    pass
  finally:
    os.close(fd)


class Worker:
  """Runs programs one at a time in children forked from this warm process."""

  def __init__(self, limits: limits_lib.Limits, prefault_ranges: prefault.PageRanges = ()):
    self.limits = limits
    self.prefault_ranges = prefault_ranges
    self.network = isolation.isolate_network() if limits.disable_network else "none"
    self.private_scratch = isolation.private_scratch(limits.scratch_bytes, _install_paths())
    self.scratch_root = tempfile.mkdtemp(prefix="rstar-sandbox-")
    view_root = os.path.join(self.scratch_root, "view")  # In the private /tmp it also shows.
    self.view = _build_view(view_root) if self.private_scratch else None
    self.confinement = isolation.confine(
      limits.drop_privileges, view_root if self.view else None, _python_dirs()
    )
    self.uid = self.confinement.uid
    isolation.become_subreaper()
    self._ready: _ReadyChild | None = None
    self._exiting: int | None = None
    if self.uid is not None:
      os.chmod(self.scratch_root, 0o711)  # Programs reach their own directory, list nothing.

  def describe(self) -> dict[str, Any]:
    return {
      "pid": os.getpid(),
      "network": self.network,
      "private_scratch": self.private_scratch,
      "view": self.view if self.confinement.view else None,
      "uid": self.uid,
      "capabilities": self.confinement.capabilities,
      "prefault_bytes": sum(n for _, n in self.prefault_ranges),
    }

  def prefork(self) -> None:
    """Forks the next program's child now, off the critical path; it waits for its program."""
    if self._ready is not None:
      return
    self._collect()
    workdir = tempfile.mkdtemp(dir=self.scratch_root)
    if self.uid is not None:
      os.chown(workdir, self.uid, self.uid)
    program_r, program_w = os.pipe()
    out_r, out_w = os.pipe()
    report_r, report_w = os.pipe()
    setup = child_lib.ChildSetup(
      limits=self.limits,
      workdir=workdir,
      writable_dirs=(workdir,),
      program_fd=program_r,
      stdout_fd=out_w,
      report_fd=report_w,
      address_space_bytes=_address_space_bytes() + self.limits.memory_bytes,
      confinement=self.confinement,
      block_network=self.network == "audit_hook",
      prefault_ranges=self.prefault_ranges,
    )
    pid = os.fork()
    if pid == 0:
      child_lib.run(setup)  # Never returns.
    for fd in (program_r, out_w, report_w):
      os.close(fd)
    self._ready = _ReadyChild(pid, workdir, program_w, out_r, report_r)

  def execute(self, program: str) -> dict[str, Any]:
    self.prefork()
    ready, self._ready = self._ready, None
    try:
      start = time.perf_counter()
      if self.prefault_ranges:
        prefault.wake(ready.pid)
      _write_all(ready.program_w, program.encode("utf-8", "surrogateescape"))
      return self._supervise(ready.pid, start, ready.out_r, ready.report_r)
    finally:
      os.close(ready.out_r)
      os.close(ready.report_r)
      self._wipe(ready.workdir)

  def _wipe(self, workdir: str) -> None:
    shutil.rmtree(workdir, ignore_errors=True)
    if not self.private_scratch:
      return
    for scratch in isolation.SCRATCH_DIRS:  # Private tmpfs: nothing there is anyone else's.
      for entry in os.scandir(scratch) if os.path.isdir(scratch) else ():
        if entry.path == self.scratch_root:
          continue
        if entry.is_dir(follow_symlinks=False):
          shutil.rmtree(entry.path, ignore_errors=True)
        else:
          os.unlink(entry.path)

  def discard(self) -> None:
    """Kills the waiting child (when the worker shuts down)."""
    self._collect()
    if self._ready is not None:
      ready, self._ready = self._ready, None
      _kill_group(ready.pid)
      # A child forked a moment ago may not have reached its `setsid` yet, so it leads no group
      # the kill above could reach; killed by pid too, it never blocks on its program pipe.
      with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(ready.pid, signal.SIGKILL)
      os.waitpid(ready.pid, 0)
      for fd in (ready.program_w, ready.out_r, ready.report_r):
        os.close(fd)
      self._reap_leftovers(ready.pid)

  def _supervise(self, pid: int, start: float, out_r: int, report_r: int) -> dict[str, Any]:
    """Collects output and report until the program is over or breaks a limit.

    A program that reported and closed its pipes without having started a process is over: the
    reply goes out while the kernel still tears the child down, and `_collect` reaps it later.
    """
    stdout, report = bytearray(), bytearray()
    pidfd = os.pidfd_open(pid)
    poller = select.poll()
    for fd in (out_r, report_r, pidfd):
      poller.register(fd, select.POLLIN)
    open_fds = {out_r, report_r}
    deadline = start + self.limits.timeout_s
    killed_for = None
    try:
      while True:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
          killed_for = limits_lib.TIMEOUT
          break
        events = poller.poll(remaining * 1000)
        if any(fd == pidfd for fd, _ in events):
          break
        for fd, _ in events:
          data = os.read(fd, _READ_CHUNK)
          (stdout if fd == out_r else report).extend(data)
          if not data:
            poller.unregister(fd)
            open_fds.discard(fd)
        if len(stdout) > self.limits.max_output_bytes:
          killed_for = limits_lib.OUTPUT
          break
        record = None if open_fds else _parse_report(report)
        if record is not None and not record.pop("spawned"):
          self._exiting = pid
          return _result(self.limits, stdout, record, time.perf_counter() - start)
    finally:
      os.close(pidfd)
    if killed_for is not None:
      _kill_group(pid)
    _, status, rusage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - start
    self._reap_leftovers(pid)
    self._drain(out_r, stdout)  # What is still in the pipes; all writers are dead now.
    self._drain(report_r, report)
    record = _parse_report(report) if killed_for is None else None
    if record is not None:
      record.pop("spawned")
      return _result(self.limits, stdout, record, elapsed)
    cpu_used = rusage.ru_utime + rusage.ru_stime
    return _result(
      self.limits, stdout, _failure(self.limits, status, killed_for, cpu_used), elapsed
    )

  def _collect(self) -> None:
    """Reaps the previous program's child (and anything it left) before the next one forks."""
    if self._exiting is not None:
      pid, self._exiting = self._exiting, None
      os.waitpid(pid, 0)
      self._reap_leftovers(pid)

  def _drain(self, fd: int, buf: bytearray) -> None:
    os.set_blocking(fd, False)
    while len(buf) <= self.limits.max_output_bytes:
      try:
        data = os.read(fd, _READ_CHUNK)
      except BlockingIOError:
        return  # A writer survived the sweep; what it still writes is dropped.
      if not data:
        return
      buf += data

  def _reap_leftovers(self, pid: int) -> None:
    """Kills and reaps every process the program left (orphans re-parent to this subreaper)."""
    _kill_group(pid)
    give_up = time.monotonic() + _REAP_GRACE_S
    while time.monotonic() < give_up:
      try:
        reaped, _ = os.waitpid(-1, os.WNOHANG)
      except ChildProcessError:
        return
      if reaped == 0:
        self._kill_descendants()
        time.sleep(0.001)

  def _kill_descendants(self) -> None:
    if self.uid is not None:
      helper = os.fork()
      if helper == 0:  # kill(-1) as the program's uid reaches exactly the program's processes.
        try:
          os.setuid(self.uid)
          os.kill(-1, signal.SIGKILL)
        finally:
          os._exit(0)
      os.waitpid(helper, 0)
      return
    for pid in _descendants(os.getpid()):
      _kill_group(pid)
      try:
        os.kill(pid, signal.SIGKILL)
      except ProcessLookupError:
        pass


def _kill_group(pgid: int) -> None:
  try:
    os.killpg(pgid, signal.SIGKILL)
  except (ProcessLookupError, PermissionError):
    pass


def _descendants(root: int) -> list[int]:
  """Pids below `root`, from a scan of /proc (used only where programs share our uid)."""
  children: dict[int, list[int]] = {}
  for entry in os.scandir("/proc"):
    if not entry.name.isdigit():
      continue
    try:
      with open(f"/proc/{entry.name}/stat") as f:
        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
      continue
    children.setdefault(ppid, []).append(int(entry.name))
  found, stack = [], [root]
  while stack:
    for pid in children.get(stack.pop(), ()):
      found.append(pid)
      stack.append(pid)
  return found


def _truncate(text: str, keep: int) -> str:
  if len(text) <= 2 * keep:
    return text
  return text[:keep] + "\n...\n" + text[-keep:]


def _parse_report(report: bytes) -> dict[str, Any] | None:
  """The child's JSON record, or None when it never reported (or wrote something else)."""
  line, newline, _ = bytes(report).partition(b"\n")
  try:
    record = json.loads(line) if newline else None
  except ValueError:
    return None
  fields = ("error_type", "error_message", "limit_hit")
  if not isinstance(record, dict) or set(record) != {*fields, "spawned"}:
    return None
  if not all(record[k] is None or isinstance(record[k], str) for k in fields):
    return None
  if not isinstance(record["spawned"], bool):
    return None
  return record


def _failure(
  limits: limits_lib.Limits, status: int, killed_for: str | None, cpu_used: float
) -> dict[str, Any]:
  """Error fields for a program that ended without a report."""
  if killed_for == limits_lib.TIMEOUT:
    message = f"program ran longer than {limits.timeout_s:g} s"
    return {"error_type": "Timeout", "error_message": message, "limit_hit": killed_for}
  if killed_for == limits_lib.OUTPUT:
    message = f"program wrote more than {limits.max_output_bytes} bytes"
    return {"error_type": "OutputLimit", "error_message": message, "limit_hit": killed_for}
  if os.WIFSIGNALED(status):
    sig = signal.Signals(os.WTERMSIG(status))
    over_cpu = sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu_used >= limits.cpu_seconds)
    return {
      "error_type": "Killed",
      "error_message": f"program killed by {sig.name}",
      "limit_hit": limits_lib.CPU if over_cpu else None,
    }
  code = os.waitstatus_to_exitcode(status)
  return {
    "error_type": "Exit",
    "error_message": f"program exited with status {code} before finishing",
    "limit_hit": None,
  }


def _result(
  limits: limits_lib.Limits, stdout: bytearray, error: dict[str, Any], elapsed: float
) -> dict[str, Any]:
  text = _truncate(
    bytes(stdout[: limits.max_output_bytes]).decode("utf-8", "replace"), limits.output_keep_chars
  )
  return {"ok": error["error_type"] is None, "stdout": text, "elapsed_s": elapsed, **error}


def _preimport() -> None:
  for name in PREIMPORTED:
    importlib.import_module(name)
  exec(compile(_WARMUP, "<warmup>", "exec"), {"__name__": "__warmup__"})


def main() -> None:
  """Entry point of the worker process."""
  request_fd, reply_fd = os.dup(0), os.dup(1)
  devnull = os.open(os.devnull, os.O_RDWR)
  os.dup2(devnull, 0)
  os.dup2(devnull, 1)
  os.chdir("/")
  signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the pool, which shuts us down.
  limits, prefault_children = protocol.recv(request_fd)
  _preimport()
  gc.collect()
  gc.freeze()  # Children never touch the warm objects' GC headers: fewer copied pages.
  worker = Worker(limits, prefault.probe(_WARMUP) if prefault_children else ())
  protocol.send(reply_fd, worker.describe())
  worker.prefork()
  while True:
    try:
      program = protocol.recv(request_fd)
    except EOFError:
      worker.discard()
      return
    try:
      reply = worker.execute(program)
    except Exception as e:
      reply = {
        "ok": False,
        "stdout": "",
        "error_type": "SandboxError",
        "error_message": f"{type(e).__name__}: {e}",
        "elapsed_s": 0.0,
        "limit_hit": None,
      }
    protocol.send(reply_fd, reply)
    worker.prefork()
