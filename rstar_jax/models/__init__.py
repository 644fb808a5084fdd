"""Flax NNX decoder family (Qwen2 / Llama / Phi-3), the PPM value model and sharding specs."""
from rstar_jax.models import presets
from rstar_jax.models.config import ModelConfig, RopeConfig, UnsupportedConfigError
from rstar_jax.models.layers import attend
from rstar_jax.models.params import logical_axes_of, param_shardings
from rstar_jax.models.sharding import MESH_AXES, ShardingRules, make_mesh, parse_mesh_shape
from rstar_jax.models.transformer import Transformer, ValueModel, attention_mask

__all__ = [
    "MESH_AXES", "ModelConfig", "RopeConfig", "ShardingRules", "Transformer", "UnsupportedConfigError",
    "ValueModel", "attend", "attention_mask", "logical_axes_of", "make_mesh", "param_shardings",
    "parse_mesh_shape", "presets",
]
