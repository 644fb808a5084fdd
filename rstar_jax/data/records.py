"""ArrayRecord shards of JSON records: search trees and SFT/PPM datasets (docs/architecture.md).

Every shard is written under a temporary name and renamed into place, so a reader (or a resumed
search) only ever sees complete shards. Each record is one JSON object encoded as UTF-8 bytes,
which `grain.sources.ArrayRecordDataSource` serves as-is.
"""
from collections.abc import Iterable, Sequence
import json
import os
import pathlib
import re
from typing import Any

from array_record.python import array_record_module

from rstar_jax.runtime import files

SHARD_SUFFIX = ".array_record"
MANIFEST = "manifest.json"
_WRITER_OPTIONS = "group_size:1"


def encode(record: dict[str, Any]) -> bytes:
  return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def decode(data: bytes, *, where: str = "record") -> dict[str, Any]:
  try:
    record = json.loads(data.decode("utf-8"))
  except (UnicodeDecodeError, json.JSONDecodeError) as e:
    raise ValueError(f"{where}: not a UTF-8 JSON object ({e})") from e
  if not isinstance(record, dict):
    raise ValueError(f"{where}: expected a JSON object, got {type(record).__name__}")
  return record


def write_shard(path: str | os.PathLike, records: Iterable[dict[str, Any]]) -> int:
  """Writes one ArrayRecord shard atomically; returns the number of records."""
  count = 0
  with files.atomic_path(path) as tmp:
    writer = array_record_module.ArrayRecordWriter(str(tmp), _WRITER_OPTIONS)
    try:
      for record in records:
        writer.write(encode(record))
        count += 1
    finally:
      writer.close()
  return count


def write_jsonl(path: str | os.PathLike, records: Iterable[dict[str, Any]]) -> None:
  """Human-readable mirror of a shard, also written atomically."""
  files.write_lines(path, (json.dumps(record, ensure_ascii=False) for record in records))


def read_shard(path: str | os.PathLike) -> list[dict[str, Any]]:
  reader = array_record_module.ArrayRecordReader(str(path))
  try:
    return [decode(data, where=f"{path} record {i}") for i, data in enumerate(reader.read_all())]
  finally:
    reader.close()


def shard_paths(directory: str | os.PathLike) -> list[pathlib.Path]:
  """The complete shards of a directory in name order (temporary files excluded)."""
  directory = pathlib.Path(directory)
  if not directory.is_dir():
    return []
  return sorted(p for p in directory.glob(f"*{SHARD_SUFFIX}")
                if not p.name.startswith(files.TMP_PREFIX))


class ShardSequence:
  """Numbered shards `<prefix>-00000.array_record`, … in one directory, appended one at a time.

  The next number follows the highest existing shard, so a restarted writer never overwrites
  what an earlier run finished.
  """

  def __init__(self, directory: str | os.PathLike, prefix: str):
    self.directory = pathlib.Path(directory)
    self.prefix = prefix
    self._pattern = re.compile(rf"{re.escape(prefix)}-(\d+){re.escape(SHARD_SUFFIX)}$")

  def paths(self) -> list[pathlib.Path]:
    return [p for p in shard_paths(self.directory) if self._pattern.match(p.name)]

  def _next_index(self) -> int:
    indices = [int(self._pattern.match(p.name).group(1)) for p in self.paths()]
    return max(indices, default=-1) + 1

  def append(self, records: Sequence[dict[str, Any]], *, jsonl_mirror: bool = False) -> pathlib.Path:
    """Writes `records` as the next shard (the JSONL mirror first, so the shard commits last)."""
    self.directory.mkdir(parents=True, exist_ok=True)
    path = self.directory / f"{self.prefix}-{self._next_index():05d}{SHARD_SUFFIX}"
    if jsonl_mirror:
      write_jsonl(path.with_suffix(".jsonl"), records)
    write_shard(path, records)
    return path

  def read_all(self) -> list[dict[str, Any]]:
    return [r for p in self.paths() for r in read_shard(p)]


def write_dataset(directory: str | os.PathLike, records: Sequence[dict[str, Any]], *,
                  schema: str, manifest_extra: dict[str, Any] | None = None,
                  records_per_shard: int = 10_000) -> dict[str, Any]:
  """Writes a dataset directory (shards + manifest.json, docs/architecture.md); returns the manifest.

  Shards of an earlier dataset in the same directory are replaced; the manifest is written last,
  so a directory with a manifest is complete.
  """
  if records_per_shard <= 0:
    raise ValueError(f"records_per_shard must be positive, got {records_per_shard}")
  directory = pathlib.Path(directory)
  directory.mkdir(parents=True, exist_ok=True)
  (directory / MANIFEST).unlink(missing_ok=True)
  for old in shard_paths(directory):
    old.unlink()
  num_shards = max(1, -(-len(records) // records_per_shard))
  shards = []
  for i in range(num_shards):
    name = f"{schema}-{i:05d}-of-{num_shards:05d}{SHARD_SUFFIX}"
    chunk = records[i * records_per_shard:(i + 1) * records_per_shard]
    shards.append({"file": name, "num_records": write_shard(directory / name, chunk)})
  manifest = {"schema": schema, "num_records": len(records), "shards": shards,
              **(manifest_extra or {})}
  files.write_text(directory / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
  return manifest


def read_manifest(directory: str | os.PathLike) -> dict[str, Any]:
  path = pathlib.Path(directory) / MANIFEST
  if not path.is_file():
    raise FileNotFoundError(f"{directory}: no {MANIFEST} (not a dataset directory, or unfinished)")
  return json.loads(path.read_text(encoding="utf-8"))


def dataset_shards(directory: str | os.PathLike) -> list[str]:
  """The shard paths of a dataset, in manifest order, for grain's ArrayRecordDataSource."""
  manifest = read_manifest(directory)
  return [str(pathlib.Path(directory) / s["file"]) for s in manifest["shards"]]


def read_dataset(directory: str | os.PathLike) -> list[dict[str, Any]]:
  """All decoded records of a dataset directory, in order."""
  return [r for p in dataset_shards(directory) for r in read_shard(p)]
