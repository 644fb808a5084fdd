"""host_memory: XLA:CPU's per-execution temporary buffer is reused instead of faulted in again."""

import os
import subprocess
import sys

import pytest

from rstar_jax.runtime import host_memory

RUNS = 40
# A jitted function whose 64 MiB intermediate (exp(x), consumed by a matmul) lives in XLA's
# temporary buffer; prints how many of its executions faulted at least half of that buffer in.
_PROBE = f"""
import resource
from rstar_jax.runtime import host_memory
print(host_memory.keep_freed_memory())
import jax, jax.numpy as jnp
x = jnp.full((8192, 2048), 0.01, jnp.float32)
w = jnp.ones((2048, 8), jnp.float32)
f = jax.jit(lambda x, w: jnp.exp(x) @ w)
f(x, w).block_until_ready()
faulting = 0
for _ in range({RUNS}):
  before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
  f(x, w).block_until_ready()
  faulting += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before > 8192 * 2048 * 2 // 4096
print(faulting)
"""


def _run_python(code: str, *, opt_out: bool, timeout_s: float) -> subprocess.CompletedProcess:
  """`code` in a fresh one-device CPU interpreter, with or without the opt-out variable."""
  env = {**os.environ, "JAX_PLATFORMS": "cpu", "XLA_FLAGS": ""}
  env.pop(host_memory.OPT_OUT_ENV, None)
  if opt_out:
    env[host_memory.OPT_OUT_ENV] = "1"
  return subprocess.run(
    [sys.executable, "-c", code],
    env=env,
    capture_output=True,
    text=True,
    timeout=timeout_s,
    check=True,
  )


def _faulting_runs(opt_out: bool) -> tuple[bool, int]:
  applied, faulting = _run_python(_PROBE, opt_out=opt_out, timeout_s=300).stdout.split()
  return applied == "True", int(faulting)


@pytest.mark.skipif(not host_memory.supported(), reason="the settings are glibc mallopt parameters")
def test_temporary_buffer_is_reused_instead_of_faulted_in_again():
  default_applied, default_faulting = _faulting_runs(opt_out=True)
  applied, faulting = _faulting_runs(opt_out=False)
  assert not default_applied and applied
  assert default_faulting >= RUNS - 2  # glibc's defaults: a fresh mmap for every execution.
  # Reused from the heap; a few early executions may still grow it while the previous
  # execution's buffer is being freed.
  assert faulting <= RUNS // 2


@pytest.mark.skipif(not host_memory.supported(), reason="the settings are glibc mallopt parameters")
def test_warns_when_called_after_jax_started():
  late = (
    "import jax; jax.devices()\n"
    "from rstar_jax.runtime import host_memory; print(host_memory.keep_freed_memory())"
  )
  run = _run_python(late, opt_out=False, timeout_s=120)
  assert run.stdout.split() == ["True"]
  assert "after JAX started its backend" in run.stderr
