"""Sandbox benchmark: the warm pool vs a fresh `python -c` per program.

The same 500 realistic step programs (short arithmetic / fractions / sympy / numpy code in the
rStar step style, about one in ten with an error) go through both, with the same parallelism
(one worker or one concurrent subprocess per CPU core). Reported: per-program latency p50 (the
pool's measured one program at a time, as a search step waits for it; the baseline's per
subprocess), throughput over the whole batch, and whether both agree on every result. The
speedup is the ratio of batch wall times. Last line:
`sandbox speedup X.XXx (pool p50 A ms, naive p50 B ms)`.
Also printed: the programs' own compute time (in-process `exec`), the floor for any executor.
"""

import concurrent.futures
import contextlib
import io
import os
import random
import statistics
import subprocess
import sys
import time

from rstar_jax.sandbox import ExecResult
from rstar_jax.sandbox import SandboxPool

NUM_PROGRAMS = 500
_SEED = 0
_NAIVE_TIMEOUT_S = 60.0


def _arithmetic(r: random.Random) -> str:
  a, b, c = r.randint(2, 50), r.randint(2, 20), r.randint(1, 99)
  return (
    f"# Step: {a} boxes of {b} items, then {c} more\nitems = {a} * {b}\n"
    f"total = items + {c}\nprint(total)\n"
  )


def _fractions(r: random.Random) -> str:
  a, b, c, d = (r.randint(1, 12) for _ in range(4))
  return (
    f"from fractions import Fraction\n# Step: add the two shares\n"
    f"share = Fraction({a}, {b}) + Fraction({c}, {d})\nprint(share)\n"
  )


def _math(r: random.Random) -> str:
  n, k = r.randint(5, 30), r.randint(1, 5)
  return (
    f"import math\n# Step: count the committees\nways = math.comb({n}, {k})\n"
    f"g = math.gcd(ways, {r.randint(2, 90)})\nprint(ways, g)\n"
  )


def _solve(r: random.Random) -> str:
  a, b, c = r.randint(1, 9), r.randint(-20, 20), r.randint(-20, 20)
  return (
    f"from sympy import symbols, Eq, solve\nx = symbols('x')\n"
    f"# Step: solve the linear condition\nsol = solve(Eq({a} * x + {b}, {c}), x)\n"
    f"print(sol[0])\n"
  )


def _expand(r: random.Random) -> str:
  a, b = r.randint(1, 9), r.randint(1, 9)
  return (
    f"from sympy import *\nx = symbols('x')\n# Step: expand and factor\n"
    f"e = expand((x + {a}) * (x - {b}))\nprint(e, factor(e))\n"
  )


def _quadratic(r: random.Random) -> str:
  p, q = r.randint(-9, 9), r.randint(-9, 9)
  return (
    f"import sympy as sp\nx = sp.Symbol('x')\n# Step: roots of the quadratic\n"
    f"roots = sp.solve(x**2 - ({p + q}) * x + ({p * q}), x)\nprint(sorted(roots))\n"
  )


def _rational(r: random.Random) -> str:
  a, b = r.randint(1, 30), r.randint(2, 30)
  return (
    f"from sympy import Rational, sqrt, simplify\n# Step: simplify the ratio\n"
    f"v = simplify(Rational({a}, {b}) * sqrt({r.randint(2, 50)}))\nprint(v)\n"
  )


def _numpy(r: random.Random) -> str:
  n = r.randint(5, 40)
  return (
    f"import numpy as np\n# Step: sum of squares\nv = np.arange(1, {n + 1})\n"
    f"print(int((v ** 2).sum()))\n"
  )


def _error(r: random.Random) -> str:
  kind = r.randrange(3)
  if kind == 0:
    return f"a = {r.randint(1, 9)}\n# Step: divide by the number of empty boxes\nprint(a / 0)\n"
  if kind == 1:
    return "# Step: use the earlier total\nprint(total_items * 2)\n"
  return f"# Step: unbalanced parenthesis\nprint(({r.randint(1, 9)} + 2)\n"


_KINDS = (_arithmetic, _fractions, _math, _solve, _expand, _quadratic, _rational, _numpy)


