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
- File system view (`build_view`): in that namespace the worker also builds a root directory
  holding only what programs need: the Python installation and the system's libraries bound
  read-only at their usual paths (with 0755 directories above them, so a 0700 home on the way
  no longer matters), a few devices, the scratch directories and a procfs of its own in which a
  process sees only processes it could trace (in practice its own). Each program's child
  chroots into it before dropping its capabilities (so it cannot chroot again, and the kernel
  refuses new user namespaces to a chrooted process): the checkout, run directories, home
  directories and everything else do not exist for the program. Where the kernel refuses the
  procfs (a user namespace without a PID namespace, Linux < 5.8) /proc is left empty; where
  mounts are refused altogether the program sees the whole file system, and only its user id
  and missing capabilities keep other files out of reach.
- Identity (`confine`): started as root, each program runs under a user id of its own (see
  `Confinement`), which makes file permissions, `kill`, /proc and RLIMIT_NPROC bind it, with no
  capability at all (bounding set emptied too) and no_new_privs, so set-uid binaries and file
  capabilities cannot give any back. A forked probe checks that the program can still read the
  Python installation. Fallbacks, strongest first: without the view (the installation must then
  be world-readable); without the view and keeping CAP_DAC_READ_SEARCH (an installation under a
  0700 directory such as a pyenv in /root: the program can then read every file, as it could
  before the view existed); the worker's own user id without capabilities (an unprivileged
  worker: in a user namespace the capabilities it dropped are those it had there). Where even
  that fails programs keep the worker's identity, and only the audit hook (`guard`) keeps their
  files, signals and sockets in bounds.
