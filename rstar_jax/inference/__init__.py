"""Inference engine: batched step sampling (`Engine.expand`) and PPM scoring (`Scorer.score`)."""
from rstar_jax.inference.config import Candidate, EngineConfig, EngineStats, SamplingParams
from rstar_jax.inference.engine import Engine
from rstar_jax.inference.scorer import Scorer, squash

__all__ = ["Candidate", "Engine", "EngineConfig", "EngineStats", "SamplingParams", "Scorer", "squash"]
