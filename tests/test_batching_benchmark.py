"""The batching suite (`launch/benchmarks/batching.py`) end to end in a child process, on a
small teacher set: both sides train, grouped batches pad less, and the speedup line comes last."""

import re

from child_env import run_suite
import pytest

SIDE = re.compile(r"^(shuffled|grouped\[4\]): (\d\.\d{3}) s/step, (\d+) padded tokens per row")
LAST_LINE = re.compile(r"length grouping speedup (\d+\.\d\d)x \(grouped\[4\] (\d\.\d{3}) s/step")


@pytest.mark.slow
def test_batching_suite_runs_both_sides_and_reports_the_speedup():
  lines = run_suite("batching", "--steps=16", "--teacher_problems=96", "--group=4")
  sides = {m[1]: (float(m[2]), int(m[3])) for m in map(SIDE.match, lines) if m}
  assert set(sides) == {"shuffled", "grouped[4]"}, lines
  assert sides["grouped[4]"][1] < sides["shuffled"][1]
  last = LAST_LINE.match(lines[-1])
  assert last, lines[-1]
  assert float(last[1]) == pytest.approx(sides["shuffled"][0] / sides["grouped[4]"][0], abs=0.02)
