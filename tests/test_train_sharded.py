"""Sharded training on 8 fake CPU devices follows the single-device loss curve.

Tolerance: relative 2e-4 on every step's loss (fp32; reductions are ordered differently across
shards, which moves the last bits and grows slightly over steps).
"""

import dataclasses

from flax import nnx
import jax
from jax.sharding import AxisType
import numpy as np
import pytest
from test_input_pipeline import sft_rows
from test_train_helpers import tiny_policy
from test_train_helpers import tiny_tokenizer
from test_train_helpers import write

from rstar_jax.runtime.mesh import MESH_AXES
from rstar_jax.runtime.mesh import single_device_mesh
from rstar_jax.training.config import SFTConfig
from rstar_jax.training.sft import train_sft

CFG = SFTConfig(
  lr=3e-3,
  epochs=2,
  batch_size=8,
  max_len=128,
  warmup_steps=1,
  export_hf=False,
  progress_bar=False,
  checkpoint_every=100,
  async_checkpointing=False,
)


def _run(tmp_path, name, mesh, cfg=CFG):
  tok = tiny_tokenizer()
  data = tmp_path / "data"
  if not data.exists():
    write(data, sft_rows(16), "sft")
  result = train_sft(
    cfg,
    data_dir=data,
    init=tiny_policy(len(tok), mesh),
    tokenizer=tok,
    out_dir=tmp_path / name,
    mesh=mesh,
  )
  state = nnx.state(result.model, nnx.Param)
  shardings = {path: v.sharding for path, v in jax.tree_util.tree_leaves_with_path(state)}
  params = {path: np.asarray(v) for path, v in jax.tree_util.tree_leaves_with_path(state)}
  return np.array([h["loss"] for h in result.history]), params, shardings


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
  return _run(tmp_path_factory.mktemp("single"), "out", single_device_mesh())


@pytest.mark.parametrize("shape", [(1, 4, 2), (2, 4, 1)], ids=["fsdp4xtensor2", "data2xfsdp4"])
def test_sharded_loss_curve_matches_single_device(tmp_path, baseline, shape):
  mesh = jax.make_mesh(shape, MESH_AXES, axis_types=(AxisType.Auto,) * 3)
  losses, params, shardings = _run(tmp_path, "out", mesh)
  assert len(losses) == 4
  assert any(len(s.device_set) > 1 and not s.is_fully_replicated for s in shardings.values())
  np.testing.assert_allclose(losses, baseline[0], rtol=2e-4)
  for key, value in params.items():
    np.testing.assert_allclose(value, baseline[1][key], rtol=1e-3, atol=1e-5, err_msg=str(key))


def test_grad_accumulation_matches_full_batch(tmp_path, baseline):
  losses, _, _ = _run(tmp_path, "out", single_device_mesh(), dataclasses.replace(CFG, grad_accum=4))
  np.testing.assert_allclose(losses, baseline[0], rtol=1e-5)
