"""Per-program limits and the result record of one sandboxed execution."""

import dataclasses
import math

# Values of `ExecResult.limit_hit`.
TIMEOUT = "timeout"
CPU = "cpu"
MEMORY = "memory"
OUTPUT = "output"
FILE_SIZE = "file_size"
PROCESSES = "processes"


@dataclasses.dataclass(frozen=True)
class Limits:
  """Resource limits applied to every program (not to the warm worker).

  Attributes:
    timeout_s: wall-clock limit; the program's whole process tree is killed when it passes.
    cpu_time_s: CPU-seconds limit (RLIMIT_CPU); None means ceil(timeout_s) + 1, so the wall
      clock normally decides and the CPU limit only backs it up.
    memory_bytes: address space the program may add on top of the warm worker's image
      (RLIMIT_AS is set to the worker's current size plus this), so the limit means the same
      whatever libraries are pre-imported.
    max_output_bytes: stdout beyond this kills the program (limit_hit 'output').
    output_keep_chars: a stdout longer than twice this keeps its first and last
      `output_keep_chars` characters around a '...' line (as the official rStar executor).
    file_size_bytes: largest file the program may write (RLIMIT_FSIZE).
    scratch_bytes: all files a program may write together: the size of the worker's private
      tmpfs holding its work directory (where the OS allows a private mount namespace; otherwise
      only `file_size_bytes` bounds each file).
    max_processes: processes and threads the program may own at once (RLIMIT_NPROC, enforced
      where the sandbox runs programs under their own user id, i.e. when started as root).
    disable_network: run programs in a private network namespace (no interfaces but loopback);
      where the OS refuses, socket use is blocked by an audit hook instead.
    drop_privileges: run programs without any capability and, when started as root, under a
      user id of its own, which makes file permissions, `kill` and RLIMIT_NPROC apply to them.
  """

  timeout_s: float = 10.0
  cpu_time_s: float | None = None
  memory_bytes: int = 1 << 30
  max_output_bytes: int = 1 << 20
  output_keep_chars: int = 512
  file_size_bytes: int = 16 << 20
  scratch_bytes: int = 256 << 20
  max_processes: int = 32
  disable_network: bool = True
  drop_privileges: bool = True

  def __post_init__(self):
    for name in (
      "timeout_s",
      "memory_bytes",
      "max_output_bytes",
      "output_keep_chars",
      "file_size_bytes",
      "scratch_bytes",
      "max_processes",
    ):
      if not getattr(self, name) > 0:
        raise ValueError(f"Limits.{name} must be positive, got {getattr(self, name)!r}")
    if self.cpu_time_s is not None and not self.cpu_time_s > 0:
      raise ValueError(f"Limits.cpu_time_s must be positive or None, got {self.cpu_time_s!r}")

  @property
  def cpu_seconds(self) -> int:
    """Whole CPU-seconds for RLIMIT_CPU (the kernel counts in seconds)."""
    if self.cpu_time_s is None:
      return math.ceil(self.timeout_s) + 1
    return max(1, math.ceil(self.cpu_time_s))


@dataclasses.dataclass(frozen=True)
class ExecResult:
  """What one program did.

  Attributes:
    ok: the program ran to its end without an exception (SystemExit counts as a failure).
    stdout: captured standard output (head and tail only when long), also on failure.
    error_type: the exception's class name ('ZeroDivisionError', 'SyntaxError', ...), or
      'Timeout', 'OutputLimit', 'Killed' (ended by a signal: segfault, CPU limit, ...), 'Exit'
      (left via os._exit or exec without finishing), 'SandboxError' (the sandbox itself failed,
      e.g. its worker died twice on this program); None when ok.
    error_message: str() of the exception or a description of the failure; None when ok.
    elapsed_s: wall-clock time of the program, fork to exit.
    limit_hit: which limit stopped it (see the constants above), or None.
  """

  ok: bool
  stdout: str
  error_type: str | None
  error_message: str | None
  elapsed_s: float
  limit_hit: str | None
