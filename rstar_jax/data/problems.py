"""Problems and problem files: JSONL, or a directory of ArrayRecord shards for large sets.

A problem file has one JSON object per line (per record, in ArrayRecord) with `question` and
`answer` (and optionally `id`). Files are read one record at a time, so a set of the paper's size
(747k problems) streams into a search without ever being held whole. Bad records are reported by
file and line number (shard and record index); by default they are skipped (with a warning and a
count) so one broken record never costs the rest of a run; `on_error='raise'` refuses instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
import dataclasses
import json
import logging
import os
from typing import Any

from rstar_jax.data import records
from rstar_jax.runtime import files


@dataclasses.dataclass(frozen=True)
class Problem:
  """`level`: the problem's difficulty level when its source names one (MATH's `level`, the
  world's number of operations), so accuracy can be reported per level."""

  id: str
  question: str
  answer: str
  level: str | None = None


class ProblemFileError(ValueError):
  """A problem file line is malformed or lacks a required field."""


@dataclasses.dataclass
class LoadReport:
  """What a load skipped, line by line, so callers can show it."""

  path: str
  loaded: int = 0
  skipped: list[str] = dataclasses.field(default_factory=list)


def _jsonl_lines(path: str) -> Iterator[tuple[int, str, bytes]]:
  """(number, where, raw) per line, read one line at a time (the same lines `splitlines` gives)."""
  number = 0
  with open(path, "rb") as f:
    for chunk in f:
      for raw in chunk.splitlines():
        number += 1
        yield number, f"{path}:{number}", raw


def _array_record_rows(directory: str) -> Iterator[tuple[int, str, bytes]]:
  """(number, where, raw) per record of a directory of ArrayRecord shards, one shard in memory at a
  time: a dataset's shards in manifest order, else every shard in name order."""
  has_manifest = os.path.isfile(os.path.join(directory, records.MANIFEST))
  shards = records.dataset_shards(directory) if has_manifest else records.shard_paths(directory)
  if not shards:
    raise ProblemFileError(f"{directory}: no ArrayRecord shards (*{records.SHARD_SUFFIX})")
  number = 0
  for shard in shards:
    for i, raw in enumerate(records.read_raw_shard(shard)):
      number += 1
      yield number, f"{shard} record {i}", raw


def raw_rows(path: str | os.PathLike) -> Iterator[tuple[int, str, bytes]]:
  """(number, where, raw bytes) per record of a problem source, lazily: a JSONL file line by line
  or an ArrayRecord directory shard by shard; `number` counts from 1 over the whole source."""
  path = os.fspath(path)
  return _array_record_rows(path) if os.path.isdir(path) else _jsonl_lines(path)


def parse_row(where: str, raw: bytes) -> dict[str, Any]:
  """The JSON object of one record; errors name `where` (file and line, or shard and record)."""
  try:
    line = raw.decode("utf-8")
  except UnicodeDecodeError as e:
    raise ProblemFileError(
      f"{where}: not UTF-8 (byte {raw[e.start]:#04x} at column {e.start + 1})"
    ) from None
  try:
    record = json.loads(line)
  except json.JSONDecodeError as e:
    raise ProblemFileError(f"{where}: malformed JSON ({e.msg} at column {e.colno})") from None
  if not isinstance(record, dict):
    raise ProblemFileError(f"{where}: expected a JSON object, got {type(record).__name__}")
  return record


def iter_records(
  path: str | os.PathLike,
  to_problem: Callable[[int, dict[str, Any]], Problem],
  *,
  on_error: str = "skip",
  report: LoadReport | None = None,
) -> Iterator[Problem]:
  """Applies `to_problem` to every record as it is read (a JSONL file or an ArrayRecord
  directory, never all of it in memory); errors per record are skipped or raised (`on_error`)."""
  if on_error not in ("skip", "raise"):
    raise ValueError(f"on_error={on_error!r}; expected 'skip' or 'raise'")
  report = report if report is not None else LoadReport(os.fspath(path))
  return _checked(raw_rows(path), to_problem, on_error, report)


def _checked(
  rows: Iterator[tuple[int, str, bytes]],
  to_problem: Callable[[int, dict[str, Any]], Problem],
  on_error: str,
  report: LoadReport,
) -> Iterator[Problem]:
  seen = set()
  for number, where, raw in rows:
    if not raw.strip():
      continue
    try:
      record = parse_row(where, raw)
      try:
        problem = to_problem(number, record)
      except (KeyError, TypeError, ValueError) as e:
        raise ProblemFileError(f"{where}: {e}") from None
      if problem.id in seen:
        raise ProblemFileError(f"{where}: duplicate problem id {problem.id!r}")
    except ProblemFileError as e:
      if on_error == "raise":
        raise
      logging.warning("skipping record: %s", e)
      report.skipped.append(str(e))
      continue
    seen.add(problem.id)
    report.loaded += 1
    yield problem


def _text_field(record: dict[str, Any], name: str) -> str:
  value = record.get(name)
  if value is None or (isinstance(value, str) and not value.strip()):
    raise ProblemFileError(f"missing or empty field {name!r}")
  if isinstance(value, bool) or not isinstance(value, (str, int, float)):
    raise ProblemFileError(f"field {name!r} must be a string or number, got {type(value).__name__}")
  return str(value)


def level_field(record: dict[str, Any]) -> str | None:
  """The record's difficulty level (`level`, else `difficulty`) as text; None when it has none."""
  value = next(
    (record[k] for k in ("level", "difficulty") if record.get(k) not in (None, "")), None
  )
  if value is None:
    return None
  if isinstance(value, bool) or not isinstance(value, (str, int, float)):
    raise ProblemFileError(f"field 'level' must be a string or number, got {type(value).__name__}")
  return str(value)


def iter_problems(
  path: str | os.PathLike, *, on_error: str = "skip", report: LoadReport | None = None
) -> Iterator[Problem]:
  """Streams a problem file (`question`, `answer`, optional `id`; default id `<stem>-<line>`)."""
  stem = os.path.splitext(os.path.basename(os.fspath(path)))[0]

  def to_problem(lineno: int, record: dict[str, Any]) -> Problem:
    pid = record.get("id")
    return Problem(
      id=str(pid) if pid is not None else f"{stem}-{lineno}",
      question=_text_field(record, "question"),
      answer=_text_field(record, "answer"),
      level=level_field(record),
    )

  return iter_records(path, to_problem, on_error=on_error, report=report)


def load_problems(
  path: str | os.PathLike, *, on_error: str = "skip", report: LoadReport | None = None
) -> list[Problem]:
  """Reads a whole problem file (see `iter_problems`)."""
  return list(iter_problems(path, on_error=on_error, report=report))


def write_problems(path: str | os.PathLike, problems: list[Problem]) -> None:
  """Writes a problem file atomically (temp name, then rename); `level` only where a problem has
  one."""
  files.write_lines(
    path,
    (
      json.dumps(
        {k: v for k, v in dataclasses.asdict(p).items() if k != "level" or v is not None},
        ensure_ascii=False,
      )
      for p in problems
    ),
  )
