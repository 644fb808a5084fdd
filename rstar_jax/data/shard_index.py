"""Which trees each shard of a search holds, so a resumed search never re-reads its shards.

At the paper's scale a round's shards hold 747k trees; reading them all back only to learn which
problems are done would cost a pass over every tree. Instead each writer (one per process, one
`ShardSequence` prefix) appends a line per shard to its own index, `<prefix>.index`, once the
shard has been renamed into place:

  {"shard": "trees-00003.array_record", "keys": [["p17", null], ["p18", null]]}

A key is (problem id, run), the identity extraction deduplicates by. Shards are written
atomically, so every shard on disk is complete and a listed shard is always on disk unless
someone deleted it. A writer killed between the two writes leaves a complete shard its index
lacks (and at worst a torn last line): the next scan reads that one shard, and its owner lists it.
"""

from collections.abc import Sequence
import json
import logging
import os
import pathlib
from typing import Any

from rstar_jax.data import records
from rstar_jax.runtime import files

INDEX_SUFFIX = ".index"
Key = tuple[Any, Any]


def record_key(record: dict[str, Any]) -> Key:
  """What makes a tree distinct: its problem and, for evaluation's independent runs, its run."""
  return (record.get("problem_id"), record.get("run"))


def _line(shard: str, keys: Sequence[Key]) -> str:
  return json.dumps({"shard": shard, "keys": [list(k) for k in keys]}, ensure_ascii=False)


def _entry(raw: bytes) -> tuple[str, list[Key]]:
  entry = json.loads(raw)
  return entry["shard"], [tuple(k) for k in entry["keys"]]


def _read_index(path: pathlib.Path) -> tuple[dict[str, list[Key]], bool]:
  """(shard name → keys, whether the file ends cleanly); a last line without its newline is a
  writer killed mid-append: dropped when it does not parse, kept when it does."""
  if not path.is_file():
    return {}, True
  lines = path.read_bytes().split(b"\n")
  entries: dict[str, list[Key]] = {}
  for number, raw in enumerate(lines[:-1], start=1):
    try:
      name, keys = _entry(raw)
    except (ValueError, KeyError, TypeError) as e:
      raise ValueError(f"{path}:{number}: not a shard index entry ({e})") from None
    entries[name] = keys
  if not lines[-1]:
    return entries, True
  try:
    name, keys = _entry(lines[-1])
  except (ValueError, KeyError, TypeError):
    logging.warning("%s: dropping a torn last line", path)
    return entries, False
  entries[name] = keys
  return entries, False


def _index_paths(directory: pathlib.Path) -> list[pathlib.Path]:
  return sorted(
    p for p in directory.glob(f"*{INDEX_SUFFIX}") if not p.name.startswith(files.TMP_PREFIX)
  )


def _shard_keys(path: pathlib.Path) -> list[Key]:
  return [record_key(r) for r in records.read_shard(path)]


class IndexedShards(records.ShardSequence):
  """A `ShardSequence` that lists each shard's keys in `<prefix>.index` once the shard is in
  place."""

  @property
  def index_path(self) -> pathlib.Path:
    return self.directory / f"{self.prefix}{INDEX_SUFFIX}"

  def append(self, rows: Sequence[dict[str, Any]], *, jsonl_mirror: bool = False) -> pathlib.Path:
    path = super().append(rows, jsonl_mirror=jsonl_mirror)
    self._list(path.name, [record_key(r) for r in rows])
    return path

  def _list(self, shard: str, keys: Sequence[Key]) -> None:
    with open(self.index_path, "a", encoding="utf-8") as f:
      f.write(_line(shard, keys) + "\n")
      f.flush()
      os.fsync(f.fileno())

  def repair(self) -> None:
    """Makes the index list exactly this writer's shards: entries whose shard is gone and a torn
    last line are dropped (the index rewritten atomically), shards it lacks are read and listed."""
    entries, clean = _read_index(self.index_path)
    on_disk = {p.name: p for p in self.paths()}
    gone = sorted(entries.keys() - on_disk.keys())
    if gone:
      logging.warning(
        "%s: listed shards are gone, their problems not done: %s", self.index_path, gone
      )
    if gone or not clean:
      kept = ((name, keys) for name, keys in entries.items() if name in on_disk)
      files.write_lines(self.index_path, (_line(name, keys) for name, keys in kept))
    for name in sorted(on_disk.keys() - entries.keys()):
      self._list(name, _shard_keys(on_disk[name]))


def scan(directory: str | os.PathLike) -> dict[str, list[Key]]:
  """Shard name → keys for every shard in `directory`, from the index files; a shard no index
  lists (its writer killed before listing it, or a run from before indexes) is read once here,
  and listed for good by its owner's next `IndexedShards.repair`."""
  directory = pathlib.Path(directory)
  listed: dict[str, list[Key]] = {}
  for path in _index_paths(directory):
    listed.update(_read_index(path)[0])
  found = {}
  for path in records.shard_paths(directory):
    keys = listed.get(path.name)
    found[path.name] = keys if keys is not None else _shard_keys(path)
  return found
