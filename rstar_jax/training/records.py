"""Reads a dataset directory of `*.array_record` shards (one JSON object per record) with grain.

Every record is decoded and checked up front so a bad record fails the run before any compute,
with an error naming its shard and index.
"""
from collections.abc import Sequence
import dataclasses
import json
import pathlib
from typing import Any

import grain

SFT_FIELDS = ("problem_id", "prompt", "response")
PAIR_FIELDS = ("problem_id", "prompt", "pos", "neg")
Q_FIELDS = ("pos_q", "neg_q")


@dataclasses.dataclass(frozen=True)
class RecordRef:
  """Where a record came from, for error messages."""
  shard: str
  index: int

  def __str__(self) -> str:
    return f"{self.shard} record {self.index}"


def shard_paths(data_dir: str | pathlib.Path) -> list[pathlib.Path]:
  path = pathlib.Path(data_dir)
  if not path.is_dir():
    raise FileNotFoundError(f"dataset directory {path} does not exist")
  shards = sorted(path.glob("*.array_record"))
  if not shards:
    raise ValueError(f"dataset directory {path} holds no *.array_record shards")
  return shards


def _check(record: Any, ref: RecordRef, fields: Sequence[str],
           numeric: Sequence[str]) -> dict[str, Any]:
  if not isinstance(record, dict):
    raise ValueError(f"{ref}: expected a JSON object, got {type(record).__name__}")
  missing = [f for f in (*fields, *numeric) if f not in record]
  if missing:
    raise ValueError(f"{ref}: missing field(s) {missing} (has {sorted(record)})")
  for f in fields[1:]:
    if not isinstance(record[f], str):
      raise ValueError(f"{ref}: field {f!r} must be a string, got {type(record[f]).__name__}")
  for f in numeric:
    if not isinstance(record[f], (int, float)) or isinstance(record[f], bool):
      raise ValueError(f"{ref}: field {f!r} must be a number, got {record[f]!r}")
  return record


def read_records(data_dir: str | pathlib.Path, fields: Sequence[str],
                 numeric: Sequence[str] = ()) -> list[tuple[RecordRef, dict[str, Any]]]:
  """All records of a dataset directory, checked for `fields` (strings) and `numeric` fields."""
  out = []
  for shard in shard_paths(data_dir):
    source = grain.sources.ArrayRecordDataSource([str(shard)])
    for i in range(len(source)):
      ref = RecordRef(shard.name, i)
      try:
        record = json.loads(source[i])
      except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{data_dir}/{ref}: not a UTF-8 JSON object ({e})") from e
      out.append((ref, _check(record, RecordRef(f"{data_dir}/{shard.name}", i), fields, numeric)))
  if not out:
    raise ValueError(f"dataset directory {data_dir} is empty (its shards hold no records)")
  return out
