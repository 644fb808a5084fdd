"""Sandbox correctness: captured output, typed errors, isolation between programs, assembly."""

import itertools
import signal
import textwrap
import threading

import pytest

from rstar_jax.format import prompts
from rstar_jax.format.program import assemble_program
from rstar_jax.sandbox import ExecResult
from rstar_jax.sandbox import Limits
from rstar_jax.sandbox import SandboxPool

_LIMITS = Limits(timeout_s=2.0, memory_bytes=256 << 20)


@pytest.fixture(scope="module")
def pool():
  with SandboxPool(num_workers=2, limits=_LIMITS) as p:
    yield p


def _run(pool: SandboxPool, program: str) -> ExecResult:
  return pool.run(textwrap.dedent(program))


def test_stdout_captured_exactly(pool):
  result = _run(
    pool,
    """
      print('a')
      print(1, 2, sep='-', end='!')
      print()
      print('  spaced  ', end='')
      """,
  )
  assert result == ExecResult(
    ok=True,
    stdout="a\n1-2!\n  spaced  ",
    error_type=None,
    error_message=None,
    elapsed_s=result.elapsed_s,
    limit_hit=None,
  )
  assert result.elapsed_s > 0


@pytest.mark.parametrize(
  "program,error_type,message",
  [
    ("1 / 0", "ZeroDivisionError", "division by zero"),
    ("undefined_name + 1", "NameError", "name 'undefined_name' is not defined"),
    (
      "class StepError(Exception):\n  pass\nraise StepError('custom boom')",
      "StepError",
      "custom boom",
    ),
    ("int('x')", "ValueError", "invalid literal for int() with base 10: 'x'"),
    (
      "import sympy\nx = sympy.Symbol('x')\nif x > 1:\n  pass",
      "TypeError",
      "cannot determine truth value of Relational: x > 1",
    ),
    (
      "import numpy as np\nnp.zeros(3) + np.zeros(4)",
      "ValueError",
      "operands could not be broadcast together with shapes (3,) (4,) ",
    ),
    ("def f(:\n  pass", "SyntaxError", None),
    ("if True:\nprint(1)", "IndentationError", None),
    (
      "import not_a_module_anywhere",
      "ModuleNotFoundError",
      "No module named 'not_a_module_anywhere'",
    ),
    ("raise KeyboardInterrupt", "KeyboardInterrupt", ""),
  ],
)
def test_exceptions_typed(pool, program, error_type, message):
  result = _run(pool, program)
  assert not result.ok
  assert result.error_type == error_type
  if message is not None:
    assert result.error_message == message
  assert result.limit_hit is None


def test_output_kept_on_error(pool):
  result = _run(pool, "print('before')\nraise RuntimeError('after')\n")
  assert (result.ok, result.stdout, result.error_type) == (False, "before\n", "RuntimeError")


def test_state_does_not_leak(pool):
  first = pool.run_many(
    [
      "x = 5\nimport math\nmath.pi = 3\nopen('f.txt', 'w').write('hi')\n"
      "import sys\nsys.modules['injected'] = 1\n"
    ]
    * 2
  )
  assert all(r.ok for r in first)
  after = pool.run_many(
    [
      "print(x)",
      "import math\nprint(math.pi)",
      "import os\nprint(os.listdir('.'))",
      "import injected",
    ]
    * 2
  )
  assert [r.error_type for r in after[::4]] == ["NameError"] * 2
  assert [r.stdout for r in after[1::4]] == ["3.141592653589793\n"] * 2
  assert [r.stdout for r in after[2::4]] == ["[]\n"] * 2
  assert [r.error_type for r in after[3::4]] == ["ModuleNotFoundError"] * 2


def test_unicode_output(pool):
  result = _run(pool, "print('π ≈ 3.14159 ✓ 数学 🙂')\nprint('\\ud800')\n")
  assert result.ok
  assert result.stdout == "π ≈ 3.14159 ✓ 数学 🙂\n\\ud800\n"


