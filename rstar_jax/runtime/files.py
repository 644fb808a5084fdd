"""Atomic writes: a reader (or a resumed run) sees a whole file or folder, or none at all.

Everything is written under a hidden temporary sibling name (`.tmp-<name>`), flushed to disk
and renamed into place; a failed write leaves no temporary behind.
"""

from collections.abc import Iterator
import contextlib
import json
import os
import pathlib
import shutil
from typing import Any

TMP_PREFIX = ".tmp-"


def tmp_sibling(path: pathlib.Path) -> pathlib.Path:
  return path.with_name(f"{TMP_PREFIX}{path.name}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[pathlib.Path]:
  """Yields the temporary path to write a file or folder at; renames it to `path` on success.

  An existing folder at `path` is replaced. On an exception the temporary is removed.
  """
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  tmp = tmp_sibling(path)
  _remove(tmp)
  try:
    yield tmp
    if tmp.is_dir():
      _remove(path)
    elif tmp.is_file():
      _fsync(tmp)
    os.replace(tmp, path)
  finally:
    _remove(tmp)


def write_text(path: str | os.PathLike, text: str) -> None:
  with atomic_path(path) as tmp:
    tmp.write_text(text, encoding="utf-8")


def write_json(path: str | os.PathLike, data: Any, *, sort_keys: bool = False) -> None:
  """Indented JSON (values JSON lacks are written with `str`)."""
  write_text(path, json.dumps(data, indent=2, sort_keys=sort_keys, default=str) + "\n")


def write_lines(path: str | os.PathLike, lines: Iterator[str]) -> None:
  """One string per line (JSONL files)."""
  with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
    for line in lines:
      f.write(line + "\n")


def _fsync(path: pathlib.Path) -> None:
  with open(path, "rb") as f:
    os.fsync(f.fileno())


def _remove(path: pathlib.Path) -> None:
  if path.is_dir() and not path.is_symlink():
    shutil.rmtree(path)
  else:
    path.unlink(missing_ok=True)
