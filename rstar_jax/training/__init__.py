"""rstar_jax.training — see docs/architecture.md."""
