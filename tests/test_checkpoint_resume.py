"""Exact resume after a real SIGKILL, model-mismatch errors and the NaN/Inf guard.

Run as a script, this module is the child process that trains and kills itself mid-run.
"""

import dataclasses
import os
import pathlib
import signal
import subprocess
import sys

from flax import nnx
import grain
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_input_pipeline import sft_rows
from test_train_helpers import tiny_tokenizer
from test_train_helpers import train_tiny_sft
from test_train_helpers import write

from rstar_jax.training import loop
from rstar_jax.training import sft
from rstar_jax.training.config import SFTConfig

CFG = SFTConfig(
  lr=3e-3,
  epochs=3,
  batch_size=4,
  max_len=128,
  warmup_steps=2,
  export_hf=False,
  progress_bar=False,
  checkpoint_every=3,
  keep_checkpoints=2,
  async_checkpointing=False,
)  # 6 steps over 8 examples.


def _train(
  data: pathlib.Path, out: pathlib.Path, cfg: SFTConfig = CFG, hidden: int = 32, callbacks=()
) -> loop.TrainResult:
  return train_tiny_sft(data, out, cfg, hidden=hidden, callbacks=callbacks)


def _params(result: loop.TrainResult) -> list[np.ndarray]:
  return [np.asarray(x) for x in jax.tree.leaves(nnx.state(result.model, nnx.Param))]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
  return write(tmp_path_factory.mktemp("data"), sft_rows(8), "sft")


@pytest.mark.slow  # The smoke end-to-end test kills and resumes SFT in the default run.
def test_resume_after_sigkill_is_exact(tmp_path, data):
  straight = _train(data, tmp_path / "straight")
  assert straight.step == 6
  out = tmp_path / "killed"
  child = subprocess.run(
    [sys.executable, __file__, str(data), str(out), "4"],
    cwd=pathlib.Path(__file__).parent,
    capture_output=True,
    text=True,
    timeout=300,
    check=False,
  )
  assert child.returncode == -signal.SIGKILL, child.stderr[-3000:]
  assert sorted(p.name for p in (out / "checkpoints").iterdir() if p.name.isdigit()) == ["3"]
  resumed = _train(data, out)
  np.testing.assert_allclose(
    [h["loss"] for h in resumed.history], [h["loss"] for h in straight.history], rtol=1e-6
  )
  for a, b in zip(_params(resumed), _params(straight)):
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
  again = _train(data, out)  # A finished run restores its final state without training.
  assert [h["step"] for h in again.history] == list(range(1, 7))
  for a, b in zip(_params(again), _params(straight)):
    np.testing.assert_array_equal(a, b)


def test_checkpoint_of_another_model_is_a_clear_error(tmp_path, data):
  _train(data, tmp_path, dataclasses.replace(CFG, max_steps=1, checkpoint_every=1))
  with pytest.raises(ValueError, match=r"different model config.*shape/dtype differ"):
    _train(data, tmp_path, hidden=48)


def test_nan_guard_stops_and_keeps_last_good_checkpoint(tmp_path, data, monkeypatch):
  good_loss = sft.losses.sft_loss
  tok = tiny_tokenizer()
  rows = sft_rows(8)
  first_batch = list(grain.MapDataset.range(8).shuffle(seed=CFG.seed))[: CFG.batch_size]
  late = next(i for i in range(8) if i not in first_batch)
  others = {
    t for i, r in enumerate(rows) if i != late for t in tok.encode(r["prompt"] + r["response"])
  }
  poison = next(t for t in tok.encode(rows[late]["prompt"]) if t not in others)  # NaN in its batch.

  def poisoned(model, batch, denom, *, chunk):
    loss, aux = good_loss(model, batch, denom, chunk=chunk)
    return loss + jnp.where(jnp.any(batch["tokens"] == poison), jnp.nan, 0.0), aux

  monkeypatch.setattr(sft.losses, "sft_loss", poisoned)
  steps = []
  cfg = dataclasses.replace(CFG, checkpoint_every=1)
  with pytest.raises(loop.NonFiniteLossError, match="non-finite loss") as err:
    _train(data, tmp_path, cfg, callbacks=[lambda step, m: steps.append(step)])
  bad = len(steps) + 1
  assert f"at step {bad}" in str(err.value) and bad > 1
  saved = [int(p.name) for p in (tmp_path / "checkpoints").iterdir() if p.name.isdigit()]
  assert max(saved) == bad - 1
  monkeypatch.setattr(sft.losses, "sft_loss", good_loss)
  resumed = _train(data, tmp_path, dataclasses.replace(cfg, max_steps=bad))
  assert resumed.step == bad and np.isfinite(resumed.history[-1]["loss"])


if __name__ == "__main__":
  data_dir, out_dir, kill_at = (
    pathlib.Path(sys.argv[1]),
    pathlib.Path(sys.argv[2]),
    int(sys.argv[3]),
  )

  def kill(step, metrics):
    del metrics
    if step == kill_at:
      os.kill(os.getpid(), signal.SIGKILL)

  _train(data_dir, out_dir, callbacks=[kill])
