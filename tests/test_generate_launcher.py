"""`launch.generate`: a PPM-guided search of a problem file with tiny random models, resumable,
with the datasets extracted."""

import json
import subprocess
import sys

from child_env import REPO
from child_env import child_env
from test_train_helpers import tiny_policy
from test_train_helpers import tiny_tokenizer

from rstar_jax import hf
from rstar_jax import models
from rstar_jax.runtime import mesh as mesh_lib
from rstar_jax.search import run as search_run


def test_ppm_search_writes_trees_and_datasets_and_resumes(tmp_path):
  tok = tiny_tokenizer()
  policy = tiny_policy(len(tok), mesh_lib.single_device_mesh())
  hf.save_model(policy, tmp_path / "policy", tokenizer=tok)
  hf.save_model(models.ValueModel.from_policy(policy), tmp_path / "ppm")  # No tokenizer of its own.
  problems = tmp_path / "problems.jsonl"
  problems.write_text(
    "".join(
      json.dumps({"id": f"g{i}", "question": f"Add {i} and 2.", "answer": str(i + 2)}) + "\n"
      for i in range(2)
    ),
    encoding="utf-8",
  )
  cmd = [
    sys.executable,
    "-m",
    "launch.generate",
    f"--policy={tmp_path / 'policy'}",
    f"--ppm={tmp_path / 'ppm'}",
    "--mode=ppm",
    f"--problems={problems}",
    "--rollouts=2",
    f"--out={tmp_path / 'out'}",
    "--extract",
    "--config.progress=False",
    "--config.sandbox_workers=2",
    "--config.search.num_candidates=2",
    "--config.search.max_depth=2",
    "--config.search.step_max_tokens=8",
  ]
  for attempt in range(2):  # The second run finds every problem searched.
    done = subprocess.run(
      cmd, cwd=REPO, env=child_env(), capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-5000:]
    searched = 0 if attempt else 2
    assert f"searched {searched}, skipped {2 - searched}" in done.stdout, done.stdout
  assert search_run.finished_ids(tmp_path / "out") == {"g0", "g1"}
  for data in ("sft", "ppm"):
    assert (tmp_path / "out" / "data" / data).is_dir()
