"""One run per run directory: a second holder is refused at once, a dead holder's lock is not."""

import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest
import smoke_launcher

from rstar_jax.runtime import lock

REPO = pathlib.Path(__file__).resolve().parents[1]


def test_second_holder_is_refused_and_the_lock_is_released(tmp_path):
  busy = pytest.raises(lock.RunDirBusyError, match=f"pid {os.getpid()}")
  with lock.hold(tmp_path / "run"), busy, lock.hold(tmp_path / "run"):
    pass
  with lock.hold(tmp_path / "run"):  # Released on exit.
    pass


def _holding_child(run_dir: pathlib.Path) -> subprocess.Popen:
  code = (
    "import sys, time\nfrom rstar_jax.runtime import lock\n"
    f"with lock.hold({str(run_dir)!r}):\n  print('held', flush=True)\n  time.sleep(60)\n"
  )
  child = subprocess.Popen(
    [sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, text=True
  )
  assert child.stdout.readline().strip() == "held"
  return child


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
  child = _holding_child(tmp_path / "run")
  try:
    busy = pytest.raises(lock.RunDirBusyError, match=f"pid {child.pid}")
    with busy, lock.hold(tmp_path / "run"):
      pass
  finally:
    child.send_signal(signal.SIGKILL)
    child.wait()
  with lock.hold(tmp_path / "run"):
    pass


def test_launcher_refuses_a_busy_run_dir(tmp_path):
  run_dir = tmp_path / "run"
  child = _holding_child(run_dir)
  try:
    start = time.monotonic()
    proc = smoke_launcher.self_evolve(run_dir)
  finally:
    child.send_signal(signal.SIGKILL)
    child.wait()
  assert proc.returncode != 0
  assert f"in use by another run (pid {child.pid}" in proc.stderr
  assert "Traceback" not in proc.stderr
  assert time.monotonic() - start < 60
  assert not (run_dir / "prepare").exists()
