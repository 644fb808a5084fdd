"""ArrayRecord shards of JSON records: search trees and SFT/PPM datasets (docs/architecture.md).

Every shard is written under a temporary name and renamed into place, so a reader (or a resumed
search) only ever sees complete shards. Each record is one JSON object encoded as UTF-8 bytes,
which `grain.sources.ArrayRecordDataSource` serves as-is. A dataset directory is read only
through its manifest (`open_dataset`), which every reader, the trainers included, shares.
"""

from collections.abc import Callable, Iterable, Iterator, Sequence
import contextlib
import dataclasses
import hashlib
import json
import os
import pathlib
import re
from typing import Any, TypeVar

from array_record.python import array_record_module

from rstar_jax.data import schemas
from rstar_jax.runtime import files

SHARD_SUFFIX = ".array_record"
MANIFEST = "manifest.json"
_WRITER_OPTIONS = "group_size:1"
Example = TypeVar("Example", schemas.SFTExample, schemas.PPMPair)
T = TypeVar("T")


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


def _unreadable_as_error(path: pathlib.Path, fn: Callable[[], T]) -> T:
  """`fn()`, whose RuntimeErrors (which name no file, and may be empty) become one naming `path`."""
  try:
    return fn()
  except RuntimeError as e:
    raise ValueError(
      f"{path}: not a readable ArrayRecord shard ({e or 'truncated or corrupt'})"
    ) from e


@contextlib.contextmanager
def _shard_reader(
  path: pathlib.Path, num_records: int | None
) -> Iterator[array_record_module.ArrayRecordReader]:
  """An open shard, checked to hold `num_records` records when given (a truncated shard reads as
  one with fewer records, often none)."""
  if not path.is_file():
    raise FileNotFoundError(f"{path}: shard missing")
  reader = _unreadable_as_error(path, lambda: array_record_module.ArrayRecordReader(str(path)))
  try:
    count = _unreadable_as_error(path, reader.num_records)
    if num_records is not None and count != num_records:
      raise ValueError(
        f"{path}: holds {count} records where the manifest lists {num_records} "
        f"(truncated or replaced)"
      )
    yield reader
  except BaseException:
    with contextlib.suppress(RuntimeError):  # The error in flight says more than the reader's.
      reader.close()
    raise
  _unreadable_as_error(path, reader.close)  # Reports what a reader of a corrupt file met.


def read_raw_shard(path: str | os.PathLike, *, num_records: int | None = None) -> list[bytes]:
  """The undecoded records of a shard, for readers that report bad records themselves."""
  path = pathlib.Path(path)
  with _shard_reader(path, num_records) as reader:
    return _unreadable_as_error(path, reader.read_all)


def read_shard(path: str | os.PathLike, *, num_records: int | None = None) -> list[dict[str, Any]]:
  """The decoded records of a shard; with `num_records`, it must hold exactly that many."""
  data = read_raw_shard(path, num_records=num_records)
  return [decode(d, where=f"{path} record {i}") for i, d in enumerate(data)]


def shard_paths(directory: str | os.PathLike) -> list[pathlib.Path]:
  """The complete shards of a directory in name order (temporary files excluded)."""
  directory = pathlib.Path(directory)
  if not directory.is_dir():
    return []
  return sorted(
    p for p in directory.glob(f"*{SHARD_SUFFIX}") if not p.name.startswith(files.TMP_PREFIX)
  )


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

  def append(
    self, records: Sequence[dict[str, Any]], *, jsonl_mirror: bool = False
  ) -> pathlib.Path:
    """Writes `records` as the next shard (the JSONL mirror first, so the shard commits last)."""
    self.directory.mkdir(parents=True, exist_ok=True)
    path = self.directory / f"{self.prefix}-{self._next_index():05d}{SHARD_SUFFIX}"
    if jsonl_mirror:
      write_jsonl(path.with_suffix(".jsonl"), records)
    write_shard(path, records)
    return path

  def read_all(self) -> list[dict[str, Any]]:
    return [r for p in self.paths() for r in read_shard(p)]


