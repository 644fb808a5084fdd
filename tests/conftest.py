"""Test-session setup shared by every test module.

Eight fake CPU devices let sharding tests build real meshes; the other tests use device 0.
malloc is set up as the launchers set it (rstar_jax/runtime/host_memory.py).
absl flags are marked parsed because grain and our launch modules read them.
"""

import os

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pathlib

from absl import flags
import pytest

from rstar_jax.runtime import host_memory

host_memory.keep_freed_memory()  # As the launchers do, before JAX's first computation.
flags.FLAGS.mark_as_parsed()

SHARED_DATA = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def benchmarks_dir() -> pathlib.Path:
  """../shared/data/benchmarks beside the checkout; skipped in a user's clone that lacks it."""
  path = SHARED_DATA / "benchmarks"
  if not path.is_dir():
    pytest.skip(f"benchmark data not found at {path} (only CI and dev machines have ../shared)")
  return path
