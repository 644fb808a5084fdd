"""The building blocks other packages compose (inference KV cache, training remat) agree with the model."""
from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rstar_jax.models import ModelConfig
from rstar_jax.models import RopeConfig
from rstar_jax.models import Transformer
from rstar_jax.models import attend
from rstar_jax.models import attention_mask
from rstar_jax.models import rope

CONFIG = ModelConfig(family="llama", vocab_size=97, hidden_size=48, intermediate_size=80, num_layers=2,
                     num_heads=6, num_kv_heads=2, head_dim=8, qkv_bias=True, o_bias=True,
                     rope=RopeConfig(theta=500.0, kind="llama3", factor=4.0,
                                     original_max_position_embeddings=16))
TOKENS = jnp.asarray(np.random.RandomState(0).randint(0, 97, (2, 20)))


def test_blocks_compose_to_the_forward_pass():
  """Prefill the first 12 tokens, then the rest against cached k/v: what an inference engine does."""
  model = Transformer(CONFIG, rngs=nnx.Rngs(0))
  positions = jnp.broadcast_to(jnp.arange(20), (2, 20))
  x = model.embed(TOKENS)
  for layer in model.layers:
    q, k, v = layer.attn.qkv(layer.attn_norm(x), rope.cos_sin(CONFIG, positions))
    assert q.shape == (2, 20, 6, 8) and k.shape == v.shape == (2, 20, 2, 8)
    first = attend(q[:, :12], k[:, :12], v[:, :12], attention_mask(positions[:, :12], None, None))
    causal_rest = positions[:, 12:, None] >= positions[:, None, :]
    rest = attend(q[:, 12:], k, v, causal_rest)
    x = x + layer.attn.out(jnp.concatenate([first, rest], axis=1))
    x = x + layer.mlp(layer.mlp_norm(x))
  logits = model.logits(model.final_norm(x))
  np.testing.assert_allclose(np.asarray(logits), np.asarray(model(TOKENS)), atol=1e-5)


def test_remat_gives_the_same_gradients():
  def loss(model):
    return jnp.mean(jax.nn.log_softmax(model(TOKENS))[..., 0])

  plain = Transformer(CONFIG, rngs=nnx.Rngs(1))
  remat = Transformer(CONFIG.replace(remat=True), rngs=nnx.Rngs(1))
  g_plain = nnx.grad(loss)(plain)
  g_remat = nnx.grad(loss)(remat)
  for a, b in zip(jax.tree.leaves(g_plain), jax.tree.leaves(g_remat)):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6)
  assert any(np.abs(np.asarray(a)).max() > 0 for a in jax.tree.leaves(g_plain))


def test_bf16_params_keep_their_dtype_and_compute_in_bf16():
  model = Transformer(CONFIG.replace(param_dtype="bfloat16", compute_dtype="bfloat16"), rngs=nnx.Rngs(0))
  assert {x.dtype for x in jax.tree.leaves(nnx.state(model, nnx.Param))} == {jnp.dtype(jnp.bfloat16)}
  assert model(TOKENS).dtype == jnp.bfloat16
  q, _, _ = model.layers[0].attn.qkv(model.embed(TOKENS), rope.arange_cos_sin(model.config, 20))
  assert q.dtype == jnp.bfloat16


@pytest.mark.parametrize("rope_config", [
    RopeConfig(),
    RopeConfig(theta=500.0, kind="linear", factor=2.0, partial_rotary_factor=0.5),
    CONFIG.rope,
    RopeConfig(kind="longrope", factor=4.0, original_max_position_embeddings=8,
               short_factor=(1.0, 1.5, 2.0, 2.5), long_factor=(3.0, 5.0, 7.0, 9.0)),
])
@pytest.mark.parametrize("length", [6, 20])  # longrope: inside and past its pretraining length
def test_host_rope_tables_match_traced_ones(rope_config, length):
  config = CONFIG.replace(rope=rope_config)
  traced = jax.jit(rope.cos_sin, static_argnums=0)(config, jnp.arange(length)[None])
  for host, device in zip(rope.arange_cos_sin(config, length), traced):
    assert host.shape == device.shape == (1, length, config.rotary_dim)
    np.testing.assert_allclose(host, np.asarray(device), rtol=1e-6, atol=1e-6)