def make_programs(n: int = NUM_PROGRAMS, seed: int = _SEED) -> list[str]:
  """Step programs as MCTS executes them: 1-3 steps so far, about 10% ending in an error."""
  r = random.Random(seed)
  programs = []
  for _ in range(n):
    steps = [r.choice(_KINDS)(r) for _ in range(r.randint(1, 3))]
    if r.random() < 0.1:
      steps.append(_error(r))
    programs.append("".join(steps))
  return programs


def _naive(program: str) -> tuple[float, str, str | None]:
  """Runs one program as `python -c`; returns (seconds, stdout, exception type or None)."""
  start = time.perf_counter()
  proc = subprocess.run(
    [sys.executable, "-c", program],
    capture_output=True,
    text=True,
    timeout=_NAIVE_TIMEOUT_S,
    check=False,
  )
  elapsed = time.perf_counter() - start
  error = None
  if proc.returncode != 0:
    last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "?"
    error = last.split(":", 1)[0]
  return elapsed, proc.stdout, error


def _in_process(program: str) -> float:
  """Seconds the program's own code takes, run by `exec` here: the floor for any executor."""
  sink = io.StringIO()
  start = time.perf_counter()
  try:
    with contextlib.redirect_stdout(sink):
      exec(compile(program, "<program>", "exec"), {"__name__": "__main__"})
  except Exception:
    pass
  return time.perf_counter() - start


def _ms(seconds: float) -> float:
  return seconds * 1000.0


def run(argv: list[str]) -> None:
  del argv
  workers = os.cpu_count() or 1
  programs = make_programs()
  print(f"sandbox: {len(programs)} programs, {workers} workers / concurrent subprocesses")

  start = time.perf_counter()
  with SandboxPool(num_workers=workers) as pool:
    startup_s = time.perf_counter() - start
    print(
      f"pool start-up {startup_s:.2f} s, isolation {pool.isolation}, "
      f"pre-faulted per waiting child {pool.prefault_bytes / 2**20:.1f} MiB"
    )
    pool.run_many(programs[: workers * 4])  # Warm the workers' page caches.
    latencies = []
    for program in programs:
      t = time.perf_counter()
      pool.run(program)
      latencies.append(time.perf_counter() - t)
    t = time.perf_counter()
    results: list[ExecResult] = pool.run_many(programs)
    pool_wall = time.perf_counter() - t
    empty = []
    for _ in range(100):  # The sandbox's own cost: an empty program.
      t = time.perf_counter()
      pool.run("pass")
      empty.append(time.perf_counter() - t)

  t = time.perf_counter()
  with concurrent.futures.ThreadPoolExecutor(workers) as executor:
    naive = list(executor.map(_naive, programs))
  naive_wall = time.perf_counter() - t

  for program in programs[:20]:  # Imports and first-call set-up, as the warm workers had.
    _in_process(program)
  compute_p50 = _ms(statistics.median(_in_process(p) for p in programs))

  agree = sum(r.stdout == out and r.error_type == err for r, (_, out, err) in zip(results, naive))
  failed = sum(not r.ok for r in results)
  pool_p50 = _ms(statistics.median(latencies))
  naive_p50 = _ms(statistics.median(e for e, _, _ in naive))
  print(
    f"pool : p50 {pool_p50:.2f} ms, p90 {_ms(statistics.quantiles(latencies, n=10)[-1]):.2f}"
    f" ms per program; batch {pool_wall:.2f} s ({len(programs) / pool_wall:.1f} programs/s)"
  )
  print(
    f"naive: p50 {naive_p50:.2f} ms per program; batch {naive_wall:.2f} s "
    f"({len(programs) / naive_wall:.1f} programs/s)"
  )
  print(f"pool overhead: empty program p50 {_ms(statistics.median(empty)):.2f} ms")
  print(f"the programs' own code, run in-process without isolation: p50 {compute_p50:.2f} ms")
  print(f"results agree on {agree}/{len(programs)} programs; {failed} programs raised")
  print(
    f"sandbox speedup {naive_wall / pool_wall:.2f}x "
    f"(pool p50 {pool_p50:.2f} ms, naive p50 {naive_p50:.2f} ms)"
  )
