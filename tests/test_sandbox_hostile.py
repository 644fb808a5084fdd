"""Hostile programs: each is contained, reported as the right failure, and leaves nothing behind.

After every case the pool must still answer correctly and no process other than the workers
and their one pre-forked child each may remain (checked with psutil, by process tree and by the
programs' user id).
"""

import os
import signal
import textwrap
import time

import psutil
import pytest

from rstar_jax.sandbox import Limits
from rstar_jax.sandbox import SandboxPool

_LIMITS = Limits(
  timeout_s=1.5,
  memory_bytes=256 << 20,
  max_output_bytes=256 << 10,
  file_size_bytes=1 << 20,
  scratch_bytes=8 << 20,
  max_processes=16,
)
_SECRET = "RSTAR_SANDBOX_TEST_SECRET"


@pytest.fixture(scope="module")
def pool():
  os.environ[_SECRET] = "hunter2"
  try:
    with SandboxPool(num_workers=2, limits=_LIMITS) as p:
      yield p
  finally:
    del os.environ[_SECRET]


def _alive(p: psutil.Process) -> bool:
  try:
    return p.status() != psutil.STATUS_ZOMBIE
  except psutil.NoSuchProcess:
    return False


def _stray_processes(pool: SandboxPool) -> list[psutil.Process]:
  """Processes beyond each worker's single pre-forked child."""
  stray = []
  uid = pool.isolation["uid"]
  for pid in pool.worker_pids():
    waiting = [p for p in psutil.Process(pid).children(recursive=True) if _alive(p)]
    if len(waiting) > 1:
      stray += waiting
  if uid is not None:  # Escapees out of the tree would still run under a program uid.
    uids = {pool.isolation["uid"] - pool.worker_pids()[0] + pid for pid in pool.worker_pids()}
    owned = [
      p
      for p in psutil.process_iter(["uids"])
      if p.info["uids"] and p.info["uids"].real in uids and _alive(p)
    ]
    if len(owned) > len(uids):
      stray += owned
  return stray


def _assert_clean_and_healthy(pool: SandboxPool) -> None:
  health = pool.run_many(["print(6 * 7)"] * 4)  # Reaches both workers.
  assert all(r.ok and r.stdout == "42\n" for r in health), health
  stray = _stray_processes(pool)
  for _ in range(50):  # An exiting child may take a moment to be reaped.
    if not stray:
      break
    time.sleep(0.05)
    stray = _stray_processes(pool)
  assert not stray, [(p.pid, p.cmdline()) for p in stray]


def _run(pool: SandboxPool, program: str):
  result = pool.run(textwrap.dedent(program))
  assert not result.ok or result.error_type is None
  return result


