"""rstar_jax.inference — see docs/architecture.md."""
