"""The PPM memory suite (`launch/benchmarks/ppm_memory.py`) end to end, each setting in its own
child process: every setting trains the same model to the same loss, and the ratios come last."""

import re

from child_env import run_suite
import pytest

SETTING = re.compile(
  r"^(.+): (\d+\.\d{3}) s/step, peak RSS (\d+\.\d\d) GiB .*XLA temporaries (\d+\.\d\d) GiB, "
  r"loss (\d+\.\d+)$"
)


@pytest.mark.slow
def test_ppm_memory_suite_measures_every_setting_on_the_same_training():
  lines = run_suite("ppm_memory", "--seq=192", "--steps=1", "--query_block=128")
  found = {m[1]: m for m in map(SETTING.match, lines) if m}
  assert set(found) == {
    "whole attention",
    "query blocks",
    "whole attention, grad_accum=2",
    "query blocks, grad_accum=2",
  }, lines
  losses = [float(m[5]) for m in found.values()]
  assert max(losses) - min(losses) < 1e-5, losses  # The same model and step, whatever the layout.
  # 192 tokens in blocks of at most 128 are two of 96: the blocked step holds less than the
  # whole-sequence one.
  assert float(found["query blocks"][4]) < float(found["whole attention"][4])
  assert any("query blocks of 128," in line for line in lines), lines
  assert lines[-1].endswith(re.search(r"\(against whole attention: .*\)$", lines[-1])[0])
  assert "query blocks: peak" in lines[-1]
