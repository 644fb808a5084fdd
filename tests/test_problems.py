"""Problem files: bad lines are reported by file and line number, skipped or refused."""
import pytest

from rstar_jax.data.problems import LoadReport, Problem, ProblemFileError, load_problems, write_problems


def test_round_trip(tmp_path):
  problems = [Problem("a", "1+1?", "2"), Problem("b", "ünïcode ×", r"\frac{1}{2}")]
  write_problems(tmp_path / "p.jsonl", problems)
  assert load_problems(tmp_path / "p.jsonl") == problems


def test_bad_lines_skipped_with_line_numbers(tmp_path):
  path = tmp_path / "p.jsonl"
  path.write_text('{"question": "q1", "answer": "1"}\n'
                  '{"question": "q2", "answer": \n'
                  '{"question": "q3"}\n'
                  '\n'
                  '["not", "an", "object"]\n'
                  '{"question": "q6", "answer": 6, "id": "six"}\n'
                  '{"question": "q7", "answer": "7", "id": "six"}\n')
  report = LoadReport(str(path))
  problems = load_problems(path, report=report)
  assert problems == [Problem("p-1", "q1", "1"), Problem("six", "q6", "6")]
  assert [s.split(": ", 1)[0] for s in report.skipped] == [f"{path}:{n}" for n in (2, 3, 5, 7)]
  assert "malformed JSON" in report.skipped[0]
  assert "missing or empty field 'answer'" in report.skipped[1]
  assert "duplicate problem id 'six'" in report.skipped[3]
  with pytest.raises(ProblemFileError, match=r"p\.jsonl:2: malformed JSON"):
    load_problems(path, on_error="raise")
