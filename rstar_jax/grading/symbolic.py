"""Time-bounded symbolic comparison through a long-lived, killable worker process.

Every grading call runs under one deadline (`deadline()`): however many symbolic comparisons a
call makes (the items of a tuple, the values of a `\\pm`), together they stop at the bound.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import threading
import time
import weakref

DEFAULT_TIMEOUT_S = 2.0  # one symbolic comparison
_KILL_GRACE_S = 1.0  # the worker stops itself at its timeout; past this extra grace it is killed
_STARTUP_TIMEOUT_S = 60.0
_MIN_TIMEOUT_S = 0.05
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_local = threading.local()


@contextlib.contextmanager
def deadline(seconds: float):
  """Bounds every symbolic comparison made by this thread inside the block to `seconds` in all."""
  outer = getattr(_local, "deadline", None)
  _local.deadline = time.monotonic() + seconds if outer is None else outer
  try:
    yield
  finally:
    _local.deadline = outer


def _remaining(timeout_s: float) -> float:
  end = getattr(_local, "deadline", None)
  return timeout_s if end is None else min(timeout_s, end - time.monotonic())


class SymbolicComparer:
  """Sends (pred, gold) pairs to `symbolic_worker`; a comparison past its deadline counts as not
  equivalent. The worker interrupts itself at the deadline; one stuck past it is killed, and a
  spare worker started in the background takes its place."""

  def __init__(self, timeout_s: float = DEFAULT_TIMEOUT_S):
    self.timeout_s = timeout_s
    self._lock = threading.Lock()
    self._proc: subprocess.Popen | None = None
    self._spare: subprocess.Popen | None = None
    me = weakref.ref(self)
    os.register_at_fork(after_in_child=lambda: (c := me()) is not None and c._forget_worker())

  def _forget_worker(self) -> None:
    """In a forked child: the parent's worker and lock state are not ours (a lock held by another
    parent thread at fork time would never be released here)."""
    self._lock = threading.Lock()
    self._proc = None
    self._spare = None

  @staticmethod
  def _spawn() -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    env["PYTHONPATH"] = os.pathsep.join(
      [_PACKAGE_ROOT, *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    return subprocess.Popen(
      [sys.executable, "-m", "rstar_jax.grading.symbolic_worker"],
      stdin=subprocess.PIPE,
      stdout=subprocess.PIPE,
      stderr=subprocess.DEVNULL,
      text=True,
      env=env,
      start_new_session=True,
    )

  def _ready(self) -> subprocess.Popen:
    """A worker that has said it is ready: the spare if there is one, else a new one."""
    proc, self._spare = self._spare or self._spawn(), None
    if self._readline(proc, _STARTUP_TIMEOUT_S) != '"ready"':
      proc.kill()
      proc.wait()
      raise RuntimeError("symbolic grading worker failed to start")
    return proc

  @staticmethod
  def _readline(proc: subprocess.Popen, timeout_s: float) -> str | None:
    ready, _, _ = select.select([proc.stdout], [], [], max(timeout_s, 0.0))
    if not ready:
      return None
    line = proc.stdout.readline()
    return line.strip() if line else None

  def _kill(self, respawn: bool = True) -> None:
    if self._proc is not None:
      self._proc.kill()
      self._proc.wait()
      self._proc = None
      if respawn and self._spare is None:
        self._spare = self._spawn()  # starts up while the caller goes on

  def equivalent(self, pred: str, gold: str, rel_tol: float | None = None) -> bool:
    with self._lock:
      timeout_s = _remaining(self.timeout_s)
      if timeout_s < _MIN_TIMEOUT_S:
        return False
      if self._proc is None or self._proc.poll() is not None:
        self._proc = self._ready()
      try:
        self._proc.stdin.write(json.dumps([pred, gold, rel_tol, timeout_s]) + "\n")
        self._proc.stdin.flush()
      except BrokenPipeError:
        self._kill()
        return False
      answer = self._readline(self._proc, timeout_s + _KILL_GRACE_S)
      if answer is None:
        self._kill()
        return False
      return answer == "true"

  def close(self) -> None:
    with self._lock:
      self._kill(respawn=False)
      if self._spare is not None:
        self._spare.kill()
        self._spare.wait()
        self._spare = None


_DEFAULT = SymbolicComparer()


def symbolic_equivalent(pred: str, gold: str, rel_tol: float | None = None) -> bool:
  return _DEFAULT.equivalent(pred, gold, rel_tol)
