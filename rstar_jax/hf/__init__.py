"""Hugging Face import/export: safetensors checkpoints, config.json and tokenizers."""

from rstar_jax.hf.checkpoint import load_model
from rstar_jax.hf.checkpoint import require_model_dir
from rstar_jax.hf.checkpoint import save_model
from rstar_jax.hf.names import TensorMapping
from rstar_jax.hf.names import name_map
from rstar_jax.hf.safetensors_io import CheckpointError
from rstar_jax.hf.tokenizer import load_tokenizer
from rstar_jax.hf.tokenizer import tokenizer_dir
from rstar_jax.hf.tokenizer import with_step_markers

__all__ = [
  "CheckpointError",
  "TensorMapping",
  "load_model",
  "load_tokenizer",
  "name_map",
  "require_model_dir",
  "save_model",
  "tokenizer_dir",
  "with_step_markers",
]
