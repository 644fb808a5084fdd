"""Runs `launch.self_evolve` on the smoke config in a child process, as a user would."""

import pathlib
import subprocess
import sys

from child_env import child_env

REPO = pathlib.Path(__file__).resolve().parents[1]


def self_evolve(run_dir: pathlib.Path, *flags: str, timeout: float = 120):
  """The finished child process (output captured as text); `flags` are extra absl flags."""
  return subprocess.run(
    [
      sys.executable,
      "-m",
      "launch.self_evolve",
      "--config=configs/world.py:smoke",
      f"--config.run_dir={run_dir}",
      *flags,
    ],
    cwd=REPO,
    env=child_env(),
    capture_output=True,
    text=True,
    timeout=timeout,
  )
