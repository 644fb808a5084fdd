"""One entry point for any problem file a run is pointed at."""

import json
import os
import pathlib

from rstar_jax.data import benchmarks
from rstar_jax.data import problems

PROBLEM_FIELDS = frozenset({"id", "question", "answer"})


def load_problem_file(path: str | os.PathLike, limit: int = 0) -> list[problems.Problem]:
  """Problems from a JSONL file: `Problem` records (id, question, answer) as they are, anything
  else through the benchmark loaders (../shared/data/benchmarks formats); `limit` 0 keeps all."""
  path = pathlib.Path(path)
  if not path.is_file():
    raise FileNotFoundError(f"problem file {path} does not exist")
  with open(path, "rb") as f:
    first = next(((n, line) for n, line in enumerate(f, start=1) if line.strip()), None)
  if first is None:
    raise ValueError(f"{path}: no problems (empty file)")
  lineno, line = first
  try:
    record = json.loads(line.decode("utf-8"))
  except UnicodeDecodeError as e:
    raise ValueError(f"{path}:{lineno}: not UTF-8 ({e.reason} at byte {e.start})") from None
  except json.JSONDecodeError as e:
    raise ValueError(f"{path}:{lineno}: malformed JSON ({e.msg} at column {e.colno})") from None
  if not isinstance(record, dict):
    raise ValueError(f"{path}:{lineno}: expected a JSON object, got {type(record).__name__}")
  keys = set(record)
  loaded = (
    problems.load_problems(path) if keys >= PROBLEM_FIELDS else benchmarks.load_benchmark(path)
  )
  return list(loaded[:limit] if limit else loaded)
