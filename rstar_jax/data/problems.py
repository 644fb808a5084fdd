"""Problems and JSONL problem files.

A problem file has one JSON object per line with `question` and `answer` (and optionally `id`).
Bad lines are reported by file and line number; by default they are skipped (with a warning and a
count) so one broken record never costs the rest of a run; `on_error='raise'` refuses instead.
"""

from __future__ import annotations

from collections.abc import Callable
import dataclasses
import json
import logging
import os
from typing import Any

from rstar_jax.runtime import files


@dataclasses.dataclass(frozen=True)
class Problem:
  id: str
  question: str
  answer: str


class ProblemFileError(ValueError):
  """A problem file line is malformed or lacks a required field."""


@dataclasses.dataclass
class LoadReport:
  """What a load skipped, line by line, so callers can show it."""

  path: str
  loaded: int = 0
  skipped: list[str] = dataclasses.field(default_factory=list)


def read_records(
  path: str | os.PathLike,
  to_problem: Callable[[int, dict[str, Any]], Problem],
  *,
  on_error: str = "skip",
  report: LoadReport | None = None,
) -> list[Problem]:
  """Applies `to_problem` to every JSON line; errors per line are skipped or raised (`on_error`)."""
  if on_error not in ("skip", "raise"):
    raise ValueError(f"on_error={on_error!r}; expected 'skip' or 'raise'")
  path = os.fspath(path)
  report = report if report is not None else LoadReport(path)
  problems, seen = [], set()
  with open(path, "rb") as f:
    lines = f.read().splitlines()
  for lineno, raw in enumerate(lines, start=1):
    if not raw.strip():
      continue
    try:
      try:
        line = raw.decode("utf-8")
      except UnicodeDecodeError as e:
        raise ProblemFileError(
          f"{path}:{lineno}: not UTF-8 (byte {raw[e.start]:#04x} at column {e.start + 1})"
        ) from None
      try:
        record = json.loads(line)
      except json.JSONDecodeError as e:
        raise ProblemFileError(
          f"{path}:{lineno}: malformed JSON ({e.msg} at column {e.colno})"
        ) from None
      if not isinstance(record, dict):
        raise ProblemFileError(
          f"{path}:{lineno}: expected a JSON object, got {type(record).__name__}"
        )
      try:
        problem = to_problem(lineno, record)
      except (KeyError, TypeError, ValueError) as e:
        raise ProblemFileError(f"{path}:{lineno}: {e}") from None
      if problem.id in seen:
        raise ProblemFileError(f"{path}:{lineno}: duplicate problem id {problem.id!r}")
    except ProblemFileError as e:
      if on_error == "raise":
        raise
      logging.warning("skipping record: %s", e)
      report.skipped.append(str(e))
      continue
    seen.add(problem.id)
    problems.append(problem)
  report.loaded = len(problems)
  return problems


def _text_field(record: dict[str, Any], name: str) -> str:
  value = record.get(name)
  if value is None or (isinstance(value, str) and not value.strip()):
    raise ProblemFileError(f"missing or empty field {name!r}")
  if isinstance(value, bool) or not isinstance(value, (str, int, float)):
    raise ProblemFileError(f"field {name!r} must be a string or number, got {type(value).__name__}")
  return str(value)


def load_problems(
  path: str | os.PathLike, *, on_error: str = "skip", report: LoadReport | None = None
) -> list[Problem]:
  """Reads a problem file (`question`, `answer`, optional `id`; default id `<stem>-<line>`)."""
  stem = os.path.splitext(os.path.basename(os.fspath(path)))[0]

  def to_problem(lineno: int, record: dict[str, Any]) -> Problem:
    pid = record.get("id")
    return Problem(
      id=str(pid) if pid is not None else f"{stem}-{lineno}",
      question=_text_field(record, "question"),
      answer=_text_field(record, "answer"),
    )

  return read_records(path, to_problem, on_error=on_error, report=report)


def write_problems(path: str | os.PathLike, problems: list[Problem]) -> None:
  """Writes a problem file atomically (temp name, then rename)."""
  files.write_lines(path, (json.dumps(dataclasses.asdict(p), ensure_ascii=False) for p in problems))
