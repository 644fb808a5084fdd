"""What a program may read: only the Python installation and its own scratch space.

Each test plants something a program must not see (a root-only file, another user's file, the
run directory, /proc of the processes around it) and runs a program that tries to read it. The
tests that need root (to switch programs to a user id of their own, or to create files of
other users) or mounts (for the file system view) skip where those are refused.
"""

import contextlib
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import textwrap

import pytest

from rstar_jax.sandbox import ExecResult
from rstar_jax.sandbox import Limits
from rstar_jax.sandbox import SandboxPool

_LIMITS = Limits(timeout_s=10.0, memory_bytes=256 << 20)
_SECRET = "rstar-view-test-secret"
_OTHER_UID = 54_321
# The checkout, standing for where runs/ and checkpoints live.
_PROJECT = pathlib.Path(__file__).resolve().parents[1]
# A program's attempt to read `path`: prints the content, or the name of the error it met.
_TRY_READ = """
try:
  print(open({path!r}).read())
except OSError as e:
  print(type(e).__name__)
"""


@pytest.fixture(scope="module")
def pool():
  with SandboxPool(num_workers=1, limits=_LIMITS) as p:
    yield p


def _run(pool: SandboxPool, program: str) -> ExecResult:
  result = pool.run(textwrap.dedent(program))
  assert result.ok, result
  return result


def _assert_unreadable(pool: SandboxPool, path: str | pathlib.Path) -> None:
  stdout = _run(pool, _TRY_READ.format(path=str(path))).stdout
  assert _SECRET not in stdout
  assert stdout in ("PermissionError\n", "FileNotFoundError\n"), stdout


def _require_view(pool: SandboxPool) -> None:
  if not pool.isolation["view"]:
    pytest.skip("mounts are refused here: programs see the whole file system")


def _require_no_capabilities(pool: SandboxPool) -> None:
  if pool.isolation["capabilities"] != "none":
    pytest.skip(
      f"programs keep capabilities here ({pool.isolation['capabilities']}): no file system "
      "view, and the Python install is not readable without them"
    )


def _require_own_uid(pool: SandboxPool) -> None:
  if pool.isolation["uid"] is None:
    pytest.skip("programs share the caller's user id here (not root, or the switch was refused)")
  _require_no_capabilities(pool)


@contextlib.contextmanager
def _planted(parent: str | pathlib.Path, uid: int, dir_mode: int, file_mode: int):
  """A fresh directory under `parent` holding a file with the secret; removed afterwards."""
  directory = tempfile.mkdtemp(prefix=".rstar-view-test-", dir=parent)
  try:
    os.chmod(directory, dir_mode)
    path = os.path.join(directory, "secret.txt")
    with open(path, "w") as f:
      f.write(_SECRET)
    os.chmod(path, file_mode)
    os.chown(path, uid, uid)
    yield path
  finally:
    shutil.rmtree(directory)


def test_root_only_file_in_home(pool):
  """A mode-600 root file under a 0700 home, the case CAP_DAC_READ_SEARCH used to give away."""
  _require_own_uid(pool)
  with _planted(os.path.expanduser("~"), 0, 0o700, 0o600) as path:
    _assert_unreadable(pool, path)


@pytest.mark.parametrize("uid", [0, _OTHER_UID], ids=["root", "other_user"])
def test_private_file_beside_the_interpreter(pool, uid):
  """A mode-600 file where programs must see the directory: only permissions keep it out."""
  _require_own_uid(pool)
  if not os.access(sys.prefix, os.W_OK):
    pytest.skip(f"cannot plant a file in the Python install at {sys.prefix}")
  with _planted(sys.prefix, uid, 0o755, 0o600) as path:
    _assert_unreadable(pool, path)


def test_run_directory_hidden(pool):
  """World-readable run outputs in the checkout: not part of the view at all."""
  _require_view(pool)
  with _planted(_PROJECT, os.getuid(), 0o755, 0o644) as path:
    _assert_unreadable(pool, path)
    listing = _run(
      pool,
      f"""
        import os
        for d in ({os.path.dirname(path)!r}, {str(_PROJECT)!r}):
          try:
            print(sorted(os.listdir(d)))
          except OSError as e:
            print(type(e).__name__)
        """,
    ).stdout.splitlines()
  hidden = ("PermissionError", "FileNotFoundError")
  assert listing[0] in hidden, listing
  assert listing[1] in hidden or "tests" not in eval(listing[1]), listing


def test_proc_of_other_processes_hidden(pool):
  """Command lines and environments of pytest, the worker and init stay out of reach."""
  _require_view(pool)
  _require_own_uid(pool)
  worker = pool.worker_pids()[0]
  outsiders = (os.getpid(), worker, 1)
  result = _run(
    pool,
    f"""
      import os
      for pid in {outsiders!r}:
        for name in ('cmdline', 'environ', 'status'):
          try:
            open(f'/proc/{{pid}}/{{name}}', 'rb').read()
            print(pid, name, 'read')
          except OSError as e:
            print(pid, name, type(e).__name__)
      try:
        print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))
      except OSError as e:
        print(type(e).__name__)
      print(os.getpid())
      """,
  )
  *attempts, listed, own = result.stdout.splitlines()
  assert not [a for a in attempts if a.endswith(" read")], attempts
  visible = set() if listed == "FileNotFoundError" else set(eval(listed))
  assert visible <= {int(own)}, (visible, own)  # Its own process at most (an empty /proc).


