"""Problem sources stream: JSONL line by line, ArrayRecord directories shard by shard."""

import dataclasses
import itertools
import json

import pytest

from rstar_jax.data import problems
from rstar_jax.data import records
from rstar_jax.data import sources

PROBLEMS = [problems.Problem(f"p{i}", f"What is {i} + 1?", str(i + 1)) for i in range(5)]


def test_jsonl_is_read_one_line_at_a_time(tmp_path):
  path = tmp_path / "train.jsonl"
  lines = [json.dumps(dataclasses.asdict(p)) for p in PROBLEMS[:2]]
  path.write_text("\n".join([*lines, '{"id": "p2", "question": ', "ignored"]) + "\n")
  stream = sources.stream_problem_file(path)
  assert not isinstance(stream, list)
  assert list(itertools.islice(stream, 2)) == PROBLEMS[:2]  # Before the bad line is parsed.
  assert sources.load_problem_file(path, limit=2) == PROBLEMS[:2]
  raising = problems.iter_problems(path, on_error="raise")
  assert next(raising) == PROBLEMS[0] and next(raising) == PROBLEMS[1]
  with pytest.raises(problems.ProblemFileError, match=r"train\.jsonl:3: malformed JSON"):
    next(raising)


def test_a_missing_or_empty_source_fails_before_streaming(tmp_path):
  with pytest.raises(FileNotFoundError, match="does not exist"):
    sources.stream_problem_file(tmp_path / "absent.jsonl")
  (tmp_path / "empty.jsonl").write_text("\n\n")
  with pytest.raises(ValueError, match="no problems"):
    sources.stream_problem_file(tmp_path / "empty.jsonl")


def test_array_record_dataset_directory(tmp_path):
  rows = [dataclasses.asdict(p) for p in PROBLEMS]
  records.write_dataset(tmp_path / "set", rows, schema="problems", records_per_shard=2)
  assert list(sources.stream_problem_file(tmp_path / "set")) == PROBLEMS
  assert sources.load_problem_file(tmp_path / "set", limit=3) == PROBLEMS[:3]


def test_array_record_shards_without_manifest_name_bad_records(tmp_path):
  shards = tmp_path / "gsm"
  shards.mkdir()
  records.write_shard(shards / "a-00000.array_record", [{"question": "1 + 1?", "answer": "2"}])
  records.write_shard(
    shards / "a-00001.array_record", [{"question": "2 + 2?"}, {"problem": "3 + 3?", "answer": 6}]
  )
  report = problems.LoadReport(str(shards))
  loaded = list(sources.stream_problem_file(shards))  # No id field: the benchmark loader.
  assert loaded == [
    problems.Problem("gsm-1", "1 + 1?", "2"),
    problems.Problem("gsm-3", "3 + 3?", "6"),
  ]
  loaded = list(problems.iter_problems(shards, report=report))
  assert [p.id for p in loaded] == ["gsm-1"]
  assert report.skipped[0].startswith(f"{shards / 'a-00001.array_record'} record 0: missing")
  with pytest.raises(problems.ProblemFileError, match="no ArrayRecord shards"):
    list(problems.iter_problems(tmp_path))
