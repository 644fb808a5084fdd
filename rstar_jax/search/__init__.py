"""rstar_jax.search — see docs/architecture.md."""
