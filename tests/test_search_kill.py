"""A search run killed with SIGKILL at an arbitrary moment resumes with no loss or duplicate."""

import os
import pathlib
import signal
import subprocess
import sys
import time

from launch.benchmarks.search import arithmetic_step
from rstar_jax.data.problems import Problem
from rstar_jax.sandbox import SandboxPool
from rstar_jax.search import run
from rstar_jax.search import scripted
from rstar_jax.search.config import SearchConfig

ROOT = pathlib.Path(__file__).resolve().parents[1]
PROBLEMS = [
  Problem(f"k{i}", f"Problem {i}: compute the running total.", str(i % 5 + 1)) for i in range(12)
]
CFG = SearchConfig(rollouts=3, num_candidates=3, max_depth=6, batch_size=2)

_CHILD = """
import sys, time
sys.path.insert(0, {root!r}); sys.path.insert(0, {tests!r})
from rstar_jax.sandbox import SandboxPool
from rstar_jax.search import run, scripted
import test_search_kill as t
def slow_step(*args):
  time.sleep(0.01)
  return t.arithmetic_step(*args)
with SandboxPool(num_workers=1) as pool:
  run.run_search(t.PROBLEMS, scripted.GeneratedPolicy(slow_step), None, pool, t.CFG, {out!r},
                 progress=False)
"""


def test_sigkill_mid_run_then_resume(tmp_path):
  out = str(tmp_path / "run")
  code = _CHILD.format(root=str(ROOT), tests=str(ROOT / "tests"), out=out)
  child = subprocess.Popen(
    [sys.executable, "-c", code],
    cwd=ROOT,
    start_new_session=True,
    stdout=subprocess.PIPE,
    stderr=subprocess.STDOUT,
  )
  shard_dir = pathlib.Path(out) / run.TREE_DIR
  deadline = time.monotonic() + 120
  while time.monotonic() < deadline and child.poll() is None:
    if len(list(shard_dir.glob("trees-*.array_record"))) >= 2:
      break
    time.sleep(0.05)
  assert child.poll() is None, child.stdout.read().decode()[-2000:]
  os.killpg(child.pid, signal.SIGKILL)  # the run and its sandbox workers, mid-batch
  child.wait()
  done = run.finished_ids(out)
  assert 4 <= len(done) < len(PROBLEMS)
  with SandboxPool(num_workers=1) as pool:
    summary = run.run_search(
      PROBLEMS, scripted.GeneratedPolicy(arithmetic_step), None, pool, CFG, out, progress=False
    )
  assert summary.skipped == len(done) and summary.searched == len(PROBLEMS) - len(done)
  ids = [r["problem_id"] for r in run.tree_store(out).read_all()]
  assert sorted(ids) == sorted(p.id for p in PROBLEMS)  # each exactly once
