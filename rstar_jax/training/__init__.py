"""SFT and PPM trainers: grain input, optax AdamW, orbax checkpoints with exact resume (refused,
with `ResumeMismatchError`, when the batch size, epochs, learning-rate schedule or dataset changed).

Public API (see docs/architecture.md):
  train_sft(SFTConfig, *, data_dir, init, tokenizer, out_dir, mesh=None, callbacks=(), stop=None)
    -> TrainResult
  train_ppm(PPMConfig, *, data_dir, init, tokenizer, out_dir, mesh=None, callbacks=()) -> TrainResult
"""

from rstar_jax.training.checkpoint import ResumeMismatchError
from rstar_jax.training.config import PPMConfig
from rstar_jax.training.config import SFTConfig
from rstar_jax.training.config import TrainConfig
from rstar_jax.training.loop import EarlyStop
from rstar_jax.training.loop import NonFiniteLossError
from rstar_jax.training.loop import TrainResult
from rstar_jax.training.ppm import train_ppm
from rstar_jax.training.sft import train_sft

__all__ = [
  "EarlyStop",
  "NonFiniteLossError",
  "PPMConfig",
  "ResumeMismatchError",
  "SFTConfig",
  "TrainConfig",
  "TrainResult",
  "train_ppm",
  "train_sft",
]
