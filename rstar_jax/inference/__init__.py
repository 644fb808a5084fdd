"""Inference engine: batched step sampling (`Engine.expand`) and PPM scoring (`Scorer.score`)."""

from rstar_jax.inference.config import Candidate
from rstar_jax.inference.config import EngineConfig
from rstar_jax.inference.config import EngineStats
from rstar_jax.inference.config import SamplingParams
from rstar_jax.inference.config import ScorerConfig
from rstar_jax.inference.engine import Engine
from rstar_jax.inference.loading import load_engine
from rstar_jax.inference.loading import load_scorer
from rstar_jax.inference.prompted import PromptedEngine
from rstar_jax.inference.scorer import Scorer
from rstar_jax.inference.scorer import squash

__all__ = [
  "Candidate",
  "Engine",
  "EngineConfig",
  "EngineStats",
  "PromptedEngine",
  "SamplingParams",
  "Scorer",
  "ScorerConfig",
  "load_engine",
  "load_scorer",
  "squash",
]