class DatasetWriter:
  """Writes a dataset directory (shards + manifest.json, docs/architecture.md) record by record,
  holding at most one shard's records, for datasets too large to hold whole.

  Shards of an earlier dataset in the same directory and temporaries a killed writer left behind
  are removed first. Full shards are written under temporary names (their final names carry the
  shard count, unknown until the end); `close` renames them and writes the manifest last, so a
  directory with a manifest is complete. Used as a context manager, a failed write leaves no
  shard behind.
  """

  def __init__(self, directory: str | os.PathLike, *, schema: str, records_per_shard: int = 10_000):
    if records_per_shard <= 0:
      raise ValueError(f"records_per_shard must be positive, got {records_per_shard}")
    self.directory = pathlib.Path(directory)
    self.schema = schema
    self.records_per_shard = records_per_shard
    self.directory.mkdir(parents=True, exist_ok=True)
    (self.directory / MANIFEST).unlink(missing_ok=True)
    for old in [*shard_paths(self.directory), *self.directory.glob(f"{files.TMP_PREFIX}*")]:
      old.unlink()
    self._pending: list[dict[str, Any]] = []
    self._written: list[tuple[pathlib.Path, int]] = []

  def __enter__(self) -> "DatasetWriter":
    return self

  def __exit__(self, exc_type, exc, tb) -> None:
    if exc_type is not None:
      for path, _ in self._written:
        path.unlink(missing_ok=True)

  def write(self, record: dict[str, Any]) -> None:
    self._pending.append(record)
    if len(self._pending) == self.records_per_shard:
      self._flush()

  def _flush(self) -> None:
    path = (
      self.directory / f"{files.TMP_PREFIX}{self.schema}-{len(self._written):05d}{SHARD_SUFFIX}"
    )
    self._written.append((path, write_shard(path, self._pending)))
    self._pending = []

  def close(self, manifest_extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Writes the last shard (an empty one for an empty dataset), then the manifest; returns it."""
    if self._pending or not self._written:
      self._flush()
    shards = []
    for i, (path, count) in enumerate(self._written):
      name = f"{self.schema}-{i:05d}-of-{len(self._written):05d}{SHARD_SUFFIX}"
      os.replace(path, self.directory / name)
      shards.append({"file": name, "num_records": count})
    manifest = {
      "schema": self.schema,
      "num_records": sum(s["num_records"] for s in shards),
      "shards": shards,
      **(manifest_extra or {}),
    }
    text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    files.write_text(self.directory / MANIFEST, text)
    return manifest


def write_dataset(
  directory: str | os.PathLike,
  records: Iterable[dict[str, Any]],
  *,
  schema: str,
  manifest_extra: dict[str, Any] | None = None,
  records_per_shard: int = 10_000,
) -> dict[str, Any]:
  """Writes a dataset directory from `records` (see `DatasetWriter`); returns the manifest."""
  with DatasetWriter(directory, schema=schema, records_per_shard=records_per_shard) as writer:
    for record in records:
      writer.write(record)
    return writer.close(manifest_extra)


def read_manifest(directory: str | os.PathLike) -> dict[str, Any]:
  """The manifest of a dataset directory, checked to name a schema, a record count and a list of
  shards (file name and record count each) whose counts add up to it."""
  directory = pathlib.Path(directory)
  if not directory.is_dir():
    raise FileNotFoundError(f"dataset directory {directory} does not exist")
  path = directory / MANIFEST
  if not path.is_file():
    raise FileNotFoundError(f"{directory}: no {MANIFEST} (not a dataset directory, or unfinished)")
  where = str(path)
  manifest = decode(path.read_bytes(), where=where)
  schemas.read_field(manifest, "schema", str, where)
  total = schemas.read_field(manifest, "num_records", int, where)
  listed = 0
  for i, shard in enumerate(schemas.read_field(manifest, "shards", list, where)):
    schemas.check_object(shard, f"{where} shard {i}")
    name = schemas.read_field(shard, "file", str, f"{where} shard {i}")
    if pathlib.PurePath(name).name != name:
      raise ValueError(f"{where} shard {i}: {name!r} is not a file name in {directory}")
    listed += schemas.read_field(shard, "num_records", int, f"{where} shard {i}")
  if listed != total:
    raise ValueError(f"{where}: its shards list {listed} records in all, num_records says {total}")
  return manifest


@dataclasses.dataclass(frozen=True)
class Shard:
  """A shard of a dataset and the record count its manifest lists."""

  path: pathlib.Path
  num_records: int


@dataclasses.dataclass(frozen=True)
class Dataset:
  """A dataset directory whose listed shards exist and hold exactly the listed record counts.

  Only the manifest's shards belong to it: leftover temporaries or stale shards beside them are
  never read.
  """

  directory: pathlib.Path
  manifest: dict[str, Any]
  shards: tuple[Shard, ...]

  def records(self) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, record) in manifest order; `where` names the shard file and the record index."""
    for shard in self.shards:
      for i, record in enumerate(read_shard(shard.path, num_records=shard.num_records)):
        yield f"{shard.path} record {i}", record


def open_dataset(directory: str | os.PathLike, *, schema: str | None = None) -> Dataset:
  """Checks a dataset directory (its manifest, the schema when one is given, every shard's record
  count) before anything reads a record of it."""
  directory = pathlib.Path(directory)
  manifest = read_manifest(directory)
  if schema is not None and manifest["schema"] != schema:
    raise ValueError(f"{directory}: holds a {manifest['schema']!r} dataset, expected {schema!r}")
  shards = tuple(Shard(directory / s["file"], s["num_records"]) for s in manifest["shards"])
  for shard in shards:
    with _shard_reader(shard.path, shard.num_records):
      pass  # Opening it checks that it exists and holds the listed count.
  return Dataset(directory, manifest, shards)


def dataset_digest(directory: str | os.PathLike) -> str:
  """sha256 of a dataset's manifest and listed shards: its identity, wherever it is stored."""
  dataset = open_dataset(directory)
  digest = hashlib.sha256((dataset.directory / MANIFEST).read_bytes())
  for shard in dataset.shards:
    with open(shard.path, "rb") as f:
      digest.update(hashlib.file_digest(f, "sha256").digest())
  return digest.hexdigest()


def dataset_shards(directory: str | os.PathLike) -> list[str]:
  """The checked shard paths of a dataset, in manifest order, for grain's ArrayRecordDataSource."""
  return [str(s.path) for s in open_dataset(directory).shards]


def read_dataset(directory: str | os.PathLike) -> list[dict[str, Any]]:
  """All decoded records of a dataset directory, in order."""
  return [record for _, record in open_dataset(directory).records()]


def read_examples(directory: str | os.PathLike, kind: type[Example]) -> list[tuple[str, Example]]:
  """(where, example) for every record of a dataset of `kind`'s schema, each record checked."""
  dataset = open_dataset(directory, schema=kind.SCHEMA)
  return [(where, kind.from_record(record, where=where)) for where, record in dataset.records()]
