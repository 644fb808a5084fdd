"""`SandboxPool`: warm workers executing model-written programs in parallel, order preserved.

Workers are fresh interpreters (`subprocess`, i.e. fork+exec), never forks of the caller, so a
pool can be created from a process that has JAX (and its threads) loaded. The pool is driven by
whichever thread calls `run_many` (no signals, no helper threads), so it works off the main
thread; concurrent calls are serialised.
"""

import collections
from collections.abc import Sequence
import dataclasses
import os
import pathlib
import select
import subprocess
import sys
import threading
import time
from typing import Any
import weakref

import psutil

from rstar_jax.sandbox import limits as limits_lib
from rstar_jax.sandbox import protocol

_PACKAGE_ROOT = str(pathlib.Path(__file__).resolve().parents[2])
_BOOT = (
  "import sys; sys.path.insert(0, sys.argv[1]); from rstar_jax.sandbox import worker; worker.main()"
)
# The whole environment a worker (and so every program) sees.
_WORKER_ENV = {
  "PATH": "/usr/local/bin:/usr/bin:/bin",
  "LANG": "C.UTF-8",
  "LC_ALL": "C.UTF-8",
  "HOME": "/nonexistent",
  "OPENBLAS_NUM_THREADS": "1",
  "OMP_NUM_THREADS": "1",
  "MKL_NUM_THREADS": "1",
}
_STARTUP_TIMEOUT_S = 120.0
# A worker that has not answered this long after a program's own deadline is replaced.
_REPLY_GRACE_S = 10.0


@dataclasses.dataclass
class _WorkerHandle:
  proc: subprocess.Popen
  info: dict[str, Any]

  @property
  def reply_fd(self) -> int:
    return self.proc.stdout.fileno()

  def send(self, obj: Any) -> None:
    protocol.send(self.proc.stdin.fileno(), obj)

  def recv(self) -> Any:
    return protocol.recv(self.reply_fd)


def _spawn(limits: limits_lib.Limits, prefault: bool) -> subprocess.Popen:
  proc = subprocess.Popen(
    [sys.executable, "-I", "-c", _BOOT, _PACKAGE_ROOT],
    stdin=subprocess.PIPE,
    stdout=subprocess.PIPE,
    env=_WORKER_ENV,
    cwd="/",
    start_new_session=True,
    close_fds=True,
  )
  protocol.send(proc.stdin.fileno(), (limits, prefault))
  return proc


def _handshake(proc: subprocess.Popen) -> _WorkerHandle:
  ready, _, _ = select.select([proc.stdout], [], [], _STARTUP_TIMEOUT_S)
  if not ready:
    _destroy(proc, None)
    raise RuntimeError(f"sandbox worker {proc.pid} did not start in {_STARTUP_TIMEOUT_S:g} s")
  try:
    info = protocol.recv(proc.stdout.fileno())
  except EOFError:
    _destroy(proc, None)
    raise RuntimeError(
      f"sandbox worker {proc.pid} exited during start-up "
      f"(status {proc.wait()}); see its stderr above"
    ) from None
  return _WorkerHandle(proc, info)


def _destroy(proc: subprocess.Popen, uid: int | None) -> None:
  """Kills a worker and every process below it, without forking this process."""
  try:
    victims = psutil.Process(proc.pid).children(recursive=True)
  except psutil.NoSuchProcess:
    victims = []
  if uid is not None:  # Programs that escaped the tree still carry the worker's program uid.
    victims += [
      p for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"].real == uid
    ]
  proc.kill()
  for p in victims:
    try:
      p.kill()
    except psutil.Error:
      pass
  for stream in (proc.stdin, proc.stdout):
    stream.close()
  proc.wait()


def _shutdown(workers: list[_WorkerHandle]) -> None:
  for w in workers:  # EOF on its request pipe ends a worker's loop.
    try:
      w.proc.stdin.close()
    except OSError:
      pass
  for w in workers:
    try:
      w.proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
      pass
    _destroy(w.proc, w.info.get("uid"))
  workers.clear()


def _failure(
  message: str, limit_hit: str | None = None, elapsed_s: float = 0.0
) -> limits_lib.ExecResult:
  return limits_lib.ExecResult(
    ok=False,
    stdout="",
    error_type="SandboxError",
    error_message=message,
    elapsed_s=elapsed_s,
    limit_hit=limit_hit,
  )


