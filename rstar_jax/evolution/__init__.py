"""rstar_jax.evolution — see docs/architecture.md."""
