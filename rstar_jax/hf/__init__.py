"""rstar_jax.hf — see docs/architecture.md."""
