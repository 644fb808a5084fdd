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
  with open(path, encoding="utf-8") as f:
    first = next((line for line in f if line.strip()), None)
  if first is None:
    raise ValueError(f"{path}: no problems (empty file)")
  try:
    keys = set(json.loads(first))
  except (json.JSONDecodeError, TypeError) as e:
    raise ValueError(f"{path} line 1: not a JSON object ({e})") from e
  loaded = (
    problems.load_problems(path) if keys >= PROBLEM_FIELDS else benchmarks.load_benchmark(path)
  )
  return list(loaded[:limit] if limit else loaded)
