"""Copy-on-write pre-faulting: the probe finds the pages code writes; children copy them ahead."""

import os
import subprocess
import sys
import textwrap
import time

import pytest

from rstar_jax.sandbox import Limits
from rstar_jax.sandbox import SandboxPool
from rstar_jax.sandbox import prefault

# Runs in a fresh interpreter: `probe` forks, and the test process may have JAX threads.
_PROBE_SCRIPT = textwrap.dedent("""
    import ctypes, os, re
    from rstar_jax.sandbox import prefault

    page = os.sysconf("SC_PAGE_SIZE")
    buf = bytearray(64 * page)
    for i in range(0, len(buf), page):
      buf[i] = 1  # Resident in this process before the probe forks.
    base = ctypes.addressof((ctypes.c_char * len(buf)).from_buffer(buf))
    ranges = prefault.probe("import __main__\\n"
                            "__main__.buf[10 * __main__.page] = 2\\n"
                            "__main__.buf[20 * __main__.page + 5] = 2\\n")

    def covered(address):
      return any(a <= address < a + n for a, n in ranges)

    first = -(-base // page) * page  # Page-aligned addresses inside buf.
    written = {(base + 10 * page) // page * page, (base + 20 * page + 5) // page * page}
    untouched = [first + k * page for k in range(1, 60) if first + k * page not in written]
    print(int(all(covered(a) for a in written)), sum(covered(a) for a in untouched))
    print(prefault.probe("raise ValueError('the probe failed')"))

    def private_dirty_kb():
      return int(re.search(r"Private_Dirty:\\s+(\\d+)", open("/proc/self/smaps_rollup").read())[1])

    read_fd, write_fd = os.pipe()
    if os.fork() == 0:
      before = private_dirty_kb()
      done = prefault.populate(ranges, lambda: False)
      grown = private_dirty_kb() - before
      os.write(write_fd, f"{done} {len(ranges)} {grown} {prefault.populate(ranges, lambda: True)}"
               .encode())
      os._exit(0)
    os.close(write_fd)
    print(os.read(read_fd, 100).decode())
    """)


def test_probe_finds_written_pages_and_populate_copies_them():
  proc = subprocess.run(
    [sys.executable, "-c", _PROBE_SCRIPT], capture_output=True, text=True, timeout=120, check=True
  )
  coverage, failed_probe, populated = proc.stdout.splitlines()
  if coverage == "0 0":
    pytest.skip("/proc/self/pagemap gives no exclusive-page bit here")
  # Both written pages found; of the 57 untouched pages of the buffer, none (a few may share a
  # page with an object the probe's own code touched, so allow slack).
  written_found, untouched_found = map(int, coverage.split())
  assert written_found == 1 and untouched_found <= 2, coverage
  assert failed_probe == "()"
  done, total, grown_kb, stopped_at = map(int, populated.split())
  assert (done, stopped_at) == (total, 0)
  if grown_kb == 0:
    pytest.skip("kernel without MADV_POPULATE_WRITE (Linux < 5.14)")
  assert grown_kb >= 4 * total  # At least one private page per range.


_SYMPY_FAULTS = textwrap.dedent("""
    import resource
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    from sympy import symbols, solve, Rational
    x = symbols('x')
    print(solve(3 * x - Rational(6, 5), x)[0])
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    """)


def _sympy_faults(prefault: bool) -> tuple[int, int]:
  """(page faults of a small sympy step, the pool's pre-faulted bytes per waiting child)."""
  with SandboxPool(num_workers=1, limits=Limits(timeout_s=5.0), prefault=prefault) as pool:
    pool.run("pass")
    time.sleep(0.5)  # Time enough for the waiting child to copy every page.
    result = pool.run(_SYMPY_FAULTS)
    prefault_bytes = pool.prefault_bytes
  answer, faults = result.stdout.splitlines()
  assert answer == "2/5"
  return int(faults), prefault_bytes


def test_waiting_child_takes_the_copy_on_write_faults_ahead():
  warm, prefault_bytes = _sympy_faults(prefault=True)
  if not prefault_bytes:
    pytest.skip("no pre-faulting on this kernel (pagemap or MADV_POPULATE_WRITE missing)")
  cold, no_bytes = _sympy_faults(prefault=False)
  assert no_bytes == 0
  assert warm < cold / 2, (warm, cold)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root may lift a process out of SCHED_IDLE")
def test_wake_lifts_a_waiting_child_out_of_idle_scheduling():
  """A child still copying pages when its program comes must not wait for an idle core."""
  proc = subprocess.Popen(
    [
      sys.executable,
      "-c",
      "import os, time\n"
      "os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))\n"
      "print(flush=True)\ntime.sleep(60)",
    ],
    stdout=subprocess.PIPE,
  )
  try:
    proc.stdout.readline()
    assert os.sched_getscheduler(proc.pid) == os.SCHED_IDLE
    prefault.wake(proc.pid)
    assert os.sched_getscheduler(proc.pid) == os.SCHED_OTHER
  finally:
    proc.kill()
    proc.wait()
