"""absl entry points of rstar-jax (run as `python -m launch.NAME`).

Importing the package, before anything starts JAX or transformers:
- sets glibc's malloc up before JAX starts its threads: see `rstar_jax/runtime/host_memory.py`
  (XLA:CPU steps ~25% faster; RSTAR_JAX_SYSTEM_MALLOC=1 opts out);
- silences transformers' advisory "PyTorch was not found" notice: rstar-jax uses transformers
  for configs and tokenizers only, so the notice asks nothing of the user.
"""

import os

from rstar_jax.runtime import host_memory

os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
host_memory.keep_freed_memory()
