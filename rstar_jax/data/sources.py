"""One entry point for any problem file a run is pointed at: JSONL, or an ArrayRecord directory."""

from collections.abc import Iterator
import contextlib
import itertools
import os
import pathlib

from rstar_jax.data import benchmarks
from rstar_jax.data import problems

PROBLEM_FIELDS = frozenset({"id", "question", "answer"})
# Fields only the benchmark formats have (a gold answer kept elsewhere, or the question's other
# name): without them a record with an id and a question is a `Problem` record, even when its
# `answer` is missing (that record is then refused alone; the others keep their ids).
_BENCHMARK_ONLY_FIELDS = frozenset({"final_answer", "solution", "problem"})


def stream_problem_file(path: str | os.PathLike) -> Iterator[problems.Problem]:
  """Problems one at a time: `Problem` records (id, question, answer) as they are, anything else
  through the benchmark loaders (../shared/data/benchmarks formats), chosen by the first record,
  which is checked now (a missing or empty source fails at once, not at the first batch)."""
  path = pathlib.Path(path)
  if not path.exists():
    raise FileNotFoundError(f"problem file {path} does not exist")
  with contextlib.closing(problems.raw_rows(path)) as rows:
    first = next(((where, raw) for _, where, raw in rows if raw.strip()), None)
  if first is None:
    raise ValueError(f"{path}: no problems (empty file)")
  keys = set(problems.parse_row(*first))
  own = keys >= PROBLEM_FIELDS or (keys >= {"id", "question"} and not keys & _BENCHMARK_ONLY_FIELDS)
  stream = problems.iter_problems if own else benchmarks.iter_benchmark
  return stream(path)


def load_problem_file(path: str | os.PathLike, limit: int = 0) -> list[problems.Problem]:
  """`stream_problem_file`, the first `limit` problems (0: all) as a list, for small sets."""
  return list(itertools.islice(stream_problem_file(path), limit or None))