def test_print_sympy_objects(pool):
  result = _run(
    pool,
    """
      from sympy import *
      x = symbols('x')
      print(solve(x**2 - 2, x))
      print(Rational(1, 3) + Rational(1, 6))
      print(expand((x + 1)**3))
      print(Matrix([[1, 2], [3, 4]]).inv())
      print(sqrt(8), pi.evalf(10), factorint(360))
      """,
  )
  assert result.ok, result
  assert result.stdout.splitlines() == [
    "[-sqrt(2), sqrt(2)]",
    "1/2",
    "x**3 + 3*x**2 + 3*x + 1",
    "Matrix([[-2, 1], [3/2, -1/2]])",
    "2*sqrt(2) 3.141592654 {2: 3, 3: 2, 5: 1}",
  ]


def test_long_output_keeps_head_and_tail(pool):
  result = _run(pool, "print('a' * 600 + 'b' * 600 + 'c' * 600, end='')")
  assert result.ok
  assert result.stdout == "a" * 512 + "\n...\n" + "c" * 512


def test_run_many_preserves_order(pool):
  programs = [f"import time\ntime.sleep({(7 * i) % 5} / 500)\nprint({i})" for i in range(24)]
  programs[5] = "1 / 0"
  results = pool.run_many(programs)
  assert [r.stdout for i, r in enumerate(results) if i != 5] == [
    f"{i}\n" for i in range(24) if i != 5
  ]
  assert results[5].error_type == "ZeroDivisionError"
  assert pool.run_many([]) == []


def test_longest_idle_worker_takes_the_next_program(pool):
  """One program at a time alternates workers, so a worker's clean-up is off the critical path."""
  parents = [int(_run(pool, "import os\nprint(os.getppid())").stdout) for _ in range(6)]
  assert set(parents) == set(pool.worker_pids())
  assert all(a != b for a, b in itertools.pairwise(parents)), parents


def test_interrupted_batch_leaves_no_stale_reply():
  """A late reply of an abandoned program must never answer the next call's program."""

  def interrupt(*_):
    raise KeyboardInterrupt

  with SandboxPool(num_workers=1, limits=_LIMITS) as pool:
    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    try:
      with pytest.raises(KeyboardInterrupt):
        pool.run("import time\ntime.sleep(1)\nprint('late')")
    finally:
      signal.signal(signal.SIGALRM, previous)
    assert [r.stdout for r in pool.run_many(["print('next')", "print('after')"])] == [
      "next\n",
      "after\n",
    ]


def test_non_string_program_rejected(pool):
  with pytest.raises(TypeError, match="program 1 is bytes"):
    pool.run_many(["print(1)", b"print(2)"])


def test_sys_exit_zero_is_a_failure(pool):
  result = _run(pool, "import sys\nprint('x')\nsys.exit(0)")
  assert (result.ok, result.stdout, result.error_type) == (False, "x\n", "SystemExit")


def test_cpu_limit():
  with SandboxPool(num_workers=1, limits=Limits(timeout_s=6, cpu_time_s=1)) as pool:
    result = pool.run("while True:\n  pass\n")
  assert (result.error_type, result.limit_hit) == ("Killed", "cpu"), result


def test_timeout_is_configurable():
  with SandboxPool(num_workers=1, limits=Limits(timeout_s=0.3)) as pool:
    result = pool.run("import time\ntime.sleep(30)")
    assert (result.error_type, result.limit_hit) == ("Timeout", "timeout")
    assert pool.run("print(1)").ok


def test_fallback_without_own_uid(tmp_path):
  """With privilege dropping off, the audit hook still guards files and signals."""
  limits = Limits(timeout_s=2.0, drop_privileges=False)
  with SandboxPool(num_workers=1, limits=limits) as pool:
    assert pool.isolation["uid"] is None
    results = pool.run_many(
      [
        f"open({str(tmp_path / 'x')!r}, 'w')",
        "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)",
        "import os, signal\nos.kill(-1, signal.SIGKILL)",
        "import os, signal\nos.killpg(os.getpgid(os.getppid()), signal.SIGKILL)",
        "print('alive')",
      ]
    )
  assert [r.error_type for r in results[:4]] == ["PermissionError"] * 4
  assert results[4].stdout == "alive\n"
  assert not (tmp_path / "x").exists()


