"""glibc malloc settings that stop XLA:CPU from page-faulting its working memory in on every call.

Why: XLA:CPU allocates each execution's temporary buffer (334 MB for the train benchmark's step)
with posix_memalign. glibc serves a block that large from a fresh mmap in the calling thread's
malloc arena and unmaps it on free, so every execution faults its whole working set in again: 84k
page faults per train step, ~2.6 us each on the 2-core dev VM, a quarter of the step. With a single
arena, no mmap and no trimming of the heap's top, the next execution reuses the freed block.

The price: the process keeps its peak heap (RSS does not shrink after a large stage) and all
threads allocate from one arena. It must run before JAX's first computation, because a thread keeps
the arena it first allocated from. The launchers call it at import; set RSTAR_JAX_SYSTEM_MALLOC=1
to keep glibc's defaults. Other C libraries (macOS, musl) are left alone.
"""

import ctypes
import logging
import os
import sys

OPT_OUT_ENV = "RSTAR_JAX_SYSTEM_MALLOC"
# mallopt parameters from glibc's <malloc.h>.
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8
_SETTINGS = ((_M_ARENA_MAX, 1), (_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, 2**31 - 1))
applied = False  # Whether this process's malloc was set up (benchmarks report it).


def supported() -> bool:
  """Whether this process's C library is glibc, whose mallopt parameters these are."""
  try:
    return os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")
  except (AttributeError, ValueError, OSError):  # No confstr (Windows) or no such name (macOS).
    return False


def _jax_started() -> bool:
  bridge = sys.modules.get("jax._src.xla_bridge")  # Never imports JAX itself.
  return bool(bridge and getattr(bridge, "backends_are_initialized", lambda: False)())


def keep_freed_memory() -> bool:
  """Applies the settings; True where they took effect (glibc, not opted out)."""
  global applied  # noqa: PLW0603 -- the settings are process-wide, so is the flag.
  if os.environ.get(OPT_OUT_ENV) != "1" and supported():
    if _jax_started():
      logging.getLogger(__name__).warning(
        "keep_freed_memory() called after JAX started its backend: XLA's threads keep the "
        "malloc arenas they already have, so their buffers may still be faulted in anew. "
        "Call it before the first JAX computation."
      )
    mallopt = ctypes.CDLL(None).mallopt
    applied = all(mallopt(param, value) == 1 for param, value in _SETTINGS)
  return applied
