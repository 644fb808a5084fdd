"""Test-session setup shared by every test module.

Eight fake CPU devices let sharding tests build real meshes; the other tests use device 0.
The suite's time is mostly XLA compilation of tiny models, so XLA:CPU compiles at backend
optimisation level 0 (the same computations; 37% less compile time on the smoke run)
and every process of the session, xdist workers and launched children alike, shares one persistent
compilation cache (a resumed or repeated program is compiled once); the session removes it at the
end. malloc is set up as the launchers set it (rstar_jax/runtime/host_memory.py).
absl flags are marked parsed because grain and our launch modules read them.
"""

import os
import pathlib
import shutil
import tempfile

from absl import flags
import pytest

from rstar_jax.runtime import host_memory  # No JAX import: the settings below come first.

os.environ.setdefault(
  "XLA_FLAGS", "--xla_force_host_platform_device_count=8 --xla_backend_optimization_level=0"
)
_OWN_COMPILE_CACHE = None  # Set in the process that made the cache (the xdist controller).
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
  _OWN_COMPILE_CACHE = tempfile.mkdtemp(prefix="rstar-jax-tests-xla-cache-")
  os.environ["JAX_COMPILATION_CACHE_DIR"] = _OWN_COMPILE_CACHE
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


host_memory.keep_freed_memory()  # As the launchers do, before JAX's first computation.
flags.FLAGS.mark_as_parsed()


def pytest_unconfigure(config):
  del config
  if _OWN_COMPILE_CACHE:
    shutil.rmtree(_OWN_COMPILE_CACHE, ignore_errors=True)


SHARED_DATA = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def benchmarks_dir() -> pathlib.Path:
  """../shared/data/benchmarks beside the checkout; skipped in a user's clone that lacks it."""
  path = SHARED_DATA / "benchmarks"
  if not path.is_dir():
    pytest.skip(f"benchmark data not found at {path} (only CI and dev machines have ../shared)")
  return path
