"""The long-lived warm worker: imports the math stack once, then forks one child per program.

Started by `SandboxPool` as `python -I -c ...` with a scrubbed environment. It speaks
`protocol` frames on its original stdin/stdout: first the `Limits`, answered by a description of
the isolation it obtained, then one program per request, answered by the fields of an
`ExecResult`. It supervises each child (deadline, output size), then kills and reaps everything
the program left behind before taking the next request.
"""
import gc
import importlib
import json
import os
import resource
import select
import shutil
import signal
import tempfile
import time
from typing import Any

from rstar_jax.sandbox import child as child_lib
from rstar_jax.sandbox import isolation
from rstar_jax.sandbox import limits as limits_lib
from rstar_jax.sandbox import protocol

# Imported once here so that programs find them in sys.modules at no cost.
PREIMPORTED = ("math", "cmath", "fractions", "decimal", "itertools", "functools", "collections",
               "operator", "statistics", "random", "re", "string", "heapq", "bisect", "numpy",
               "sympy", "sympy.abc")
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


def _address_space_bytes() -> int:
  with open("/proc/self/statm") as f:
    return int(f.read().split()[0]) * resource.getpagesize()


class Worker:
  """Runs programs one at a time in children forked from this warm process."""

  def __init__(self, limits: limits_lib.Limits):
    self.limits = limits
    self.network = isolation.isolate_network() if limits.disable_network else "none"
    self.private_scratch = isolation.private_scratch()
    self.scratch_root = tempfile.mkdtemp(prefix="rstar-sandbox-")
    self.uid = isolation.program_uid(limits.drop_privileges)
    isolation.become_subreaper()
    if self.uid is not None:
      os.chmod(self.scratch_root, 0o711)  # Programs reach their own directory, list nothing.

  def describe(self) -> dict[str, Any]:
    return {"pid": os.getpid(), "network": self.network, "private_scratch": self.private_scratch,
            "uid": self.uid}

  def execute(self, program: str) -> dict[str, Any]:
    workdir = tempfile.mkdtemp(dir=self.scratch_root)
    try:
      if self.uid is not None:
        os.chown(workdir, self.uid, self.uid)
      return self._run_child(program, workdir)
    finally:
      self._wipe(workdir)

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

  def _run_child(self, program: str, workdir: str) -> dict[str, Any]:
    out_r, out_w = os.pipe()
    report_r, report_w = os.pipe()
    setup = child_lib.ChildSetup(
        program=program, limits=self.limits, workdir=workdir, writable_dirs=(workdir,),
        stdout_fd=out_w, report_fd=report_w,
        address_space_bytes=_address_space_bytes() + self.limits.memory_bytes, uid=self.uid,
        block_network=self.network == "audit_hook")
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
      child_lib.run(setup)  # Never returns.
    os.close(out_w)
    os.close(report_w)
    try:
      return self._supervise(pid, start, out_r, report_r)
    finally:
      os.close(out_r)
      os.close(report_r)

  def _supervise(self, pid: int, start: float, out_r: int, report_r: int) -> dict[str, Any]:
    """Collects output and report until the child exits or breaks a limit."""
    stdout, report = bytearray(), bytearray()
    pidfd = os.pidfd_open(pid)
    poller = select.poll()
    for fd in (out_r, report_r, pidfd):
      poller.register(fd, select.POLLIN)
    deadline = start + self.limits.timeout_s
    killed_for = None
    try:
      while killed_for is None:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
          killed_for = limits_lib.TIMEOUT
          break
        events = poller.poll(remaining * 1000)
        if any(fd == pidfd for fd, _ in events):
          break
        for fd, _ in events:
          buf = stdout if fd == out_r else report
          if not self._read_into(fd, buf, poller):
            continue
          if len(stdout) > self.limits.max_output_bytes:
            killed_for = limits_lib.OUTPUT
    finally:
      os.close(pidfd)
    if killed_for is not None:
      _kill_group(pid)
    _, status, rusage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - start
    self._reap_leftovers(pid)
    self._drain(out_r, stdout)  # What is still in the pipes; all writers are dead now.
    self._drain(report_r, report)
    cpu_used = rusage.ru_utime + rusage.ru_stime
    return _result(self.limits, stdout, bytes(report), status, killed_for, cpu_used, elapsed)

  def _read_into(self, fd: int, buf: bytearray, poller: select.poll) -> bool:
    data = os.read(fd, _READ_CHUNK)
    if not data:
      poller.unregister(fd)
      return False
    buf += data
    return True

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
  line = report.split(b"\n", 1)[0]
  try:
    record = json.loads(line)
  except ValueError:
    return None
  fields = ("error_type", "error_message", "limit_hit")
  if not isinstance(record, dict) or set(record) != set(fields):
    return None
  if not all(record[k] is None or isinstance(record[k], str) for k in fields):
    return None
  return record


def _result(limits: limits_lib.Limits, stdout: bytes, report: bytes, status: int,
            killed_for: str | None, cpu_used: float, elapsed: float) -> dict[str, Any]:
  text = _truncate(bytes(stdout[:limits.max_output_bytes]).decode("utf-8", "replace"),
                   limits.output_keep_chars)
  result = {"ok": False, "stdout": text, "error_type": None, "error_message": None,
            "elapsed_s": elapsed, "limit_hit": killed_for}
  record = _parse_report(report) if killed_for is None else None
  if killed_for == limits_lib.TIMEOUT:
    result.update(error_type="Timeout",
                  error_message=f"program ran longer than {limits.timeout_s:g} s")
  elif killed_for == limits_lib.OUTPUT:
    result.update(error_type="OutputLimit",
                  error_message=f"program wrote more than {limits.max_output_bytes} bytes")
  elif record is not None:
    result.update(record, ok=record["error_type"] is None)
  elif os.WIFSIGNALED(status):
    sig = signal.Signals(os.WTERMSIG(status))
    over_cpu = sig == signal.SIGXCPU or (sig == signal.SIGKILL and
                                         cpu_used >= limits.cpu_seconds)
    result.update(error_type="Killed", error_message=f"program killed by {sig.name}",
                  limit_hit=limits_lib.CPU if over_cpu else None)
  else:
    result.update(error_type="Exit", error_message=(
        f"program exited with status {os.waitstatus_to_exitcode(status)} before finishing"))
  return result


def _preimport() -> None:
  for name in PREIMPORTED:
    importlib.import_module(name)
  exec(compile(_WARMUP, "<warmup>", "exec"), {"__name__": "__warmup__"})  # noqa: S102


def main() -> None:
  """Entry point of the worker process."""
  request_fd, reply_fd = os.dup(0), os.dup(1)
  devnull = os.open(os.devnull, os.O_RDWR)
  os.dup2(devnull, 0)
  os.dup2(devnull, 1)
  os.chdir("/")
  signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the pool, which shuts us down.
  limits = protocol.recv(request_fd)
  _preimport()
  worker = Worker(limits)
  gc.collect()
  gc.freeze()  # Children never touch the warm objects' GC headers: fewer copied pages.
  protocol.send(reply_fd, worker.describe())
  while True:
    try:
      program = protocol.recv(request_fd)
    except EOFError:
      return
    try:
      reply = worker.execute(program)
    except Exception as e:  # noqa: BLE001 — report and keep serving.
      reply = {"ok": False, "stdout": "", "error_type": "SandboxError",
               "error_message": f"{type(e).__name__}: {e}", "elapsed_s": 0.0, "limit_hit": None}
    protocol.send(reply_fd, reply)