class SandboxPool:
  """Warm worker processes running programs under `limits`.

  Use as a context manager (or call `close()`): closing leaves no process behind. With
  `prefault`, each waiting child copies the warm pages programs usually write before its
  program arrives (see `prefault`), which takes that cost out of the program's latency; the
  price is that much private memory per worker (`prefault_bytes`, ~13 MiB with sympy).
  """

  def __init__(
    self,
    num_workers: int | None = None,
    limits: limits_lib.Limits = limits_lib.Limits(),
    prefault: bool = True,
  ):
    if num_workers is not None and num_workers < 1:
      raise ValueError(f"num_workers must be >= 1, got {num_workers}")
    self.limits = limits
    self.prefault = prefault
    self.num_workers = num_workers or os.cpu_count() or 1
    self._lock = threading.Lock()
    self._workers: list[_WorkerHandle] = []
    # Free slots, longest idle first: a worker that just replied is still reaping its last
    # program's child and forking the next one, so the one idle longest answers soonest.
    self._idle_slots: collections.deque[int] = collections.deque()
    self._finalizer = weakref.finalize(self, _shutdown, self._workers)
    procs: list[subprocess.Popen] = []
    try:  # All start at once; each handshake waits for its worker's imports.
      procs.extend(_spawn(limits, prefault) for _ in range(self.num_workers))
      for proc in procs:
        self._workers.append(_handshake(proc))
      self._idle_slots.extend(range(self.num_workers))
    except BaseException:
      for proc in procs[len(self._workers) :]:
        _destroy(proc, None)
      self.close()
      raise

  @property
  def isolation(self) -> dict[str, Any]:
    """What the OS granted worker 0: network, scratch, view, program uid, capabilities kept.

    The file system view is None where mounts were refused, else says whether it has a /proc.
    """
    keys = ("network", "private_scratch", "view", "uid", "capabilities")
    return {k: self._workers[0].info[k] for k in keys}

  @property
  def prefault_bytes(self) -> int:
    """How much of the warm image each waiting child copies ahead (0: pre-faulting is off)."""
    return self._workers[0].info["prefault_bytes"]

  def worker_pids(self) -> list[int]:
    return [w.proc.pid for w in self._workers]

  def run(self, program: str) -> limits_lib.ExecResult:
    return self.run_many([program])[0]

  def run_many(self, programs: Sequence[str]) -> list[limits_lib.ExecResult]:
    """Runs every program once, in parallel across the workers; results in input order."""
    for i, program in enumerate(programs):
      if not isinstance(program, str):
        raise TypeError(f"program {i} is {type(program).__name__}, expected str")
    with self._lock:
      if not self._finalizer.alive:
        raise RuntimeError("SandboxPool is closed")
      return self._run_locked(programs)

  def _run_locked(self, programs: Sequence[str]) -> list[limits_lib.ExecResult]:
    results: list[limits_lib.ExecResult | None] = [None] * len(programs)
    pending = collections.deque(enumerate(programs))
    retried: set[int] = set()
    busy: dict[int, tuple[int, int, float]] = {}  # worker slot -> (program index, sent, deadline)
    patience = self.limits.timeout_s + _REPLY_GRACE_S
    try:
      while pending or busy:
        for _ in range(min(len(pending), len(self._idle_slots))):
          slot = self._idle_slots.popleft()
          index, program = pending.popleft()
          if self._send(slot, program):
            busy[slot] = (index, time.monotonic(), time.monotonic() + patience)
          else:  # The worker is gone (killed from outside); a fresh one takes it next round.
            pending.appendleft((index, program))
            self._idle_slots.append(slot)
            self._replace(slot)
        fds = {self._workers[slot].reply_fd: slot for slot in busy}
        wait = max(0.0, min(deadline for _, _, deadline in busy.values()) - time.monotonic())
        ready, _, _ = select.select(list(fds), [], [], wait)
        for fd in ready:
          slot = fds[fd]
          index, sent, _ = busy.pop(slot)
          self._idle_slots.append(slot)
          try:
            results[index] = limits_lib.ExecResult(**self._workers[slot].recv())
          except (EOFError, OSError):
            self._replace(slot)
            if index in retried:
              results[index] = _failure(
                "sandbox worker died twice while running the program",
                elapsed_s=time.monotonic() - sent,
              )
            else:  # Killed from outside, most likely: one more try on a fresh worker.
              retried.add(index)
              pending.appendleft((index, programs[index]))
        now = time.monotonic()
        for slot, (index, sent, deadline) in list(busy.items()):
          if now >= deadline:
            del busy[slot]
            self._idle_slots.append(slot)
            results[index] = _failure(
              "sandbox worker stopped answering; replaced", limits_lib.TIMEOUT, now - sent
            )
            self._replace(slot)
    finally:  # Interrupted mid-batch: a late reply would answer the next call's program.
      self._idle_slots.extend(busy)
      for slot in busy:
        self._replace(slot)
    return results

  def _send(self, slot: int, program: str) -> bool:
    try:
      self._workers[slot].send(program)
      return True
    except OSError:
      return False

  def _replace(self, slot: int) -> None:
    old = self._workers[slot]
    _destroy(old.proc, old.info.get("uid"))
    self._workers[slot] = _handshake(_spawn(self.limits, self.prefault))

  def close(self) -> None:
    """Stops every worker and its programs; idempotent."""
    with self._lock:
      self._finalizer()

  def __enter__(self) -> "SandboxPool":
    return self

  def __exit__(self, *exc_info) -> None:
    self.close()
