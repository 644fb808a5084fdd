"""Runs one benchmark suite: `python -m launch.benchmark --suite=generation`.

Each suite lives in `launch/benchmarks/<suite>.py`, measures rstar_jax side by side with its
baseline in one process, and prints its one-line summary last; the host line (CPU, vector ISA,
the ISAs XLA and torch were held to) comes first. The suite module is imported before flags are
parsed, so its own flags can be given on the same command line.
"""

import importlib
import pkgutil
import sys

from absl import app
from absl import flags

from launch import benchmarks
from launch import host

_SUITE = flags.DEFINE_string("suite", None, "Benchmark suite to run.", required=True)


def available_suites() -> list[str]:
  return sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__))


def _requested_suite(argv: list[str]) -> str | None:
  for i, arg in enumerate(argv):
    if arg.startswith("--suite="):
      return arg.split("=", 1)[1]
    if arg == "--suite" and i + 1 < len(argv):
      return argv[i + 1]
  return None


def main(argv: list[str]) -> None:
  suites = available_suites()
  if _SUITE.value not in suites:
    raise app.UsageError(f"unknown --suite={_SUITE.value!r}; available: {', '.join(suites)}")
  suite = importlib.import_module(f"launch.benchmarks.{_SUITE.value}")
  print(host.describe(), flush=True)
  suite.run(argv)


if __name__ == "__main__":
  suite = _requested_suite(sys.argv)
  if suite in available_suites():
    importlib.import_module(f"launch.benchmarks.{suite}")
  app.run(main)