CASES = {
  "infinite_loop": ("while True:\n  pass\n", "Timeout", "timeout"),
  "sleep_past_timeout": ("import time\ntime.sleep(60)\n", "Timeout", "timeout"),
  "regex_backtracking_in_c": (
    "import re\nre.match(r'(a+)+$', 'a' * 64 + 'b')\n",
    "Timeout",
    "timeout",
  ),
  "huge_sympy_factorisation": (
    "import sympy\nsympy.factorint(sympy.nextprime(10**40) * sympy.nextprime(10**41))\n",
    "Timeout",
    "timeout",
  ),
  "memory_bomb_bytes": ("x = bytearray(8 << 30)\n", "MemoryError", "memory"),
  "memory_bomb_growing_list": (
    "xs = []\nwhile True:\n  xs.append(' ' * (1 << 20))\n",
    "MemoryError",
    "memory",
  ),
  "recursion_bomb": ("def f(n):\n  return f(n + 1)\nf(0)\n", "RecursionError", None),
  "sys_exit": ("import sys\nsys.exit(3)\n", "SystemExit", None),
  "os_exit": ("import os\nos._exit(0)\n", "Exit", None),
  "segfault_via_ctypes": ("import ctypes\nctypes.string_at(0)\n", "Killed", None),
  "stack_overflow_in_c": (
    "import sys\nsys.setrecursionlimit(10**8)\nx = []\n"
    "for _ in range(10**6):\n  x = [x]\nimport pickle\npickle.dumps(x)\n",
    "Killed",
    None,
  ),
  "ignores_sigterm": (
    "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n  pass\n",
    "Timeout",
    "timeout",
  ),
  "exec_other_binary": (
    "import os\nos.execv('/bin/sleep', ['sleep', '60'])\n",
    "Timeout",
    "timeout",
  ),
  "kills_own_group": ("import os, signal\nos.killpg(0, signal.SIGKILL)\n", "Killed", None),
  "fill_disk": (
    "with open('big.bin', 'wb') as f:\n  while True:\n    f.write(b'0' * (1 << 20))\n",
    "OSError",
    "file_size",
  ),
  "hundred_mb_output": (
    "import sys\nfor _ in range(100):\n  sys.stdout.write('x' * (1 << 20))\n",
    "OutputLimit",
    "output",
  ),
  "close_stdout_fd": ("import os\nos.close(1)\nprint('lost')\n", "OSError", None),
  "close_sys_stdout": ("import sys\nsys.stdout.close()\nprint('lost')\n", "ValueError", None),
  "read_stdin": ("input()\n", "EOFError", None),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_contained_failure(pool, name):
  program, error_type, limit_hit = CASES[name]
  result = _run(pool, program)
  assert not result.ok
  assert result.error_type == error_type, result
  assert result.limit_hit == limit_hit, result
  assert len(result.stdout) <= 2 * _LIMITS.output_keep_chars + 5
  _assert_clean_and_healthy(pool)


def test_fill_disk_with_many_files(pool):
  if not pool.isolation["private_scratch"]:
    pytest.skip("no private tmpfs here: only single files are bounded")
  result = _run(
    pool,
    """
      i = 0
      while True:
        with open(f'part{i}.bin', 'wb') as f:
          f.write(b'0' * (1 << 20))
        i += 1
      """,
  )
  assert result.error_type == "OSError" and "No space left" in result.error_message, result
  _assert_clean_and_healthy(pool)


def test_fork_bomb(pool):
  result = _run(pool, "import os\nwhile True:\n  os.fork()\n")
  assert not result.ok
  if pool.isolation["uid"] is not None:  # RLIMIT_NPROC binds only under a program uid.
    assert (result.error_type, result.limit_hit) == ("BlockingIOError", "processes"), result
  _assert_clean_and_healthy(pool)


@pytest.mark.parametrize(
  "program",
  [
    "import os\nos.system('sleep 60 &')\nprint('started')\n",
    "import subprocess\nsubprocess.Popen(['sleep', '60'], start_new_session=True)\n"
    "print('started')\n",
    "import os, time\nif os.fork() == 0:\n  os.setsid()\n  if os.fork() == 0:\n"
    "    time.sleep(60)\n  os._exit(0)\nprint('started')\n",
  ],
  ids=["os_system_background", "subprocess_new_session", "double_fork_setsid"],
)
def test_spawned_processes_are_killed(pool, program):
  result = _run(pool, program)
  assert result.ok and result.stdout == "started\n", result
  _assert_clean_and_healthy(pool)


def test_threads_left_running(pool):
  result = _run(
    pool,
    """
      import threading, time
      def spin():
        while True:
          time.sleep(0.01)
      threading.Thread(target=spin).start()
      print('main done')
      """,
  )
  assert result.ok and result.stdout == "main done\n", result
  _assert_clean_and_healthy(pool)


def test_write_outside_workdir(pool, tmp_path):
  target = tmp_path / "escaped.txt"
  for program in (
    f"open({str(target)!r}, 'w').write('x')\n",
    "open('/tmp/rstar_sandbox_escape.txt', 'w').write('x')\n",
    "import os\nos.mkdir('../escape')\n",
  ):
    result = _run(pool, program)
    assert result.error_type == "PermissionError", result
  assert not target.exists()
  assert not os.path.exists("/tmp/rstar_sandbox_escape.txt")
  _assert_clean_and_healthy(pool)


def test_delete_files_outside_workdir(pool, tmp_path):
  victim = tmp_path / "keep.txt"
  victim.write_text("keep")
  result = _run(pool, f"import os\nos.remove({str(victim)!r})\n")
  assert result.error_type == "PermissionError", result
  result = _run(pool, "import shutil\nshutil.rmtree('..')\n")
  assert result.error_type == "PermissionError", result
  assert victim.read_text() == "keep"
  _assert_clean_and_healthy(pool)


def test_environment_is_scrubbed(pool):
  result = _run(
    pool,
    f"""
      import os
      print({_SECRET!r} in os.environ)
      try:
        leaked = {_SECRET!r}.encode() in open(f'/proc/{os.getpid()}/environ', 'rb').read()
      except OSError as e:
        leaked = type(e).__name__
      print(leaked)
      """,
  )
  assert result.ok, result
  visible, leaked = result.stdout.split()
  assert visible == "False"
  assert leaked in ("False", "PermissionError", "FileNotFoundError")  # The view hides the pid.
  if pool.isolation["uid"] is not None:
    assert leaked != "False"
  _assert_clean_and_healthy(pool)


def test_network_is_unreachable(pool):
  for program in (
    "import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=1)\n",
    "import socket\nsocket.getaddrinfo('pypi.org', 443)\n",
  ):
    result = _run(pool, program)
    assert not result.ok
    assert result.error_type in ("OSError", "gaierror", "PermissionError", "TimeoutError"), result
  _assert_clean_and_healthy(pool)


def test_signals_to_other_processes(pool):
  if pool.isolation["uid"] is None:
    pytest.skip("programs share the caller's uid here; they could signal it")
  for target in ("os.getppid()", str(os.getpid()), "1"):
    result = _run(pool, f"import os, signal\nos.kill({target}, signal.SIGKILL)\n")
    assert result.error_type == "PermissionError", result
  _assert_clean_and_healthy(pool)


def test_working_directory_changes_do_not_persist(pool):
  result = _run(pool, "import os\nos.chdir('/')\nprint(os.getcwd())\n")
  assert result.ok and result.stdout == "/\n"
  results = pool.run_many(["import os\nprint(os.getcwd())\n"] * 4)
  cwds = [r.stdout.strip() for r in results]
  assert all(c != "/" for c in cwds) and len(set(cwds)) == len(cwds)
  _assert_clean_and_healthy(pool)


def test_worker_killed_from_outside_is_replaced(pool):
  old = pool.worker_pids()
  os.kill(old[0], signal.SIGKILL)
  results = pool.run_many(["print(1)"] * 4)
  assert all(r.ok for r in results), results
  assert pool.worker_pids()[0] != old[0]
  _assert_clean_and_healthy(pool)


def test_hostile_batch_in_parallel(pool):
  programs = [CASES[name][0] for name in sorted(CASES)] + ["print('fine')"]
  results = pool.run_many(programs)
  for name, result in zip(sorted(CASES), results):
    assert result.error_type == CASES[name][1], (name, result)
  assert results[-1].stdout == "fine\n"
  _assert_clean_and_healthy(pool)


def test_close_leaves_no_process():
  pool = SandboxPool(num_workers=2, limits=_LIMITS)
  pool.run_many(["import subprocess\nsubprocess.Popen(['sleep', '60'])\n"] * 2)
  tree = [psutil.Process(pid) for pid in pool.worker_pids()]
  tree += [c for p in list(tree) for c in p.children(recursive=True)]
  pool.close()
  pool.close()
  time.sleep(0.2)
  assert not [p for p in tree if _alive(p)]
  with pytest.raises(RuntimeError, match="closed"):
    pool.run("print(1)")
