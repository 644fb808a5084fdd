"""The PPM trainer's head dropout: on in training steps only, drawn from the seed and the pair's
place in the run, so a resumed run, another mesh or another `grad_accum` takes the same steps."""

import dataclasses

from flax import nnx
import jax
from jax.sharding import AxisType
import numpy as np
import pytest
from test_ppm_train import pair_rows
from test_train_helpers import tiny_policy
from test_train_helpers import tiny_tokenizer
from test_train_helpers import write

from rstar_jax.runtime.mesh import MESH_AXES
from rstar_jax.runtime.mesh import single_device_mesh
from rstar_jax.training.config import PPMConfig
from rstar_jax.training.ppm import train_ppm

CFG = PPMConfig(
  lr=3e-3,
  epochs=2,
  batch_size=8,
  max_len=128,
  warmup_steps=1,
  eval_fraction=0.25,
  export_hf=False,
  progress_bar=False,
  checkpoint_every=2,
  async_checkpointing=False,
  head_dropout=0.5,
)  # 6 steps over 24 training pairs.


@pytest.fixture(scope="module")
def data(tmp_path_factory):
  return write(tmp_path_factory.mktemp("data"), pair_rows(16), "ppm_pairs")


def _train(data, out, cfg=CFG, mesh=None):
  tok = tiny_tokenizer()
  mesh = mesh or single_device_mesh()
  return train_ppm(
    cfg, data_dir=data, init=tiny_policy(len(tok), mesh), tokenizer=tok, out_dir=out, mesh=mesh
  )


def _losses(result):
  return np.array([h["loss"] for h in result.history])


def _params(result):
  return [np.asarray(x) for x in jax.tree.leaves(nnx.state(result.model, nnx.Param))]


@pytest.fixture(scope="module")
def straight(data, tmp_path_factory):
  return _train(data, tmp_path_factory.mktemp("straight"))


def test_dropout_changes_training_but_not_scoring(data, tmp_path, straight):
  plain = _train(data, tmp_path, dataclasses.replace(CFG, head_dropout=0.0))
  assert len(_losses(straight)) == 6
  assert not np.allclose(_losses(straight)[1:], _losses(plain)[1:])
  assert straight.model.head_dropout.rate == 0.5
  tokens = np.asarray(tiny_tokenizer()(["<code>\nx = 1 + 2\n<end_of_step>"])["input_ids"])
  scores = [np.asarray(straight.model(tokens)) for _ in range(2)]
  np.testing.assert_array_equal(scores[0], scores[1])
  no_dropout = nnx.view(straight.model, head_dropout=0.0)
  np.testing.assert_array_equal(scores[0], np.asarray(no_dropout(tokens)))


def test_resume_with_dropout_is_exact(data, tmp_path, straight):
  stopped = _train(data, tmp_path, dataclasses.replace(CFG, max_steps=2))
  assert stopped.step == 2
  resumed = _train(data, tmp_path)
  np.testing.assert_allclose(_losses(resumed), _losses(straight), rtol=1e-6)
  for a, b in zip(_params(resumed), _params(straight), strict=True):
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.slow  # Three more trainings (40 s); the resume test keeps the masks' exactness.
def test_grad_accumulation_and_sharding_draw_the_same_masks(data, tmp_path, straight):
  accumulated = _train(data, tmp_path / "accumulated", dataclasses.replace(CFG, grad_accum=4))
  np.testing.assert_allclose(_losses(accumulated), _losses(straight), rtol=1e-5)
  mesh = jax.make_mesh((2, 4, 1), MESH_AXES, axis_types=(AxisType.Auto,) * 3)
  sharded = _train(data, tmp_path / "sharded", mesh=mesh)
  np.testing.assert_allclose(_losses(sharded), _losses(straight), rtol=2e-4)
