"""The building blocks other packages compose (injected attention, KV caches, training remat) agree
with the model."""

from typing import NamedTuple

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rstar_jax.inference.kv_cache import DecodeAttention
from rstar_jax.inference.kv_cache import PrefillAttention
from rstar_jax.inference.kv_cache import Prefix
from rstar_jax.inference.kv_cache import empty_suffix
from rstar_jax.models import ModelConfig
from rstar_jax.models import RopeConfig
from rstar_jax.models import Transformer
from rstar_jax.models import ValueModel
from rstar_jax.models import attend
from rstar_jax.models import causal_mask
from rstar_jax.models import rope

CONFIG = ModelConfig(
  family="llama",
  vocab_size=97,
  hidden_size=48,
  intermediate_size=80,
  num_layers=2,
  num_heads=6,
  num_kv_heads=2,
  head_dim=8,
  qkv_bias=True,
  o_bias=True,
  rope=RopeConfig(theta=500.0, kind="llama3", factor=4.0, original_max_position_embeddings=16),
)
TOKENS = jnp.asarray(np.random.RandomState(0).randint(0, 97, (2, 20)))


class _ConcatCache(NamedTuple):
  """A minimal injected attention: the new queries see the cached K/V and themselves (causally)."""

  past: int

  def __call__(self, q, k, v, cache):
    k_all = k if cache is None else jnp.concatenate([cache[0], k], axis=1)
    v_all = v if cache is None else jnp.concatenate([cache[1], v], axis=1)
    t, s = q.shape[1], k_all.shape[1]
    allowed = jnp.arange(s)[None, None, :] <= self.past + jnp.arange(t)[None, :, None]
    return attend(q, k_all, v_all, jnp.broadcast_to(allowed, (q.shape[0], t, s))), (k_all, v_all)


def test_layers_run_with_an_injected_attention_and_cache():
  """Prefill the first 12 tokens, then the rest against the cached k/v: what an inference engine does."""
  model = Transformer(CONFIG, rngs=nnx.Rngs(0))
  positions = jnp.broadcast_to(jnp.arange(20), (2, 20))
  x_first, caches = model.forward(
    TOKENS[:, :12], rope.cos_sin(CONFIG, positions[:, :12]), _ConcatCache(0)
  )
  assert [c[0].shape for c in caches] == [(2, 12, 2, 8)] * CONFIG.num_layers
  x_rest, _ = model.forward(
    TOKENS[:, 12:], rope.cos_sin(CONFIG, positions[:, 12:]), _ConcatCache(12), caches
  )
  logits = model.logits(model.final_norm(jnp.concatenate([x_first, x_rest], axis=1)))
  np.testing.assert_allclose(np.asarray(logits), np.asarray(model(TOKENS)), atol=1e-5)


@pytest.mark.parametrize("sliding_window", [None, 5])
def test_engine_prefill_and_shared_prefix_decode_equal_the_full_forward(sliding_window):
  """Ragged prompts prefilled once, n=2 rows per prompt decoding different tokens against the
  shared prefix and their own suffix: each row's logits equal the full causal forward."""
  config = CONFIG.replace(sliding_window=sliding_window)
  model = Transformer(config, rngs=nnx.Rngs(2))
  rng = np.random.RandomState(3)
  lengths, width, n, steps = np.asarray([9, 6]), 12, 2, 5
  prompts = rng.randint(0, 97, (2, width))
  suffixes = rng.randint(0, 97, (2 * n, steps))
  positions = jnp.broadcast_to(jnp.arange(width), (2, width))
  allowed = causal_mask(positions, positions < lengths[:, None], sliding_window)
  _, kv = model.forward(
    jnp.asarray(prompts), rope.arange_cos_sin(config, width), PrefillAttention(allowed)
  )
  prefix = Prefix(kv, jnp.asarray(lengths))
  suffix = empty_suffix(prefix, n, steps)
  for t in range(steps):
    attention = DecodeAttention.at_step(prefix, jnp.asarray(t), steps, sliding_window)
    pos_r1 = jnp.asarray(np.repeat(lengths, n) + t)[:, None]
    x, suffix = model.forward(
      jnp.asarray(suffixes[:, t : t + 1]),
      rope.cos_sin(config, pos_r1),
      attention,
      tuple(zip(prefix.kv, suffix)),
    )
    logits_rv = np.asarray(model.logits(model.final_norm(x))[:, 0])
    for r in range(2 * n):
      p = r // n
      sequence = np.concatenate([prompts[p, : lengths[p]], suffixes[r, : t + 1]])[None]
      np.testing.assert_allclose(
        logits_rv[r], np.asarray(model(jnp.asarray(sequence)))[0, -1], atol=1e-5
      )


