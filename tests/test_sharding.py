"""Sharded forward on 8 fake CPU devices equals the unsharded forward; parameters really sharded."""

from flax import nnx
import jax
import jax.numpy as jnp
from jax.sharding import PartitionSpec as P
import numpy as np
import pytest
from tiny_hf import make_tiny_hf_model

from rstar_jax.hf import load_model
from rstar_jax.models import ModelConfig
from rstar_jax.models import Transformer
from rstar_jax.models import ValueModel
from rstar_jax.runtime.mesh import make_mesh
from rstar_jax.runtime.mesh import parse_mesh_shape

MESHES = ["fsdp:4,tensor:2", "data:2,fsdp:4", "tensor:2,data:4"]
TOKENS = np.random.RandomState(0).randint(0, 320, (8, 32))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
  path = tmp_path_factory.mktemp("qwen2")
  make_tiny_hf_model(path, "qwen2", num_heads=4, num_kv_heads=2)
  return path


@pytest.fixture(scope="module")
def reference(checkpoint):
  return np.asarray(load_model(checkpoint)(jnp.asarray(TOKENS)))


@pytest.mark.parametrize("flag", MESHES)
def test_loaded_sharded_forward_matches(checkpoint, reference, flag):
  mesh = make_mesh(flag)
  model = load_model(checkpoint, mesh=mesh)
  shape = parse_mesh_shape(flag)
  q = model.layers[0].attn.q_proj[...]
  expected_q = P(
    "fsdp" if shape["fsdp"] > 1 else None, "tensor" if shape["tensor"] > 1 else None, None
  )
  assert q.sharding.spec == expected_q
  if shape["tensor"] > 1:
    assert model.layers[1].mlp.down[...].sharding.spec[0] == "tensor"
    assert (
      len(q.addressable_shards[0].data.shape) == 3
      and q.addressable_shards[0].data.shape[1] == 4 // 2
    )
  with jax.set_mesh(mesh):
    tokens = jax.device_put(
      jnp.asarray(TOKENS), jax.sharding.NamedSharding(mesh, P(("data", "fsdp")))
    )
    out = jax.jit(lambda m, t: m(t))(model, tokens)
  np.testing.assert_allclose(np.asarray(out), reference, atol=1e-5, rtol=0)


def test_created_directly_sharded():
  mesh = make_mesh("fsdp:4,tensor:2")
  config = ModelConfig(
    vocab_size=64, hidden_size=32, intermediate_size=64, num_heads=4, num_kv_heads=2, head_dim=8
  )
  with jax.set_mesh(mesh):
    model = Transformer(config, rngs=nnx.Rngs(0))
    ppm = ValueModel(config, rngs=nnx.Rngs(0))
  assert model.embed.embedding[...].sharding.spec == P("tensor", "fsdp")
  assert model.lm_head[...].sharding.spec == P("fsdp", "tensor")
  assert model.layers[0].attn.o_proj[...].sharding.spec == P("tensor", None, "fsdp")
  assert ppm.score_kernel[...].sharding.spec == P("fsdp", None)
  unsharded = Transformer(config, rngs=nnx.Rngs(0))
  tokens = jnp.asarray(TOKENS % 64)
  np.testing.assert_allclose(np.asarray(model(tokens)), np.asarray(unsharded(tokens)), atol=1e-5)


def test_non_dividing_axes_fall_back_to_replication():
  mesh = make_mesh("tensor:8")
  config = ModelConfig(
    vocab_size=60, hidden_size=32, intermediate_size=64, num_heads=4, num_kv_heads=2, head_dim=8
  )
  with jax.set_mesh(mesh):
    model = Transformer(config, rngs=nnx.Rngs(0))
  assert model.layers[0].attn.k_proj[...].sharding.spec == P(None, None, None)
  assert model.layers[0].mlp.gate[...].sharding.spec == P(None, "tensor")


@pytest.mark.parametrize("flag", ["data:3", "model:2", "fsdp:x"])
def test_bad_mesh_flags(flag):
  with pytest.raises(ValueError):
    make_mesh(flag)
