"""Copy-on-write pre-faulting: a waiting child copies the warm pages a program will write.

A child forked from the warm worker shares the worker's heap copy-on-write. CPython writes a
reference count whenever it touches an object, so even a program that only calls sympy copies
every page of the sympy heap it passes through: about 1,400 page faults for a one-line `solve`,
half of such a step's run time on a 2-core VM. Once per worker, `probe` runs the warm-up in a
forked child and records which of the worker's resident pages it copied (the "exclusively
mapped" bit of /proc/self/pagemap). Every pre-forked child then copies those pages itself with
`madvise(MADV_POPULATE_WRITE)` while it waits for its program, and stops the moment the program
arrives: the copying happens in time that would otherwise be idle, never in a program's.
Where the kernel lacks MADV_POPULATE_WRITE (Linux < 5.14) or pagemap cannot be read, nothing is
pre-faulted and programs run as before.
"""

from collections.abc import Callable
import ctypes
import errno
import os

import numpy as np

from rstar_jax.sandbox import fdio

# (address, length in bytes) of runs of consecutive pages, in address order.
PageRanges = tuple[tuple[int, int], ...]

_MADV_POPULATE_WRITE = 23
_PAGE = os.sysconf("SC_PAGE_SIZE")
_PRESENT_BIT = np.uint64(63)
_EXCLUSIVE_BIT = np.uint64(56)
_RANGES_PER_CHECK = 32  # About 0.2 ms of copying between two looks for the program.

_libc = ctypes.CDLL(None, use_errno=True)
_libc.madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)


def _private_writable_mappings() -> list[tuple[int, int]]:
  mappings = []
  with open("/proc/self/maps") as f:
    for line in f:
      span, perms = line.split(maxsplit=2)[:2]
      if perms.startswith("rw") and perms[3] == "p":
        start, end = (int(x, 16) for x in span.split("-"))
        mappings.append((start, end))
  return mappings


def _pages_with_bit(mappings: list[tuple[int, int]], bit: np.uint64) -> np.ndarray:
  """Page numbers in `mappings` whose pagemap entry has `bit` set."""
  found = [np.zeros(0, np.int64)]
  with open("/proc/self/pagemap", "rb") as f:
    for start, end in mappings:
      first = start // _PAGE
      f.seek(first * 8)
      entries = np.frombuffer(f.read((end - start) // _PAGE * 8), dtype=np.uint64)
      found.append(first + np.flatnonzero((entries >> bit) & np.uint64(1)))
  return np.concatenate(found)


def _ranges(pages: np.ndarray) -> PageRanges:
  if not pages.size:
    return ()
  breaks = np.flatnonzero(np.diff(pages) != 1) + 1
  firsts = np.concatenate([pages[:1], pages[breaks]])
  lasts = np.concatenate([pages[breaks - 1], pages[-1:]])
  return tuple(zip((firsts * _PAGE).tolist(), ((lasts - firsts + 1) * _PAGE).tolist()))


def probe(code: str) -> PageRanges:
  """The pages of this process that running (trusted) `code` in a forked child copies."""
  mappings = _private_writable_mappings()
  try:
    resident = _pages_with_bit(mappings, _PRESENT_BIT)
  except OSError:
    return ()
  read_fd, write_fd = os.pipe()
  pid = os.fork()
  if pid == 0:
    status = 1
    try:
      os.close(read_fd)
      exec(compile(code, "<prefault probe>", "exec"), {"__name__": "__probe__"})
      copied = np.intersect1d(_pages_with_bit(mappings, _EXCLUSIVE_BIT), resident)
      fdio.write_all(write_fd, copied.astype(np.int64).tobytes())
      status = 0
    finally:
      os._exit(status)
  os.close(write_fd)
  data = fdio.read_to_eof(read_fd, 1 << 20)
  _, status = os.waitpid(pid, 0)
  if os.waitstatus_to_exitcode(status) != 0:
    return ()
  return _ranges(np.frombuffer(data, dtype=np.int64))


def _copy(ranges: PageRanges, program_arrived: Callable[[], bool]) -> int:
  for i in range(0, len(ranges), _RANGES_PER_CHECK):
    if program_arrived():
      return i
    for address, length in ranges[i : i + _RANGES_PER_CHECK]:
      if (
        _libc.madvise(address, length, _MADV_POPULATE_WRITE) != 0
        and ctypes.get_errno() == errno.EINVAL
      ):
        return i  # A kernel without MADV_POPULATE_WRITE. (Unmapped ranges just fail.)
  return len(ranges)


def _may_idle() -> bool:
  """Only root may leave SCHED_IDLE again (or lift a child out of it)."""
  return os.geteuid() == 0


def populate(ranges: PageRanges, program_arrived: Callable[[], bool]) -> int:
  """Copies the pages of `ranges` into this process until done or the program arrives.

  Runs under SCHED_IDLE where this process may come back from it (as root), so the copying
  only uses a core nobody else wants. Returns the number of ranges copied.
  """
  if not ranges:
    return 0
  idle = _may_idle()
  if idle:
    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
  try:
    return _copy(ranges, program_arrived)
  finally:
    if idle:
      os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))


def wake(pid: int) -> None:
  """Puts a waiting child back on normal scheduling as its program is sent.

  A child copying pages at SCHED_IDLE on a machine busy with other work gets almost no CPU, so
  it would only notice its program late; the sender lifts it first.
  """
  if not _may_idle():
    return
  try:
    os.sched_setscheduler(pid, os.SCHED_OTHER, os.sched_param(0))
  except OSError:
    pass  # The child is gone; the worker finds out when it supervises it.
