"""The environment of a process a test starts: the session's, on one CPU device by default.

The session's other XLA and JAX settings (conftest.py: fast compilation, the shared compile
cache) carry over, so a launched child compiles as cheaply as the test process itself.
"""

import os
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
_DEVICE_COUNT_FLAG = "--xla_force_host_platform_device_count"


def child_env(*, devices: int = 1, tests_on_path: bool = False) -> dict[str, str]:
  """os.environ with the repository (and `tests/`) importable ahead of the caller's PYTHONPATH,
  and `devices` CPU devices (1: a user's machine, no fake-device flag)."""
  flags = [
    f for f in os.environ.get("XLA_FLAGS", "").split() if not f.startswith(_DEVICE_COUNT_FLAG)
  ]
  if devices > 1:
    flags.append(f"{_DEVICE_COUNT_FLAG}={devices}")
  paths = [str(REPO), *([str(REPO / "tests")] if tests_on_path else [])]
  paths += [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
  return {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "XLA_FLAGS": " ".join(flags)}


def run_suite(suite: str, *flags: str, timeout: int = 900) -> list[str]:
  """`python -m launch.benchmark --suite=SUITE FLAGS…` in a child on one CPU device (a user's
  machine); its stdout lines, or a failure that shows the end of its stderr."""
  done = subprocess.run(
    [sys.executable, "-m", "launch.benchmark", f"--suite={suite}", *flags],
    cwd=REPO,
    env=child_env(),
    capture_output=True,
    text=True,
    timeout=timeout,
  )
  assert done.returncode == 0, done.stderr[-3000:]
  return done.stdout.strip().splitlines()
