"""OS-level isolation the warm worker sets up once, with the fallback for each piece.

- Network: the worker moves into a new network namespace (`unshare(CLONE_NEWNET)`, root or
  CAP_SYS_ADMIN), else into a new user + network namespace (unprivileged user namespaces); every
  program forked from it inherits a namespace with no usable interface. Where both are refused
  the programs get an audit hook that raises PermissionError on socket use (best effort: code
  that calls libc through ctypes goes around it).
- Scratch space: the worker moves into a private mount namespace and mounts small tmpfs file
  systems over /tmp, /var/tmp and /dev/shm, so a program writing there (world-writable even for
  an unprivileged user) writes into the worker's private, size-bounded space, wiped after every
  program. Where mounts are refused the programs' work directories live in the real temp dir.
- Identity: started as root, each program runs under a user id of its own (see `program_uid`),
  which makes file permissions, `kill`, /proc and RLIMIT_NPROC bind it. It keeps exactly one
  capability, CAP_DAC_READ_SEARCH, so that it can still read the Python installation wherever
  that lives (e.g. a pyenv under a 0700 /root), and sets no_new_privs so set-uid binaries cannot
  give root back. Where any of this is refused, programs keep the worker's user id and only the
  audit hook (`guard`) keeps their files, signals and sockets in bounds.
"""

import ctypes
import os

_CLONE_NEWNS = 0x00020000
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000
_MS_REC = 0x4000
_MS_PRIVATE = 1 << 18
_MS_NOSUID = 0x2
_MS_NODEV = 0x4
_PR_SET_CHILD_SUBREAPER = 36
_PR_SET_KEEPCAPS = 8
_PR_SET_NO_NEW_PRIVS = 38
_CAP_DAC_READ_SEARCH = 2
_LINUX_CAPABILITY_VERSION_3 = 0x20080522

# Directories anyone may write to; in the private mount namespace each becomes a fresh tmpfs.
SCRATCH_DIRS = ("/tmp", "/var/tmp", "/dev/shm")
# Program user ids: a fixed base plus the worker's pid, unique among live workers on the host.
_UID_BASE = 1_500_000_000

_libc = ctypes.CDLL(None, use_errno=True)


def _unshare(flags: int) -> bool:
  return _libc.unshare(flags) == 0


def isolate_network() -> str:
  """Moves the calling process into a network namespace; returns the method that worked."""
  if _unshare(_CLONE_NEWNET):
    return "netns"
  uid, gid = os.getuid(), os.getgid()
  if _unshare(_CLONE_NEWUSER | _CLONE_NEWNET):
    with open("/proc/self/setgroups", "w") as f:
      f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
      f.write(f"{uid} {uid} 1")
    with open("/proc/self/gid_map", "w") as f:
      f.write(f"{gid} {gid} 1")
    return "userns+netns"
  return "audit_hook"


def private_scratch(size_bytes: int) -> bool:
  """Mounts private tmpfs over the world-writable directories; False where not permitted."""
  if not _unshare(_CLONE_NEWNS):
    return False
  if _libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
    return False
  for path in SCRATCH_DIRS:
    if not os.path.isdir(path):
      continue
    rc = _libc.mount(
      b"tmpfs",
      path.encode(),
      b"tmpfs",
      _MS_NOSUID | _MS_NODEV,
      f"size={size_bytes},mode=1777".encode(),
    )
    if rc != 0:
      return False
  return True


def become_subreaper() -> None:
  """Orphaned descendants of programs re-parent to the worker, which then finds and reaps them."""
  _libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


class _CapHeader(ctypes.Structure):
  _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
  _fields_ = [
    ("effective", ctypes.c_uint32),
    ("permitted", ctypes.c_uint32),
    ("inheritable", ctypes.c_uint32),
  ]


def program_uid(enabled: bool, must_read: tuple[str, ...]) -> int | None:
  """The user id programs run under, or None where the worker cannot switch to it.

  A forked probe drops privileges exactly as a program would and checks that the directories in
  `must_read` (the Python installation) stay readable; a user namespace may also not map the id.
  """
  if not enabled or os.geteuid() != 0:
    return None
  uid = _UID_BASE + os.getpid()
  pid = os.fork()
  if pid == 0:
    try:
      drop_privileges(uid)
      for d in must_read:
        os.listdir(d)  # Not os.access: it checks the real uid without capabilities.
      ok = True
    except OSError:
      ok = False
    os._exit(0 if ok else 1)
  _, status = os.waitpid(pid, 0)
  return uid if os.waitstatus_to_exitcode(status) == 0 else None


def drop_privileges(uid: int) -> None:
  """Switches to `uid`, keeping only CAP_DAC_READ_SEARCH; raises OSError when refused."""
  if _libc.prctl(_PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0:
    raise OSError(ctypes.get_errno(), "prctl(PR_SET_KEEPCAPS) failed")
  os.setgroups([])
  os.setgid(uid)
  os.setuid(uid)
  header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
  keep = 1 << _CAP_DAC_READ_SEARCH
  data = (_CapData * 2)(_CapData(keep, keep, 0), _CapData(0, 0, 0))
  if _libc.capset(ctypes.byref(header), data) != 0:
    raise OSError(ctypes.get_errno(), "capset failed")
  if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
    raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
