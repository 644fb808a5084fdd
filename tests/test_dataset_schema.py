"""SFT/PPM record schemas and the checked dataset reader: round trips, named errors, manifests."""

import json
import re

import pytest

from rstar_jax.data import records
from rstar_jax.data import schemas

SFT = schemas.SFTExample("p1", "Question?", "Answer.")
TEACHER = schemas.SFTExample("p2", "Q", "A", difficulty=3)
PAIR = schemas.PPMPair("p1", "Q", "good step", "bad step", 0.5, -1)
UNSCORED = schemas.PPMPair("p1", "Q", "good step", "bad step")
COUNTED = schemas.PPMPair("p1", "Q", "good", "bad", 0.5, -1, 1, 4, " then right", "")
SHARD = "sft-00000-of-00003.array_record"


def _sft_dataset(directory, n=7, per_shard=3):
  rows = [schemas.SFTExample(f"p{i}", "Q", f"A{i}").to_record() for i in range(n)]
  records.write_dataset(
    directory, rows, schema=schemas.SFTExample.SCHEMA, records_per_shard=per_shard
  )
  return rows


def _edit_manifest(directory, edit):
  path = directory / records.MANIFEST
  manifest = json.loads(path.read_text())
  edit(manifest)
  path.write_text(json.dumps(manifest))


@pytest.mark.parametrize("example", [SFT, TEACHER, PAIR, UNSCORED, COUNTED])
def test_round_trip(example):
  record = example.to_record()
  assert type(example).from_record(record) == example
  assert type(example).from_record(records.decode(records.encode(record))).to_record() == record


def test_records_keep_key_order_and_leave_unset_fields_out():
  assert records.encode(SFT.to_record()) == (
    b'{"problem_id":"p1","prompt":"Question?","response":"Answer."}'
  )
  assert list(TEACHER.to_record()) == ["problem_id", "prompt", "response", "difficulty"]
  assert records.encode(PAIR.to_record()) == (
    b'{"problem_id":"p1","prompt":"Q","pos":"good step","neg":"bad step","pos_q":0.5,"neg_q":-1}'
  )
  assert list(UNSCORED.to_record()) == ["problem_id", "prompt", "pos", "neg"]
  assert list(COUNTED.to_record())[-4:] == [
    "pos_count",
    "neg_count",
    "pos_completion",
    "neg_completion",
  ]


@pytest.mark.parametrize(
  "kind, change, message",
  [
    (schemas.SFTExample, {"response": None}, "missing field 'response'"),
    (schemas.SFTExample, {"prompt": 7}, "field 'prompt' must be a string, got int"),
    (schemas.SFTExample, {"problem_id": ["p"]}, "field 'problem_id' must be a string, got list"),
    (schemas.SFTExample, {"difficulty": "hard"}, "field 'difficulty' must be an integer"),
    (schemas.PPMPair, {"neg": None}, "missing field 'neg'"),
    (schemas.PPMPair, {"pos_q": "0.5"}, "field 'pos_q' must be a number, got str"),
    (schemas.PPMPair, {"neg_q": True}, "field 'neg_q' must be a number, got bool"),
    (schemas.PPMPair, {"neg_q": None}, "fields 'pos_q' and 'neg_q' come together, got only pos_q"),
    (schemas.PPMPair, {"pos_count": 1.5}, "field 'pos_count' must be an integer, got float"),
    (
      schemas.PPMPair,
      {"pos_count": None},
      "fields 'pos_count' and 'neg_count' come together, got only neg_count",
    ),
    (
      schemas.PPMPair,
      {"pos_count": 0, "neg_count": 0},
      "fields 'pos_count' and 'neg_count' must be >= 0 and not both 0, got 0, 0",
    ),
    (schemas.PPMPair, {"neg_count": -1}, "fields 'pos_count' and 'neg_count' must be >= 0"),
    (
      schemas.PPMPair,
      {"neg_completion": None},
      "fields 'pos_completion' and 'neg_completion' come together, got only pos_completion",
    ),
    (schemas.PPMPair, {"pos_completion": 3}, "field 'pos_completion' must be a string, got int"),
  ],
)
def test_bad_fields_are_named(kind, change, message):
  record = (SFT if kind is schemas.SFTExample else COUNTED).to_record()
  for name, value in change.items():
    if value is None:
      del record[name]
    else:
      record[name] = value
  with pytest.raises(ValueError, match=rf"^x\.array_record record 4: {message}"):
    kind.from_record(record, where="x.array_record record 4")
  with pytest.raises(ValueError, match="record 0: expected a JSON object, got list"):
    kind.from_record([record], where="record 0")


def test_bad_record_in_a_dataset_names_shard_and_index(tmp_path):
  rows = _sft_dataset(tmp_path)
  assert [e for _, e in records.read_examples(tmp_path, schemas.SFTExample)] == [
    schemas.SFTExample.from_record(r) for r in rows
  ]
  rows[4]["prompt"] = 4
  records.write_dataset(tmp_path, rows, schema="sft", records_per_shard=3)
  with pytest.raises(
    ValueError, match=r"sft-00001-of-00003\.array_record record 1: field 'prompt'"
  ):
    records.read_examples(tmp_path, schemas.SFTExample)


