"""absl entry points of rstar-jax (run as `python -m launch.NAME`)."""
