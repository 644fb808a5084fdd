"""SFT overfits a small dataset; the run writes metrics, checkpoints and an HF export."""

import json

import numpy as np
from test_input_pipeline import sft_rows
from test_train_helpers import tiny_policy
from test_train_helpers import tiny_tokenizer
from test_train_helpers import write

from rstar_jax import hf
from rstar_jax.runtime.mesh import single_device_mesh
from rstar_jax.training.config import SFTConfig
from rstar_jax.training.sft import train_sft


def test_sft_overfits_small_dataset_and_exports(tmp_path):
  tok = tiny_tokenizer()
  data = write(tmp_path / "data", sft_rows(8), "sft")
  cfg = SFTConfig(
    lr=1e-2,
    epochs=60,
    batch_size=8,
    max_len=128,
    warmup_steps=5,
    schedule="cosine",
    weight_decay=0.0,
    progress_bar=False,
    checkpoint_every=30,
    keep_checkpoints=2,
  )
  mesh = single_device_mesh()
  result = train_sft(
    cfg,
    data_dir=data,
    init=tiny_policy(len(tok), mesh, hidden=64),
    tokenizer=tok,
    out_dir=tmp_path / "out",
    mesh=mesh,
  )
  losses = [h["loss"] for h in result.history]
  assert result.step == 60 and losses[0] > 3.0
  assert losses[-1] < 0.05, losses[-10:]
  lines = [
    json.loads(line) for line in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()
  ]
  assert {"loss", "lr", "grad_norm", "tokens_per_s"} <= set(lines[0])
  assert len(lines) == 60 and any((tmp_path / "out" / "tensorboard").iterdir())
  assert sorted(p.name for p in result.checkpoint_dir.iterdir() if p.name.isdigit()) == ["30", "60"]
  exported = hf.load_model(str(result.hf_dir))
  probe = np.asarray(tok.encode(sft_rows(1)[0]["prompt"]))[None]
  np.testing.assert_allclose(
    np.asarray(exported(probe)), np.asarray(result.model(probe)), rtol=1e-4, atol=1e-4
  )
