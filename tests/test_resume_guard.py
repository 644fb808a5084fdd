"""A resume under another batch size, epoch count or dataset is refused before any step runs.

The saved step and data position only mean something under the schedule they were written with;
an unchanged resume (or one that only moves `max_steps`) continues the run.
"""

import dataclasses
import json
import shutil

import pytest
from test_input_pipeline import sft_rows
from test_train_helpers import train_tiny_sft
from test_train_helpers import write

from rstar_jax import training
from rstar_jax.training import checkpoint
from rstar_jax.training.config import SFTConfig

CFG = SFTConfig(
  epochs=2,
  batch_size=4,
  max_len=128,
  max_steps=1,
  export_hf=False,
  progress_bar=False,
  checkpoint_every=1,
  async_checkpointing=False,
)


def _train(data, out, cfg=CFG, callbacks=()):
  return train_tiny_sft(data, out, cfg, callbacks=callbacks)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
  return write(tmp_path_factory.mktemp("data"), sft_rows(8), "sft")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, data):
  """A run stopped after its first step's checkpoint; the tests below must not change it."""
  out = tmp_path_factory.mktemp("run")
  _train(data, out)
  return out


@pytest.mark.parametrize(
  "change, message",
  [
    ({"batch_size": 2}, "batch_size: 4 then, 2 now"),
    ({"epochs": 3}, "epochs: 2 then, 3 now"),
    ({"lr": 1e-3}, "lr: 7e-06 then, 0.001 now"),
    ({"group_by_length": 2}, "group_by_length: None then, 2 now"),  # Another order of rows.
  ],
)
def test_changed_schedule_is_refused(run_dir, data, change, message):
  steps = []
  cfg = dataclasses.replace(CFG, max_steps=2, **change)
  with pytest.raises(training.ResumeMismatchError) as err:
    _train(data, run_dir, cfg, callbacks=[lambda step, m: steps.append(step)])
  text = str(err.value)
  assert f"checkpoints in {run_dir / 'checkpoints'} (step 1)" in text
  assert message in text and "train into a new output directory" in text
  assert not steps


def test_changed_dataset_is_refused(run_dir, tmp_path):
  rows = sft_rows(8)
  rows[3]["response"] += "\n"  # Same record count and shard names, other content.
  other = write(tmp_path / "other", rows, "sft")
  with pytest.raises(training.ResumeMismatchError, match=r"dataset: '8 records, sha256"):
    _train(other, run_dir, dataclasses.replace(CFG, max_steps=2))
  with pytest.raises(training.ResumeMismatchError, match=r"examples: 8 then, 12 now"):
    _train(write(tmp_path / "more", sft_rows(12), "sft"), run_dir)


def test_unchanged_schedule_resumes(run_dir, tmp_path):
  out = shutil.copytree(run_dir, tmp_path / "run")
  saved = json.loads((out / "checkpoints" / checkpoint.SCHEDULE_FILE).read_text())
  assert saved["batch_size"] == 4 and saved["total_steps"] == 4
  assert "group_by_length" not in saved  # Plain runs keep the fingerprint of older versions.
  moved = write(tmp_path / "moved", sft_rows(8), "sft")  # Known by its content, not its path.
  # max_steps and grad_accum cut or split the same sequence of global batches.
  resumed = _train(moved, out, dataclasses.replace(CFG, max_steps=2, grad_accum=2))
  assert resumed.step == 2 and [h["step"] for h in resumed.history] == [1, 2]
