"""Configs of the seed models rStar-Math uses (values from their released config.json files)."""

from rstar_jax.models.config import ModelConfig
from rstar_jax.models.config import RopeConfig


def qwen25_math_1_5b(**overrides) -> ModelConfig:
  return ModelConfig(
    family="qwen2",
    vocab_size=151936,
    hidden_size=1536,
    intermediate_size=8960,
    num_layers=28,
    num_heads=12,
    num_kv_heads=2,
    head_dim=128,
    rope=RopeConfig(theta=10000.0),
    rms_norm_eps=1e-6,
    qkv_bias=True,
    tie_embeddings=True,
    max_position_embeddings=4096,
    bos_token_id=151643,
    eos_token_id=151643,
    **overrides,
  )


def qwen25_math_7b(**overrides) -> ModelConfig:
  return ModelConfig(
    family="qwen2",
    vocab_size=152064,
    hidden_size=3584,
    intermediate_size=18944,
    num_layers=28,
    num_heads=28,
    num_kv_heads=4,
    head_dim=128,
    rope=RopeConfig(theta=10000.0),
    rms_norm_eps=1e-6,
    qkv_bias=True,
    tie_embeddings=False,
    max_position_embeddings=4096,
    bos_token_id=151643,
    eos_token_id=151643,
    **overrides,
  )


def qwen2_math_7b(**overrides) -> ModelConfig:
  return ModelConfig(
    family="qwen2",
    vocab_size=152064,
    hidden_size=3584,
    intermediate_size=18944,
    num_layers=28,
    num_heads=28,
    num_kv_heads=4,
    head_dim=128,
    rope=RopeConfig(theta=1000000.0),
    rms_norm_eps=1e-6,
    qkv_bias=True,
    tie_embeddings=False,
    max_position_embeddings=4096,
    bos_token_id=151643,
    eos_token_id=151643,
    **overrides,
  )


def phi3_mini(**overrides) -> ModelConfig:
  """Phi-3-mini-4k-instruct."""
  return ModelConfig(
    family="phi3",
    vocab_size=32064,
    hidden_size=3072,
    intermediate_size=8192,
    num_layers=32,
    num_heads=32,
    num_kv_heads=32,
    head_dim=96,
    rope=RopeConfig(theta=10000.0),
    rms_norm_eps=1e-5,
    qkv_bias=False,
    tie_embeddings=False,
    max_position_embeddings=4096,
    sliding_window=2047,
    bos_token_id=1,
    eos_token_id=32000,
    pad_token_id=32000,
    **overrides,
  )


PRESETS = {
  "qwen25_math_1_5b": qwen25_math_1_5b,
  "qwen25_math_7b": qwen25_math_7b,
  "qwen2_math_7b": qwen2_math_7b,
  "phi3_mini": phi3_mini,
}