def test_sliding_window_mask():
  positions = jnp.asarray([[0, 0, 1, 2, 3]])
  mask = jnp.asarray([[False, True, True, True, True]])
  allowed = np.asarray(causal_mask(positions, mask, 2))[0]
  expected = np.tril(np.ones((5, 5), bool)) & mask[0][None]
  expected &= np.asarray(positions[0][:, None] - positions[0][None, :] < 2)
  np.testing.assert_array_equal(allowed, expected)
  assert allowed[4].tolist() == [False, False, False, True, True]


def test_remat_view_gives_the_same_gradients_and_leaves_the_model_alone():
  def loss(model):
    return jnp.mean(jax.nn.log_softmax(model(TOKENS))[..., 0])

  plain = Transformer(CONFIG, rngs=nnx.Rngs(1))
  remat = nnx.view(plain, remat=True)
  assert remat.remat and not plain.remat
  assert remat.layers[0].mlp.gate is plain.layers[0].mlp.gate  # the same parameters
  assert "remat" in str(jax.make_jaxpr(nnx.grad(loss))(remat))
  assert "remat" not in str(jax.make_jaxpr(nnx.grad(loss))(plain))
  g_plain = nnx.grad(loss)(plain)
  g_remat = nnx.grad(loss)(remat)
  for a, b in zip(jax.tree.leaves(g_plain), jax.tree.leaves(g_remat)):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6)
  assert any(np.abs(np.asarray(a)).max() > 0 for a in jax.tree.leaves(g_plain))


@pytest.mark.parametrize("block", [4, 7, 19, 20, 64])
def test_attention_in_query_blocks_equals_it_whole_with_its_gradients(block):
  """Blocks that divide T, that do not (padded queries), and none (block >= T); left-padded
  rows, so some queries see no key at all."""
  tokens_bt = jnp.asarray(np.random.RandomState(3).randint(0, 97, (3, 20)))
  mask_bt = jnp.arange(20)[None, :] >= jnp.asarray([[0], [5], [19]])
  positions_bt = jnp.maximum(jnp.cumsum(mask_bt, axis=1) - 1, 0)

  def loss(model):
    scores = model(tokens_bt, positions_bt, mask_bt=mask_bt)
    return jnp.sum(jnp.where(mask_bt, scores, 0.0) ** 2), scores

  whole = nnx.view(ValueModel(CONFIG, rngs=nnx.Rngs(2)), query_block=0)
  blocked = nnx.view(whole, query_block=block)
  assert blocked.query_block == block and whole.query_block == 0
  (_, s_whole), g_whole = nnx.value_and_grad(loss, has_aux=True)(whole)
  (_, s_blocked), g_blocked = nnx.value_and_grad(loss, has_aux=True)(blocked)
  np.testing.assert_allclose(np.asarray(s_blocked), np.asarray(s_whole), rtol=1e-5, atol=1e-6)
  leaves = list(zip(jax.tree.leaves(g_whole), jax.tree.leaves(g_blocked)))
  for a, b in leaves:
    np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-4, atol=1e-6)
  assert any(np.abs(np.asarray(a)).max() > 0 for a, _ in leaves)
  # Blocks below T are a loop of rematerialised blocks; block >= T is the one-shot attention.
  jaxpr = str(jax.make_jaxpr(nnx.grad(lambda m: loss(m)[0]))(blocked))
  assert ("scan" in jaxpr) == (block < 20)


