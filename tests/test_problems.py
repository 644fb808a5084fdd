"""Problem files: bad lines are reported by file and line number, skipped or refused."""

import json

import pytest

from rstar_jax.data import sources
from rstar_jax.data.benchmarks import load_benchmark
from rstar_jax.data.problems import LoadReport
from rstar_jax.data.problems import Problem
from rstar_jax.data.problems import ProblemFileError
from rstar_jax.data.problems import load_problems
from rstar_jax.data.problems import write_problems


def test_round_trip(tmp_path):
  problems = [Problem("a", "1+1?", "2"), Problem("b", "ünïcode ×", r"\frac{1}{2}")]
  write_problems(tmp_path / "p.jsonl", problems)
  assert load_problems(tmp_path / "p.jsonl") == problems


def test_bad_lines_skipped_with_line_numbers(tmp_path):
  path = tmp_path / "p.jsonl"
  path.write_text(
    '{"question": "q1", "answer": "1"}\n'
    '{"question": "q2", "answer": \n'
    '{"question": "q3"}\n'
    "\n"
    '["not", "an", "object"]\n'
    '{"question": "q6", "answer": 6, "id": "six"}\n'
    '{"question": "q7", "answer": "7", "id": "six"}\n'
  )
  report = LoadReport(str(path))
  problems = load_problems(path, report=report)
  assert problems == [Problem("p-1", "q1", "1"), Problem("six", "q6", "6")]
  assert [s.split(": ", 1)[0] for s in report.skipped] == [f"{path}:{n}" for n in (2, 3, 5, 7)]
  assert "malformed JSON" in report.skipped[0]
  assert "missing or empty field 'answer'" in report.skipped[1]
  assert "duplicate problem id 'six'" in report.skipped[3]
  with pytest.raises(ProblemFileError, match=r"p\.jsonl:2: malformed JSON"):
    load_problems(path, on_error="raise")


def test_benchmark_formats_normalised(tmp_path):
  """Each source's field layout (no ../shared needed): GSM8K `####`, numbers, answer lists,
  answers only inside the solution, and ids from whichever id field the source has."""
  path = tmp_path / "mixed.jsonl"
  records = [
    {"question": "gsm", "answer": "2 + 2 = <<2+2=4>>4\n#### 1,234"},
    {"id": 7, "problem": "amc", "question": "amc", "answer": 36.0},
    {"id": 9, "question": "olympiad", "final_answer": ["$(1,1)$", "$(3,2)$"], "solution": ["..."]},
    {"idx": "m1", "problem": "minerva", "solution": r"so \boxed{\frac{1}{2}}."},
    {"unique_id": "test/x.json", "problem": "math", "answer": r"$\pi$", "solution": r"\boxed{\pi}"},
    {"question": "nothing to grade against", "answer": ""},
    {"answer": "5"},
  ]
  path.write_text("".join(json.dumps(r) + "\n" for r in records))
  report = LoadReport(str(path))
  problems = load_benchmark(path, report=report)
  assert problems == [
    Problem("mixed-1", "gsm", "1234"),
    Problem("mixed-7", "amc", "36"),
    Problem("mixed-9", "olympiad", "(1,1), (3,2)"),
    Problem("mixed-m1", "minerva", r"\frac{1}{2}"),
    Problem("mixed-test/x.json", "math", r"\pi"),
  ]
  assert [s.split(": ", 1)[0] for s in report.skipped] == [f"{path}:6", f"{path}:7"]
  assert "no answer" in report.skipped[0] and "no question" in report.skipped[1]
  with pytest.raises(ProblemFileError, match=r"mixed\.jsonl:6"):
    load_benchmark(path, on_error="raise")


def test_on_error_must_be_skip_or_raise(tmp_path):
  (tmp_path / "p.jsonl").write_text('{"question": "q", "answer": "1"}\n')
  with pytest.raises(ValueError, match="on_error"):
    load_problems(tmp_path / "p.jsonl", on_error="ignore")


def test_non_utf8_lines_are_named(tmp_path):
  path = tmp_path / "p.jsonl"
  good = json.dumps({"id": "a", "question": "q", "answer": "1"}).encode()
  path.write_bytes(good + b"\n" + b'{"id": "b", "question": "caf\xe9", "answer": "2"}\n')
  with pytest.raises(ProblemFileError, match=r"p\.jsonl:2: not UTF-8 \(byte 0xe9"):
    load_problems(path, on_error="raise")
  assert [p.id for p in load_problems(path)] == ["a"]
  first_bad = tmp_path / "q.jsonl"
  first_bad.write_bytes(b"\n" + b'{"id": "b", "question": "caf\xe9"}\n')
  with pytest.raises(ValueError, match=r"q\.jsonl:2: not UTF-8"):
    sources.load_problem_file(first_bad)


def test_a_boolean_answer_is_refused(tmp_path):
  path = tmp_path / "p.jsonl"
  path.write_text(json.dumps({"id": "a", "question": "q", "answer": True}) + "\n")
  with pytest.raises(ProblemFileError, match=r"p\.jsonl:1: field 'answer' must be a string"):
    load_problems(path, on_error="raise")


def test_a_first_record_without_answer_keeps_the_file_a_problem_file(tmp_path, caplog):
  """Only that record is refused, named by line; the others keep their ids (a benchmark
  loader would rename every one)."""
  path = tmp_path / "train.jsonl"
  rows = [{"id": "a", "question": "1+1?"}, {"id": "b", "question": "2+2?", "answer": "4"}]
  path.write_text("".join(json.dumps(r) + "\n" for r in rows))
  assert sources.load_problem_file(path) == [Problem("b", "2+2?", "4")]
  assert "train.jsonl:1: missing or empty field 'answer'" in caplog.text


def test_levels_are_read_from_level_or_difficulty_and_written_only_when_known(tmp_path):
  path = tmp_path / "p.jsonl"
  path.write_text(
    '{"id": "a", "question": "q", "answer": "1", "level": 3}\n'
    '{"id": "b", "question": "q", "answer": "1", "difficulty": "hard"}\n'
    '{"id": "c", "question": "q", "answer": "1"}\n'
    '{"id": "d", "question": "q", "answer": "1", "level": [1]}\n'
  )
  report = LoadReport(str(path))
  loaded = load_problems(path, report=report)
  assert [p.level for p in loaded] == ["3", "hard", None]
  assert "p.jsonl:4" in report.skipped[0] and "'level'" in report.skipped[0]
  out = tmp_path / "out.jsonl"
  write_problems(out, loaded)
  assert '"level"' not in out.read_text().splitlines()[2]
  assert load_problems(out) == loaded
