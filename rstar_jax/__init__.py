"""rstar-jax: rStar-Math self-evolution in JAX / Flax NNX."""

__version__ = "0.1.0"
