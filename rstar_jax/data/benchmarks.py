"""Loaders for the standard evaluation sets (GSM8K, MATH-500, AIME, AMC, OlympiadBench, ...).

Each source names its fields differently and some keep the final answer only in the solution text;
`load_benchmark` normalises every file to `Problem(id, question, answer)` by its fields.
"""

from __future__ import annotations

from collections.abc import Iterator
import os
from typing import Any

from rstar_jax.data.problems import LoadReport
from rstar_jax.data.problems import Problem
from rstar_jax.data.problems import ProblemFileError
from rstar_jax.data.problems import iter_records
from rstar_jax.data.problems import level_field
from rstar_jax.grading.extract import extract_answer

_QUESTION_FIELDS = ("question", "problem")
_ID_FIELDS = ("id", "unique_id", "idx")


def gold_answer(record: dict[str, Any]) -> str:
  """The gold final answer of a benchmark record, as LaTeX text."""
  if record.get("final_answer") is not None:  # OlympiadBench: list of answers
    answers = record["final_answer"]
    answers = answers if isinstance(answers, list) else [answers]
    return ", ".join(str(a).strip().strip("$").strip() for a in answers)
  answer = record.get("answer")
  if isinstance(answer, str) and "####" in answer:  # GSM8K: solution text ending in '#### N'
    return answer.rsplit("####", 1)[1].strip().replace(",", "")
  if isinstance(answer, (int, float)) and not isinstance(answer, bool):  # AMC: numbers
    return str(int(answer)) if float(answer).is_integer() else str(answer)
  if isinstance(answer, str) and answer.strip():
    return answer.strip().strip("$").strip()
  boxed = extract_answer(record.get("solution") or "")
  if boxed is None:
    raise ProblemFileError("no answer field and no \\boxed{} answer in the solution")
  return boxed


def iter_benchmark(
  path: str | os.PathLike, *, on_error: str = "skip", report: LoadReport | None = None
) -> Iterator[Problem]:
  """Streams a benchmark-format file one record at a time (see `problems.iter_records`)."""
  stem = os.path.splitext(os.path.basename(os.fspath(path)))[0]

  def to_problem(lineno: int, record: dict[str, Any]) -> Problem:
    question = next(
      (record[f] for f in _QUESTION_FIELDS if isinstance(record.get(f), str) and record[f].strip()),
      None,
    )
    if question is None:
      raise ProblemFileError(f"no question field (one of {_QUESTION_FIELDS})")
    raw_id = next((record[f] for f in _ID_FIELDS if record.get(f) not in (None, "")), None)
    pid = f"{stem}-{raw_id}" if raw_id is not None else f"{stem}-{lineno}"
    return Problem(id=pid, question=question, answer=gold_answer(record), level=level_field(record))

  return iter_records(path, to_problem, on_error=on_error, report=report)


def load_benchmark(
  path: str | os.PathLike, *, on_error: str = "skip", report: LoadReport | None = None
) -> list[Problem]:
  return list(iter_benchmark(path, on_error=on_error, report=report))