def test_no_capabilities(pool):
  """No capability in any set, no_new_privs on; as root, an empty bounding set too."""
  _require_no_capabilities(pool)
  with open("/proc/sys/kernel/cap_last_cap") as f:
    last_cap = int(f.read())
  result = _run(
    pool,
    f"""
      import ctypes
      libc = ctypes.CDLL(None)
      header = (ctypes.c_uint32 * 2)(0x20080522, 0)
      sets = (ctypes.c_uint32 * 6)()
      assert libc.capget(header, sets) == 0
      print(list(sets))
      print([c for c in range({last_cap} + 1) if libc.prctl(23, c, 0, 0, 0) == 1])
      print([c for c in range({last_cap} + 1) if libc.prctl(47, 1, c, 0, 0) == 1])
      print(libc.prctl(39, 0, 0, 0, 0))
      """,
  )
  sets, bounding, ambient, no_new_privs = result.stdout.splitlines()
  assert (sets, ambient, no_new_privs) == ("[0, 0, 0, 0, 0, 0]", "[]", "1"), result.stdout
  if os.geteuid() == 0:  # Only with CAP_SETPCAP can the worker empty the bounding set.
    assert bounding == "[]", bounding


def test_cannot_leave_the_view(pool):
  """No capability to chroot again or to mount, and no user namespace to gain them in."""
  _require_view(pool)
  _require_no_capabilities(pool)
  result = _run(
    pool,
    """
      import ctypes, os
      libc = ctypes.CDLL(None, use_errno=True)
      try:
        os.chroot('/tmp')
        print('chroot')
      except OSError as e:
        print(type(e).__name__)
      print(libc.unshare(0x10000000), libc.unshare(0x00020000))  # CLONE_NEWUSER, CLONE_NEWNS
      print(libc.mount(b'none', b'/', None, 0x4000 | 1 << 18, None))  # MS_REC | MS_PRIVATE
      """,
  )
  assert result.stdout.splitlines() == ["PermissionError", "-1 -1", "-1"], result.stdout


def test_confinement_fallbacks():
  """Without a view, an installation under a 0700 directory costs CAP_DAC_READ_SEARCH."""
  if os.geteuid() != 0:
    pytest.skip("only root can run programs under a user id of their own")
  base = tempfile.mkdtemp(prefix="rstar-confine-test-")
  try:
    os.chmod(base, 0o755)
    public = os.path.join(base, "public")
    private = os.path.join(base, "home", "lib")
    os.mkdir(public)
    os.makedirs(private)
    os.chmod(os.path.dirname(private), 0o700)
    script = (  # In a fresh interpreter: the probes fork, and this process may run JAX.
      "from rstar_jax.sandbox import isolation\n"
      f"for enabled, d in ((True, {public!r}), (True, {private!r}), (False, {private!r})):\n"
      "  c = isolation.confine(enabled, None, (d,))\n"
      "  print(c.uid is not None, c.view, c.capabilities)\n"
    )
    out = subprocess.run(
      [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert out.splitlines() == [
      "True None none",
      "True None CAP_DAC_READ_SEARCH",
      "False None unchanged",
    ], out
  finally:
    shutil.rmtree(base)


def test_ordinary_programs_still_work(pool):
  """Math, lazily imported modules, a scratch file and a fresh interpreter all still work."""
  result = _run(
    pool,
    """
      import csv, fractions, math, os, subprocess, sys, time  # csv: a C extension not yet loaded
      import numpy as np
      import sympy
      from sympy.crypto.crypto import encipher_shift  # A part of sympy not pre-imported.
      x = sympy.Symbol('x')
      print(sympy.solve(x**2 - 4, x), encipher_shift('ABC', 1))
      print(math.comb(10, 3), fractions.Fraction(1, 3) + fractions.Fraction(1, 6))
      print(np.linalg.det(np.eye(3)), time.localtime().tm_year > 2000)
      with open('scratch.csv', 'w') as f:
        csv.writer(f).writerow([1, 2])
      print(open('scratch.csv').read().strip(), os.listdir('.'))
      child = subprocess.run([sys.executable, '-c', 'import math; print(math.pi)'],
                             capture_output=True, text=True, timeout=8)
      print(child.stdout.strip(), child.stderr[-300:])
      """,
  )
  assert result.stdout.splitlines() == [
    "[-2, 2] BCD",
    "120 1/2",
    "1.0 True",
    "1,2 ['scratch.csv']",
    "3.141592653589793 ",
  ], result.stdout


def test_an_installation_inside_tmp_stays_visible_over_the_private_tmpfs():
  """A virtual environment made by `mktemp -d` (as .ci/run does) lives in /tmp, which the worker
  covers with its private tmpfs: it is bound back read-only, while the rest of /tmp is gone."""
  if os.geteuid() != 0:
    pytest.skip("mount namespaces need root here")
  from rstar_jax.sandbox import isolation  # pylint: disable=g-import-not-at-top

  with tempfile.TemporaryDirectory() as tmp:
    install = pathlib.Path(tmp) / "env" / "lib"
    install.mkdir(parents=True)
    (install / "module.py").write_text("X = 1\n")
    (pathlib.Path(tmp) / "other").write_text(_SECRET)
    pid = os.fork()
    if pid == 0:  # The child moves into its own mount namespace, as a worker does.
      code = 2
      try:
        ok = isolation.private_scratch(1 << 20, keep=[str(install.parent), str(install)])
        seen = (install / "module.py").read_text() if ok else ""
        gone = not (pathlib.Path(tmp) / "other").exists()
        try:
          (install / "new").write_text("")
          read_only = False
        except OSError:
          read_only = True
        code = 0 if ok and seen == "X = 1\n" and gone and read_only else 1
      finally:
        os._exit(code)
    _, status = os.waitpid(pid, 0)
  assert os.waitstatus_to_exitcode(status) == 0
