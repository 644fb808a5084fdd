"""rstar_jax.grading — see docs/architecture.md."""
