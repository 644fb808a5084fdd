"""Rotary position embeddings, including the llama3 and Phi-3 longrope scaling variants.

Frequencies follow transformers' `modeling_rope_utils` definitions exactly so logits match.
"""

import math

import jax.numpy as jnp
import numpy as np

from rstar_jax.models.config import ModelConfig


def inverse_frequencies(config: ModelConfig, *, long: bool = False) -> np.ndarray:
  """Per-pair inverse frequencies [rotary_dim // 2] (host constant, fp32)."""
  rope, dim = config.rope, config.rotary_dim
  exponents = np.arange(0, dim, 2, dtype=np.float32) / dim
  inv_freq = 1.0 / (rope.theta**exponents)
  if rope.kind == "linear":
    inv_freq = inv_freq / rope.factor
  elif rope.kind == "llama3":
    old_len = rope.original_max_position_embeddings
    low_wavelen, high_wavelen = old_len / rope.low_freq_factor, old_len / rope.high_freq_factor
    wavelen = 2 * math.pi / inv_freq
    scaled = np.where(wavelen > low_wavelen, inv_freq / rope.factor, inv_freq)
    smooth = (old_len / wavelen - rope.low_freq_factor) / (
      rope.high_freq_factor - rope.low_freq_factor
    )
    smoothed = (1 - smooth) * scaled / rope.factor + smooth * scaled
    medium = (wavelen >= high_wavelen) & (wavelen <= low_wavelen)
    inv_freq = np.where(medium, smoothed, scaled)
  elif rope.kind == "longrope":
    factors = np.asarray(rope.long_factor if long else rope.short_factor, np.float32)
    inv_freq = 1.0 / (factors * rope.theta**exponents)
  return inv_freq.astype(np.float32)


def attention_scaling(config: ModelConfig) -> float:
  """Factor applied to cos/sin (longrope's attention factor; 1 otherwise)."""
  rope = config.rope
  if rope.kind != "longrope":
    return 1.0
  if rope.attention_factor is not None:
    return rope.attention_factor
  if rope.factor <= 1.0:
    return 1.0
  return math.sqrt(1 + math.log(rope.factor) / math.log(rope.original_max_position_embeddings))


def _cos_sin(xp, config: ModelConfig, positions_bt):
  inv_freq = xp.asarray(inverse_frequencies(config))
  if config.rope.kind == "longrope":
    # transformers switches to the long factors once the sequence exceeds the pretraining length.
    use_long = xp.max(positions_bt) + 1 > config.rope.original_max_position_embeddings
    inv_freq = xp.where(use_long, xp.asarray(inverse_frequencies(config, long=True)), inv_freq)
  angles_btf = positions_bt.astype(xp.float32)[..., None] * inv_freq
  angles_btr = xp.concatenate([angles_btf, angles_btf], axis=-1)
  scale = attention_scaling(config)
  return xp.cos(angles_btr) * scale, xp.sin(angles_btr) * scale


def cos_sin(config: ModelConfig, positions_bt: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
  """cos, sin tables [B, T, rotary_dim] in fp32 for the given absolute positions."""
  return _cos_sin(jnp, config, positions_bt)


def arange_cos_sin(config: ModelConfig, length: int) -> tuple[np.ndarray, np.ndarray]:
  """cos, sin tables [1, T, rotary_dim] for positions 0..T-1, computed on the host.

  As constants of the compiled program they are read, not recomputed: XLA:CPU otherwise
  evaluates cos and sin again inside every fusion that uses them (each layer's q and k, forward
  and backward), which cost a tenth of a training step.
  """
  return _cos_sin(np, config, np.arange(length, dtype=np.int32)[None])


def apply_rope(x_btnh: jnp.ndarray, cos_btr: jnp.ndarray, sin_btr: jnp.ndarray) -> jnp.ndarray:
  """Rotates the first rotary_dim features of each head (half-split convention).

  The rotation pairs feature i with i + rotary_dim/2: out = x * cos + swap(x) * (-sin, sin),
  where swap exchanges the two halves. Written as a reverse over an axis of size 2 (not as
  slices and a concatenation), its gradient is another reverse instead of pads and adds.
  """
  rot = cos_btr.shape[-1]
  x_rot, x_pass = x_btnh[..., :rot], x_btnh[..., rot:]
  half = rot // 2
  swapped = x_rot.reshape(*x_rot.shape[:-1], 2, half)[..., ::-1, :].reshape(x_rot.shape)
  signed_sin = sin_btr * jnp.concatenate([-jnp.ones(half), jnp.ones(half)]).astype(sin_btr.dtype)
  cos = cos_btr[:, :, None, :].astype(x_btnh.dtype)
  sin = signed_sin[:, :, None, :].astype(x_btnh.dtype)
  out = x_rot * cos + swapped * sin
  return jnp.concatenate([out, x_pass], axis=-1) if x_pass.shape[-1] else out
