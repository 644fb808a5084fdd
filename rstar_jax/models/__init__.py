"""Flax NNX decoder family (Qwen2 / Llama / Phi-3), the PPM value model and sharding specs."""

from rstar_jax.models import presets
from rstar_jax.models.attention import AttentionFn
from rstar_jax.models.attention import CausalAttention
from rstar_jax.models.attention import attend
from rstar_jax.models.attention import causal_mask
from rstar_jax.models.attention import in_window
from rstar_jax.models.config import ModelConfig
from rstar_jax.models.config import RopeConfig
from rstar_jax.models.config import UnsupportedConfigError
from rstar_jax.models.params import logical_axes_of
from rstar_jax.models.params import param_shardings
from rstar_jax.models.sharding import ShardingRules
from rstar_jax.models.transformer import Transformer
from rstar_jax.models.transformer import ValueModel

__all__ = [
  "AttentionFn",
  "CausalAttention",
  "ModelConfig",
  "RopeConfig",
  "ShardingRules",
  "Transformer",
  "UnsupportedConfigError",
  "ValueModel",
  "attend",
  "causal_mask",
  "in_window",
  "logical_axes_of",
  "param_shardings",
  "presets",
]
