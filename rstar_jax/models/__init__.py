"""Flax NNX decoder family (Qwen2 / Llama / Phi-3), the PPM value model and sharding specs."""
from rstar_jax.models import presets
from rstar_jax.models.config import ModelConfig
from rstar_jax.models.config import RopeConfig
from rstar_jax.models.config import UnsupportedConfigError
from rstar_jax.models.layers import attend
from rstar_jax.models.params import logical_axes_of
from rstar_jax.models.params import param_shardings
from rstar_jax.models.sharding import ShardingRules
from rstar_jax.models.transformer import Transformer
from rstar_jax.models.transformer import ValueModel
from rstar_jax.models.transformer import attention_mask

__all__ = [
    "ModelConfig", "RopeConfig", "ShardingRules", "Transformer", "UnsupportedConfigError",
    "ValueModel", "attend", "attention_mask", "logical_axes_of", "param_shardings",
    "presets",
]
