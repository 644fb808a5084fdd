"""absl entry points of rstar-jax (run as `python -m launch.NAME`).

Importing the package sets glibc's malloc up before JAX starts its threads: see
`rstar_jax/runtime/host_memory.py` (XLA:CPU steps ~25% faster; RSTAR_JAX_SYSTEM_MALLOC=1 opts out).
"""
from rstar_jax.runtime import host_memory

host_memory.keep_freed_memory()