def test_wrong_schema_is_refused(tmp_path):
  records.write_dataset(tmp_path, [PAIR.to_record()], schema=schemas.PPMPair.SCHEMA)
  assert records.read_examples(tmp_path, schemas.PPMPair) == [
    (f"{tmp_path}/ppm_pairs-00000-of-00001.array_record record 0", PAIR)
  ]
  with pytest.raises(ValueError, match="holds a 'ppm_pairs' dataset, expected 'sft'"):
    records.read_examples(tmp_path, schemas.SFTExample)


def test_deleted_shard_is_named(tmp_path):
  _sft_dataset(tmp_path)
  (tmp_path / "sft-00001-of-00003.array_record").unlink()
  with pytest.raises(FileNotFoundError, match=r"sft-00001-of-00003\.array_record: shard missing"):
    records.read_dataset(tmp_path)
  with pytest.raises(FileNotFoundError, match=r"sft-00001-of-00003\.array_record"):
    records.dataset_shards(tmp_path)


@pytest.mark.parametrize("keep", [0.5, 0.99, 0.0])
def test_truncated_shard_is_named(tmp_path, keep):
  _sft_dataset(tmp_path)
  data = (tmp_path / SHARD).read_bytes()
  (tmp_path / SHARD).write_bytes(data[: int(len(data) * keep)])
  with pytest.raises(
    ValueError,
    match=rf"{re.escape(SHARD)}: holds 0 records where the manifest "
    rf"lists 3 \(truncated or replaced\)",
  ):
    records.read_dataset(tmp_path)


def test_shard_with_another_count_is_named(tmp_path):
  _sft_dataset(tmp_path)
  records.write_shard(tmp_path / SHARD, [SFT.to_record()] * 2)
  with pytest.raises(ValueError, match=rf"{re.escape(SHARD)}: holds 2 records where the manifest"):
    records.read_dataset(tmp_path)


def test_manifest_counts_must_match(tmp_path):
  _sft_dataset(tmp_path)
  _edit_manifest(tmp_path, lambda m: m.update(num_records=8))
  with pytest.raises(
    ValueError,
    match=r"manifest\.json: its shards list 7 records in all, "
    r"num_records says 8",
  ):
    records.read_dataset(tmp_path)

  def one_more(manifest):
    manifest["num_records"] = 8
    manifest["shards"][0]["num_records"] = 4

  _edit_manifest(tmp_path, one_more)
  with pytest.raises(
    ValueError,
    match=rf"{re.escape(SHARD)}: holds 3 records where the manifest "
    r"lists 4",
  ):
    records.read_dataset(tmp_path)


def test_unlisted_files_are_ignored(tmp_path):
  rows = _sft_dataset(tmp_path)
  (tmp_path / ".tmp-sft-00000-of-00001.array_record").write_bytes(b"partial")
  records.write_shard(tmp_path / "stale-00000.array_record", [SFT.to_record()])
  assert records.read_dataset(tmp_path) == rows
  assert [p.split("/")[-1] for p in records.dataset_shards(tmp_path)] == [
    f"sft-0000{i}-of-00003.array_record" for i in range(3)
  ]


@pytest.mark.parametrize(
  "text, message",
  [
    ("{", "not a UTF-8 JSON object"),
    ("[]", "expected a JSON object, got list"),
    ('{"schema": "sft", "num_records": 0}', "missing field 'shards'"),
    ('{"schema": "sft", "num_records": "0", "shards": []}', "'num_records' must be an integer"),
    ('{"schema": "sft", "num_records": 0, "shards": [7]}', "shard 0: expected a JSON object"),
    (
      '{"schema": "sft", "num_records": 0, "shards": [{"file": "a.array_record"}]}',
      "shard 0: missing field 'num_records'",
    ),
    (
      '{"schema": "sft", "num_records": 0, "shards": [{"file": "../a", "num_records": 0}]}',
      "shard 0: '../a' is not a file name",
    ),
  ],
)
def test_corrupt_manifest_is_named(tmp_path, text, message):
  _sft_dataset(tmp_path)
  (tmp_path / records.MANIFEST).write_text(text)
  with pytest.raises(ValueError, match=rf"manifest\.json.*{message}"):
    records.read_dataset(tmp_path)
  with pytest.raises(ValueError, match=r"manifest\.json"):
    records.read_manifest(tmp_path)


def test_write_dataset_removes_leftovers(tmp_path):
  _sft_dataset(tmp_path)
  # Temporaries of a killed writer (not the names this write uses) and a file of someone else.
  (tmp_path / ".tmp-sft-00002-of-00003.array_record").write_bytes(b"partial")
  (tmp_path / ".tmp-ppm_pairs-00000-of-00001.array_record").write_bytes(b"partial")
  (tmp_path / "notes.txt").write_text("not ours")
  records.write_dataset(tmp_path, [SFT.to_record()], schema="sft")
  assert sorted(p.name for p in tmp_path.iterdir()) == [
    "manifest.json",
    "notes.txt",
    "sft-00000-of-00001.array_record",
  ]
  assert records.read_dataset(tmp_path) == [SFT.to_record()]
