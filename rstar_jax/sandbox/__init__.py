"""rstar_jax.sandbox — see docs/architecture.md."""
