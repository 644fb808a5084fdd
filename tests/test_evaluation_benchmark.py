"""The evaluation suite (`launch/benchmarks/evaluation.py`) end to end in a child process, on a
run directory holding a tiny random policy and six held-out problems: every batch size runs, the
greedy answers agree across them, and the speedup line comes last."""

import json
import re

from child_env import run_suite
import pytest
from test_train_helpers import tiny_policy
from test_train_helpers import tiny_tokenizer

from rstar_jax import hf
from rstar_jax.evolution.layout import RunLayout
from rstar_jax.runtime import mesh as mesh_lib

SIDE = re.compile(r"^batch +(\d+): +(\d+\.\d) s, (\d+\.\d)% right$")
LAST_LINE = re.compile(
  r"^summary: greedy wall .*batch 2 (\d+\.\d) s, batch 6 (\d+\.\d) s; .*: (\S+)x$"
)


@pytest.mark.slow
def test_evaluation_suite_times_each_batch_size_on_a_run(tmp_path):
  layout = RunLayout(tmp_path / "run")
  tok = tiny_tokenizer()
  hf.save_model(
    tiny_policy(len(tok), mesh_lib.single_device_mesh()), layout.hf_dir(1, "sft"), tokenizer=tok
  )
  heldout = tmp_path / "heldout.jsonl"
  heldout.write_text(
    "".join(
      json.dumps({"id": f"h{i}", "question": f"What is {i} + {i}?", "answer": str(2 * i)}) + "\n"
      for i in range(6)
    ),
    encoding="utf-8",
  )
  layout.prepare_dir.mkdir(parents=True)
  (layout.prepare_dir / "paths.json").write_text(json.dumps({"heldout": str(heldout)}))
  lines = run_suite(
    "evaluation", f"--run_dir={layout.root}", "--round=1", "--batch_sizes=2,6", "--repeats=1"
  )
  sides = {int(m[1]): float(m[2]) for m in map(SIDE.match, lines) if m}
  assert set(sides) == {2, 6}, lines
  assert "batch 6: answers equal to batch 2's on 6/6" in lines, lines
  last = LAST_LINE.match(lines[-1])
  assert last, lines[-1]
  assert float(last[3]) == pytest.approx(sides[2] / sides[6], rel=0.05)