def test_usable_from_another_thread():
  box = {}

  def work():
    with SandboxPool(num_workers=1, limits=_LIMITS) as pool:
      box["results"] = pool.run_many(["print(2 ** 10)", "1 / 0"])

  thread = threading.Thread(target=work)
  thread.start()
  thread.join(60)
  assert [r.stdout for r in box["results"]] == ["1024\n", ""]


def test_created_after_jax_started():
  jax = pytest.importorskip("jax")
  assert float(jax.numpy.ones(4).sum()) == 4.0  # JAX's runtime threads are up.
  with SandboxPool(num_workers=1, limits=_LIMITS) as pool:
    assert pool.run("print('ok')").stdout == "ok\n"


@pytest.mark.parametrize(
  "kwargs", [{"timeout_s": 0}, {"memory_bytes": -1}, {"cpu_time_s": 0.0}, {"max_processes": 0}]
)
def test_limits_validated(kwargs):
  with pytest.raises(ValueError, match=next(iter(kwargs))):
    Limits(**kwargs)


def test_pool_size_validated():
  with pytest.raises(ValueError, match="num_workers"):
    SandboxPool(num_workers=0)


_SOLUTION = (
  f"{prompts.CODE}\n# Step 1: total apples bought: 3 bags of 5\nbought = 3 * 5\n"
  f"{prompts.END_OF_STEP}\n# Step 2: ...\nleft = (12 + bought) * 2 // 3\n{prompts.END_OF_STEP}\n"
  f"# Now print the final answer\nprint(left)\n{prompts.END_OF_CODE}"
  f"{prompts.output_block('18')}\n"
  f"{prompts.ANSWER}The answer is \\boxed{{18}}.{prompts.END_OF_ANSWER}"
)


def test_assemble_design_example(pool):
  program = assemble_program(_SOLUTION)
  assert program == (
    "# Step 1: total apples bought: 3 bags of 5\nbought = 3 * 5\n\n"
    "# Step 2: ...\nleft = (12 + bought) * 2 // 3\n\n"
    "# Now print the final answer\nprint(left)\n"
  )
  assert pool.run(program).stdout == "18\n"


def test_assemble_drops_earlier_output_blocks(pool):
  text = (
    f"{prompts.CODE}\nx = 2\nprint(x){prompts.END_OF_CODE}{prompts.output_block('2')}"
    f"\ny = x * 21{prompts.END_OF_STEP}print(y){prompts.END_OF_CODE}"
  )
  program = assemble_program(text)
  assert prompts.OUTPUT not in program and "<end_of" not in program
  assert pool.run(program).stdout == "2\n42\n"


@pytest.mark.parametrize(
  "text,expected",
  [
    ("no code here", None),
    (f"{prompts.ASSISTANT}: intro {prompts.CODE}a = 1{prompts.END_OF_STEP}", "a = 1\n"),
    (f"{prompts.CODE}a = 1{prompts.END_OF_STEP}b = 2{prompts.END_OF_STEP}", "a = 1\nb = 2\n"),
    (f"{prompts.CODE}print(1){prompts.END_OF_CODE}{prompts.OUTPUT}1", "print(1)\n"),
    (f"{prompts.CODE}", "\n"),
  ],
)
def test_assemble_edge_cases(text, expected):
  assert assemble_program(text) == expected


def test_a_second_code_block_continues_the_program(pool):
  text = (
    f"{prompts.CODE}\nx = 2{prompts.END_OF_STEP}print(x){prompts.END_OF_CODE}"
    f"{prompts.output_block('2')}\n{prompts.CODE}\ny = x * 21{prompts.END_OF_STEP}"
    f"{prompts.CODE}print(y){prompts.END_OF_CODE}"
  )
  program = assemble_program(text)
  assert "<" not in program, program
  result = pool.run(program)
  assert result.ok and result.stdout == "2\n42\n", result