def test_a_negative_query_block_is_refused():
  with pytest.raises(ValueError, match="query_block must be >= 0"):
    nnx.view(Transformer(CONFIG, rngs=nnx.Rngs(0)), query_block=-1)


def test_bf16_params_keep_their_dtype_and_compute_in_bf16():
  model = Transformer(
    CONFIG.replace(param_dtype="bfloat16", compute_dtype="bfloat16"), rngs=nnx.Rngs(0)
  )
  assert {x.dtype for x in jax.tree.leaves(nnx.state(model, nnx.Param))} == {
    jnp.dtype(jnp.bfloat16)
  }
  assert model(TOKENS).dtype == jnp.bfloat16
  q, _, _ = model.layers[0].attn.qkv(model.embed(TOKENS), rope.arange_cos_sin(model.config, 20))
  assert q.dtype == jnp.bfloat16


@pytest.mark.parametrize(
  "rope_config",
  [
    RopeConfig(),
    RopeConfig(theta=500.0, kind="linear", factor=2.0, partial_rotary_factor=0.5),
    CONFIG.rope,
    RopeConfig(
      kind="longrope",
      factor=4.0,
      original_max_position_embeddings=8,
      short_factor=(1.0, 1.5, 2.0, 2.5),
      long_factor=(3.0, 5.0, 7.0, 9.0),
    ),
  ],
)
@pytest.mark.parametrize("length", [6, 20])  # longrope: inside and past its pretraining length
def test_host_rope_tables_match_traced_ones(rope_config, length):
  config = CONFIG.replace(rope=rope_config)
  traced = jax.jit(rope.cos_sin, static_argnums=0)(config, jnp.arange(length)[None])
  for host, device in zip(rope.arange_cos_sin(config, length), traced):
    assert host.shape == device.shape == (1, length, config.rotary_dim)
    np.testing.assert_allclose(host, np.asarray(device), rtol=1e-6, atol=1e-6)


def test_value_head_has_the_official_init_and_drops_out_only_given_keys():
  ppm = ValueModel.from_policy(Transformer(CONFIG, rngs=nnx.Rngs(0)), rngs=nnx.Rngs(3))
  kernel = np.asarray(ppm.score_kernel[...])
  assert abs(kernel.mean() - 5e-7) < 5e-7 and 0.5e-6 < kernel.std() < 2e-6
  np.testing.assert_array_equal(np.asarray(ppm.score_bias[...]), [np.float32(1e-6)])
  # A trained-like head, so that dropping its input shows in the scores.
  ppm.score_kernel[...] = jnp.asarray(np.random.RandomState(1).randn(CONFIG.hidden_size, 1))
  keys = jax.random.split(jax.random.key(0), 2)
  plain = np.asarray(ppm(TOKENS))
  np.testing.assert_allclose(plain, np.asarray(jax.jit(lambda m: m(TOKENS))(ppm)), rtol=1e-5)
  dropped = np.asarray(ppm(TOKENS, dropout_keys_b=keys))
  assert not np.allclose(dropped, plain)
  np.testing.assert_array_equal(dropped, np.asarray(ppm(TOKENS, dropout_keys_b=keys)))
  assert ppm.head_dropout.rate == 0.1  # The official default.
  off = nnx.view(ppm, head_dropout=0.0)
  assert off.head_dropout.rate == 0.0 and ppm.head_dropout.rate == 0.1
  np.testing.assert_array_equal(np.asarray(off(TOKENS, dropout_keys_b=keys)), plain)
  # Each row draws from its own key: a row's scores do not depend on the other rows.
  one_row = np.asarray(ppm(TOKENS[:1], dropout_keys_b=keys[:1]))
  np.testing.assert_allclose(one_row, dropped[:1], rtol=1e-5)
