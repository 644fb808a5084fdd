"""ArrayRecord shards: round trip, atomic writes, numbering, dataset directories, grain."""

import json

import grain
import pytest

from rstar_jax.data import records


def test_shard_round_trip_and_grain(tmp_path):
  rows = [{"i": i, "text": "Ünïcode ∑ <end_of_step>\n"} for i in range(5)]
  path = tmp_path / "a.array_record"
  assert records.write_shard(path, rows) == 5
  assert records.read_shard(path) == rows
  source = grain.sources.ArrayRecordDataSource([str(path)])
  assert [records.decode(source[i]) for i in range(len(source))] == rows


def test_failed_write_leaves_nothing(tmp_path):
  def rows():
    yield {"i": 0}
    raise RuntimeError("killed")

  with pytest.raises(RuntimeError):
    records.write_shard(tmp_path / "a.array_record", rows())
  assert list(tmp_path.iterdir()) == []


def test_shard_sequence_continues_numbering(tmp_path):
  seq = records.ShardSequence(tmp_path, "trees")
  seq.append([{"id": "a"}], jsonl_mirror=True)
  (tmp_path / ".tmp-trees-00001.array_record").write_bytes(b"partial")
  (tmp_path / "other-00007.array_record").write_bytes(b"")
  again = records.ShardSequence(tmp_path, "trees")
  path = again.append([{"id": "b"}, {"id": "c"}])
  assert path.name == "trees-00001.array_record"
  assert [r["id"] for r in again.read_all()] == ["a", "b", "c"]
  mirror = (tmp_path / "trees-00000.jsonl").read_text().splitlines()
  assert [json.loads(line) for line in mirror] == [{"id": "a"}]


def test_dataset_directory(tmp_path):
  rows = [{"problem_id": str(i), "prompt": "p", "response": "r"} for i in range(7)]
  manifest = records.write_dataset(
    tmp_path, rows, schema="sft", records_per_shard=3, manifest_extra={"difficulty": {"easy": 1}}
  )
  assert [s["num_records"] for s in manifest["shards"]] == [3, 3, 1]
  assert records.read_manifest(tmp_path)["difficulty"] == {"easy": 1}
  assert records.read_dataset(tmp_path) == rows
  records.write_dataset(tmp_path, rows[:2], schema="sft")  # rewriting replaces old shards
  assert records.read_dataset(tmp_path) == rows[:2]
  assert len(records.shard_paths(tmp_path)) == 1
  with pytest.raises(FileNotFoundError, match="missing does not exist"):
    records.read_dataset(tmp_path / "missing")
  (tmp_path / "unfinished").mkdir()
  with pytest.raises(FileNotFoundError, match=r"unfinished: no manifest\.json"):
    records.read_dataset(tmp_path / "unfinished")


def test_bad_record_is_named(tmp_path):
  with pytest.raises(ValueError, match=r"x\.array_record record 0"):
    records.decode(b"\xff\xfe", where="x.array_record record 0")
  with pytest.raises(ValueError, match="expected a JSON object"):
    records.decode(b"[1, 2]")
