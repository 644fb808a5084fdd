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
  which makes file permissions, `kill` and RLIMIT_NPROC bind it. Otherwise programs keep the
  worker's user id and only the audit-hook path guard protects the file system.
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

# Directories anyone may write to; in the private mount namespace each becomes a fresh tmpfs.
SCRATCH_DIRS = ("/tmp", "/var/tmp", "/dev/shm")
_TMPFS_SIZE = "size=256m"
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


def private_scratch() -> bool:
  """Mounts private tmpfs over the world-writable directories; False where not permitted."""
  if not _unshare(_CLONE_NEWNS):
    return False
  if _libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
    return False
  for path in SCRATCH_DIRS:
    if not os.path.isdir(path):
      continue
    rc = _libc.mount(b"tmpfs", path.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV,
                     f"{_TMPFS_SIZE},mode=1777".encode())
    if rc != 0:
      return False
  return True


def become_subreaper() -> None:
  """Orphaned descendants of programs re-parent to the worker, which then finds and reaps them."""
  _libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def program_uid(enabled: bool) -> int | None:
  """The user id programs run under, or None where the worker cannot switch user ids."""
  if not enabled or os.geteuid() != 0:
    return None
  uid = _UID_BASE + os.getpid()
  pid = os.fork()
  if pid == 0:  # Probe: a user namespace may not map this id.
    try:
      os.setgid(uid)
      os.setuid(uid)
    except OSError:
      os._exit(1)
    os._exit(0)
  _, status = os.waitpid(pid, 0)
  return uid if os.waitstatus_to_exitcode(status) == 0 else None


def drop_privileges(uid: int) -> None:
  os.setgroups([])
  os.setgid(uid)
  os.setuid(uid)