"""

import collections.abc
import ctypes
import dataclasses
import os

_CLONE_NEWNS = 0x00020000
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000
_MS_RDONLY = 0x1
_MS_NOSUID = 0x2
_MS_NODEV = 0x4
_MS_NOEXEC = 0x8
_MS_REMOUNT = 0x20
_MS_BIND = 0x1000
_MS_REC = 0x4000
_MS_PRIVATE = 1 << 18
_MNT_DETACH = 2
# Flags a read-only remount of a bind mount must carry over (a user namespace locks them).
_KEPT_MOUNT_FLAGS = os.ST_NOEXEC | os.ST_NOATIME | os.ST_NODIRATIME | os.ST_RELATIME
_PR_SET_KEEPCAPS = 8
_PR_CAPBSET_DROP = 24
_PR_SET_CHILD_SUBREAPER = 36
_PR_SET_NO_NEW_PRIVS = 38
_CAP_DAC_READ_SEARCH = 2
_MAX_CAPS = 64
_LINUX_CAPABILITY_VERSION_3 = 0x20080522

# Directories anyone may write to; in the private mount namespace each becomes a fresh tmpfs.
SCRATCH_DIRS = ("/tmp", "/var/tmp", "/dev/shm")
# Program user ids: a fixed base plus the worker's pid, unique among live workers on the host.
_UID_BASE = 1_500_000_000
# Read-only in every view: shared libraries and tools (/bin/sh for os.system), the dynamic
# loader's cache, the time zone. Symbolic links among them are copied, missing ones skipped.
_SYSTEM_PATHS = (
  "/usr",
  "/bin",
  "/sbin",
  "/lib",
  "/lib32",
  "/lib64",
  "/libx32",
  "/etc/ld.so.cache",
  "/etc/localtime",
)
_DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
_DEVICE_LINKS = {
  "/dev/fd": "/proc/self/fd",
  "/dev/stdin": "/proc/self/fd/0",
  "/dev/stdout": "/proc/self/fd/1",
  "/dev/stderr": "/proc/self/fd/2",
}
# A procfs instance of the view's own (Linux >= 5.8): only processes a program could ptrace
# (in practice itself), and none of the system-wide files.
_PROC_OPTIONS = "hidepid=invisible,subset=pid"
# What `build_view` reports.
VIEW_WITH_PROC = "own /proc"
VIEW_WITHOUT_PROC = "no /proc"

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = (
  ctypes.c_char_p,
  ctypes.c_char_p,
  ctypes.c_char_p,
  ctypes.c_ulong,
  ctypes.c_char_p,
)


def _unshare(flags: int) -> bool:
  return _libc.unshare(flags) == 0


def _mount(
  source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None
) -> None:
  def enc(s: str | None) -> bytes | None:
    return None if s is None else s.encode()

  if _libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)) != 0:
    errno = ctypes.get_errno()
    raise OSError(errno, f"mount on {target}: {os.strerror(errno)}")


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


def private_scratch(size_bytes: int, keep: collections.abc.Iterable[str] = ()) -> bool:
  """Mounts private tmpfs over the world-writable directories; False where not permitted.

  Directories of `keep` (the Python installation) that lie in one of them, e.g. a virtual
  environment made by `mktemp -d`, are bound back read-only at their paths on top of the tmpfs:
  the worker still imports from them, and the view can hold them.
  """
  if not _unshare(_CLONE_NEWNS):
    return False
  kept = _under_scratch(keep)
  handles = {path: os.open(path, os.O_PATH | os.O_DIRECTORY) for path in kept}
  try:
    _mount("none", "/", None, _MS_REC | _MS_PRIVATE)
    for path in SCRATCH_DIRS:
      if os.path.isdir(path):
        _mount("tmpfs", path, "tmpfs", _MS_NOSUID | _MS_NODEV, f"size={size_bytes},mode=1777")
    for path, fd in handles.items():
      _make_passable(path)
      _bind(f"/proc/self/fd/{fd}", path, recursive=True, read_only=True)
  except OSError:
    return False
  finally:
    for fd in handles.values():
      os.close(fd)
  return True


def _make_passable(path: str) -> None:
  """Creates `path` and its missing parents 0755 whatever the umask: programs pass through."""
  parent = os.path.dirname(path)
  if not os.path.isdir(parent):
    _make_passable(parent)
  if not os.path.isdir(path):
    os.mkdir(path)
    os.chmod(path, 0o755)


def _under_scratch(paths: collections.abc.Iterable[str]) -> list[str]:
  """The existing directories of `paths` inside a scratch directory, none inside another."""
  inside = sorted(
    {
      os.path.realpath(p)
      for p in paths
      if os.path.isdir(p) and any(os.path.realpath(p).startswith(d + "/") for d in SCRATCH_DIRS)
    }
  )
  return [p for i, p in enumerate(inside) if not any(p.startswith(q + "/") for q in inside[:i])]


def build_view(root: str, install: collections.abc.Iterable[str]) -> str | None:
  """Builds the file system programs see at `root`, an empty directory in the private namespace.

  `install` are the directories of the Python installation. The scratch directories are bound
  without their submounts, so `root` may lie inside one. Returns VIEW_WITH_PROC or
  VIEW_WITHOUT_PROC (a procfs of its own was refused: programs see an empty /proc), or None
  where a mount was refused; nothing stays mounted then.
  """
  try:
    _mount("tmpfs", root, "tmpfs", _MS_NOSUID | _MS_NODEV, "size=1m,mode=755")
  except OSError:
    return None
  try:
    kind = _populate_view(root, install)
    _mount(None, root, None, _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NODEV)
  except OSError:
    _libc.umount2(root.encode(), _MNT_DETACH)
    return None
  return kind


def _populate_view(root: str, install: collections.abc.Iterable[str]) -> str:
  # The scratch directories first: an installation inside one is bound on top of it.
  for path in _DEVICES + SCRATCH_DIRS:
    if os.path.exists(path) and _mount_point(root, path, os.path.isdir(path)):
      _bind(path, root + path, recursive=False, read_only=False)
  read_only = set()
  for path in _SYSTEM_PATHS:
    if os.path.islink(path):
      if _mount_point(root, os.path.dirname(path), is_dir=True):
        os.symlink(os.readlink(path), root + path)
    elif os.path.exists(path):
      read_only.add(path)
  for path in install:  # The path as imports name it and the one the links lead to.
    read_only.update((os.path.abspath(path), os.path.realpath(path)))
  bound: list[str] = []
  for path in sorted(read_only):  # Parents before their children, which they already hold.
    if any(path.startswith(b + "/") for b in bound) or path == "/" or not os.path.exists(path):
      continue
    if _mount_point(root, path, os.path.isdir(path)):
      _bind(path, root + path, recursive=True, read_only=True)
      bound.append(path)
  _mount_point(root, "/dev", is_dir=True)
  for link, target in _DEVICE_LINKS.items():
    os.symlink(target, root + link)
  _mount_point(root, "/proc", is_dir=True)
  try:
    _mount("proc", root + "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, _PROC_OPTIONS)
  except OSError:
    return VIEW_WITHOUT_PROC
  return VIEW_WITH_PROC


def _mount_point(root: str, path: str, is_dir: bool) -> bool:
  """Creates `root + path` (and 0755 parents); False where a link in the view already leads on."""
  current = root
  for part in filter(None, path.split("/")):
    current = os.path.join(current, part)
    if os.path.islink(current):
      return False  # The view resolves it as the host does, to a path bound on its own.
    if os.path.exists(current):
      continue
    if current != root + path or is_dir:
      os.mkdir(current)
      os.chmod(current, 0o755)  # Whatever the umask: programs must pass through.
    else:
      os.close(os.open(current, os.O_CREAT | os.O_WRONLY, 0o644))
  return True


def _bind(source: str, target: str, recursive: bool, read_only: bool) -> None:
  _mount(source, target, None, _MS_BIND | (_MS_REC if recursive else 0))
  if read_only:
    kept = os.statvfs(target).f_flag & _KEPT_MOUNT_FLAGS
    flags = _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _MS_NOSUID | _MS_NODEV | kept
    _mount(None, target, None, flags)


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


@dataclasses.dataclass(frozen=True)
class Confinement:
  """How every program of a worker is confined, decided once by `confine`.

  Attributes:
    view: the root of the file system view the program chroots into; None: the worker's view.
    uid: the user id the program runs under; None: the worker's.
    drop_capabilities: the program leaves with no capability and no_new_privs set.
    keep_read_search: the one exception, CAP_DAC_READ_SEARCH, kept where only it makes the
      Python installation readable.
  """

  view: str | None
  uid: int | None
  drop_capabilities: bool
  keep_read_search: bool = False

  @property
  def capabilities(self) -> str:
    """What the program keeps, in words (for the worker's description)."""
    if not self.drop_capabilities:
      return "unchanged"
    return "CAP_DAC_READ_SEARCH" if self.keep_read_search else "none"

  def apply(self) -> None:
    """Confines the calling process (a program's child); raises OSError when refused."""
    if self.view is not None:
      os.chroot(self.view)  # Root with CAP_SYS_CHROOT still; a chroot also bars new user ns.
      os.chdir("/")
    if self.drop_capabilities:
      drop_privileges(self.uid, self.keep_read_search)


def confine(enabled: bool, view: str | None, must_read: tuple[str, ...]) -> Confinement:
  """The strongest confinement (see the module docstring) under which `must_read` stays readable.

  With `enabled` off programs keep the worker's identity and capabilities. Each candidate is
  applied, exactly as a program's child applies it, in a forked probe that lists `must_read`
  (the Python installation's directories).
  """
  views = (view, None) if view is not None else (None,)
  candidates = []
  if enabled and os.geteuid() == 0:
    uid = _UID_BASE + os.getpid()
    candidates += [Confinement(v, uid, True) for v in views]
    candidates.append(Confinement(None, uid, True, keep_read_search=True))
  candidates += [Confinement(v, None, enabled) for v in views]
  for candidate in candidates:
    if _probe(candidate, must_read):
      return candidate
  return Confinement(None, None, False)


def _probe(confinement: Confinement, must_read: tuple[str, ...]) -> bool:
  pid = os.fork()
  if pid == 0:
    ok = False
    try:
      confinement.apply()
      for d in must_read:
        os.listdir(d)  # Not os.access: it checks the real uid without capabilities.
      ok = True
    finally:
      os._exit(0 if ok else 1)
  _, status = os.waitpid(pid, 0)
  return os.waitstatus_to_exitcode(status) == 0


def drop_privileges(uid: int | None, keep_read_search: bool = False) -> None:
  """Switches to `uid` (unless None) with no capability left, or only CAP_DAC_READ_SEARCH.

  The bounding set is emptied too where CAP_SETPCAP allows it (root, or any user in its own
  user namespace), so that not even a binary executed as uid 0 gets capabilities back; the
  ambient set follows the inheritable one, which becomes empty. Raises OSError when refused.
  """
  keep = 1 << _CAP_DAC_READ_SEARCH if keep_read_search else 0
  for cap in range(_MAX_CAPS):
    if not (keep >> cap) & 1 and _libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
      break  # EINVAL past the last capability; EPERM without CAP_SETPCAP (not root).
  if uid is not None:
    if keep and _libc.prctl(_PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0:
      raise OSError(ctypes.get_errno(), "prctl(PR_SET_KEEPCAPS) failed")
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
  header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
  data = (_CapData * 2)(_CapData(keep, keep, 0), _CapData(0, 0, 0))
  if _libc.capset(ctypes.byref(header), data) != 0:
    raise OSError(ctypes.get_errno(), "capset failed")
  if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
    raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
