"""rstar_jax.runtime: process-level plumbing every floor above may use.

Host memory settings (`host_memory`), multi-host process sync (`sync`), atomic file writes
(`files`) and the one device-mesh builder (`mesh`).
"""
