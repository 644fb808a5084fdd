"""Logit parity with transformers (torch, fp32) for every supported family and rope variant."""

import jax.numpy as jnp
import numpy as np
import pytest
from tiny_hf import make_tiny_hf_model
from tiny_hf import tiny_hf_config
import torch

from rstar_jax.hf import load_model
from rstar_jax.models import ModelConfig
from rstar_jax.models import UnsupportedConfigError
from rstar_jax.models import presets

TOL = 1e-4
LLAMA3 = {
  "rope_type": "llama3",
  "factor": 8.0,
  "low_freq_factor": 1.0,
  "high_freq_factor": 4.0,
  "original_max_position_embeddings": 64,
}
LONGROPE = {
  "type": "longrope",
  "short_factor": [1.0 + 0.1 * i for i in range(8)],
  "long_factor": [2.0 + 0.3 * i for i in range(8)],
}

CASES = {
  "qwen2_gqa_untied": ("qwen2", {}),
  "qwen2_tied_mha": ("qwen2", dict(tie_embeddings=True, num_kv_heads=4)),
  "llama_llama3_rope": ("llama", dict(rope_scaling=LLAMA3)),
  "llama_linear_rope_bias": (
    "llama",
    dict(
      rope_scaling={"rope_type": "linear", "factor": 2.0}, attention_bias=True, tie_embeddings=True
    ),
  ),
  "phi3_plain": ("phi3", {}),
  "phi3_longrope": (
    "phi3",
    dict(max_position_embeddings=512, original_max_position_embeddings=64, rope_scaling=LONGROPE),
  ),
  "phi3_partial_rotary_window": ("phi3", dict(partial_rotary_factor=0.5, sliding_window=48)),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def pair(request, tmp_path_factory):
  family, kwargs = CASES[request.param]
  path = tmp_path_factory.mktemp(request.param)
  return make_tiny_hf_model(path, family, **kwargs), load_model(path)


def test_full_sequence_logits_match(pair):
  torch_model, model = pair
  tokens = np.random.RandomState(0).randint(0, 320, (2, 300))
  with torch.no_grad():
    ref = torch_model(torch.tensor(tokens)).logits.numpy()
  np.testing.assert_allclose(np.asarray(model(jnp.asarray(tokens))), ref, atol=TOL, rtol=0)


def test_ragged_batch_via_positions_and_mask(pair):
  """Left-padded rows of different lengths equal each row run alone."""
  torch_model, model = pair
  rng = np.random.RandomState(1)
  lengths, width = [40, 17, 33], 40
  tokens = np.zeros((3, width), np.int64)
  mask = np.zeros((3, width), bool)
  positions = np.zeros((3, width), np.int64)
  for i, n in enumerate(lengths):
    tokens[i, width - n :] = rng.randint(3, 320, n)
    mask[i, width - n :] = True
    positions[i, width - n :] = np.arange(n)
  out = np.asarray(model(jnp.asarray(tokens), jnp.asarray(positions), mask_bt=jnp.asarray(mask)))
  for i, n in enumerate(lengths):
    with torch.no_grad():
      ref = torch_model(torch.tensor(tokens[i : i + 1, width - n :])).logits.numpy()[0]
    np.testing.assert_allclose(out[i, width - n :], ref, atol=TOL, rtol=0)


def test_hidden_states_feed_logits(pair):
  _, model = pair
  tokens = jnp.asarray(np.random.RandomState(2).randint(0, 320, (1, 12)))
  np.testing.assert_allclose(
    np.asarray(model.logits(model.hidden_states(tokens))), np.asarray(model(tokens)), atol=1e-6
  )


def test_bf16_compute_close_to_fp32(tmp_path):
  make_tiny_hf_model(tmp_path, "qwen2")
  tokens = jnp.asarray(np.random.RandomState(3).randint(0, 320, (2, 64)))
  fp32 = np.asarray(load_model(tmp_path)(tokens))
  bf16_model = load_model(tmp_path, dtype="bfloat16")
  assert bf16_model.layers[0].attn.q_proj[...].dtype == jnp.bfloat16
  bf16 = np.asarray(bf16_model(tokens)).astype(np.float32)
  assert np.abs(bf16 - fp32).max() < 0.1 * np.abs(fp32).max()


def test_from_hf_reads_legacy_and_new_layouts():
  legacy = tiny_hf_config("qwen2").to_dict()
  legacy.pop("rope_parameters")
  legacy.update(rope_theta=1e6, rope_scaling=None)
  assert ModelConfig.from_hf(legacy).rope.theta == 1e6
  new = tiny_hf_config("llama", rope_scaling=LLAMA3).to_dict()
  cfg = ModelConfig.from_hf(new)
  assert cfg.rope.kind == "llama3" and cfg.rope.factor == 8.0
  assert ModelConfig.from_hf(cfg.to_hf_dict()) == cfg


@pytest.mark.parametrize(
  "change, message",
  [
    ({"model_type": "gpt2"}, "unknown model_type 'gpt2'"),
    ({"hidden_act": "gelu"}, "hidden_act"),
    (
      {"rope_parameters": {"rope_type": "yarn", "factor": 4.0, "rope_theta": 1e4}},
      "rope type 'yarn'",
    ),
    ({"use_sliding_window": True}, "sliding-window"),
  ],
)
def test_from_hf_rejects_unsupported(change, message):
  hf = tiny_hf_config("qwen2").to_dict()
  hf.update(change)
  with pytest.raises(UnsupportedConfigError, match=message):
    ModelConfig.from_hf(hf)


def test_presets_describe_the_seed_models():
  assert 1.4e9 < presets.qwen25_math_1_5b().num_params() < 1.7e9
  assert 7.0e9 < presets.qwen25_math_7b().num_params() < 8.0e9
  assert 7.0e9 < presets.qwen2_math_7b().num_params() < 8.0e9
  assert 3.6e9 < presets.phi3_mini().num_params() < 4.0e9
