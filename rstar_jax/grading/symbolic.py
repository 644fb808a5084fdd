"""Time-bounded symbolic comparison through a long-lived, killable worker process."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import weakref

DEFAULT_TIMEOUT_S = 2.0
_KILL_GRACE_S = 1.0  # the worker stops itself at timeout_s; past this extra grace it is killed
_STARTUP_TIMEOUT_S = 60.0
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class SymbolicComparer:
  """Sends (pred, gold) pairs to `symbolic_worker`; a comparison past its deadline counts as not
  equivalent. The worker interrupts itself at the deadline; one stuck past it is killed (a fresh
  one starts on the next call)."""

  def __init__(self, timeout_s: float = DEFAULT_TIMEOUT_S):
    self.timeout_s = timeout_s
    self._lock = threading.Lock()
    self._proc: subprocess.Popen | None = None
    me = weakref.ref(self)
    os.register_at_fork(after_in_child=lambda: (c := me()) is not None and c._forget_worker())

  def _forget_worker(self) -> None:
    """In a forked child: the parent's worker and lock state are not ours (a lock held by another
    parent thread at fork time would never be released here)."""
    self._lock = threading.Lock()
    self._proc = None

  def _start(self) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    env["PYTHONPATH"] = os.pathsep.join(
      [_PACKAGE_ROOT, *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    command = [sys.executable, "-m", "rstar_jax.grading.symbolic_worker", str(self.timeout_s)]
    proc = subprocess.Popen(
      command,
      stdin=subprocess.PIPE,
      stdout=subprocess.PIPE,
      stderr=subprocess.DEVNULL,
      text=True,
      env=env,
      start_new_session=True,
    )
    if self._readline(proc, _STARTUP_TIMEOUT_S) != '"ready"':
      proc.kill()
      raise RuntimeError("symbolic grading worker failed to start")
    return proc

  @staticmethod
  def _readline(proc: subprocess.Popen, timeout_s: float) -> str | None:
    ready, _, _ = select.select([proc.stdout], [], [], timeout_s)
    if not ready:
      return None
    line = proc.stdout.readline()
    return line.strip() if line else None

  def _kill(self) -> None:
    if self._proc is not None:
      self._proc.kill()
      self._proc.wait()
      self._proc = None

  def equivalent(self, pred: str, gold: str) -> bool:
    with self._lock:
      if self._proc is None or self._proc.poll() is not None:
        self._proc = self._start()
      try:
        self._proc.stdin.write(json.dumps([pred, gold]) + "\n")
        self._proc.stdin.flush()
      except BrokenPipeError:
        self._kill()
        return False
      answer = self._readline(self._proc, self.timeout_s + _KILL_GRACE_S)
      if answer is None:
        self._kill()
        return False
      return answer == "true"

  def close(self) -> None:
    with self._lock:
      self._kill()


_DEFAULT = SymbolicComparer()


def symbolic_equivalent(pred: str, gold: str) -> bool:
  return _DEFAULT.equivalent(pred, gold)
