"""Stage markers: a stage of a round is finished exactly when its marker file exists.

The marker holds the stage's JSON summary and is written to a temporary name and renamed into
place, so a run killed at any moment either has the whole marker or none; a restarted driver
skips every stage with a marker and re-enters the first one without (whose own resumability —
search shards, training checkpoints — then continues where it stopped).
"""
import json
import os
import pathlib
from typing import Any

from rstar_jax.runtime import files

SUFFIX = ".done.json"


def marker_path(stage_dir: str | os.PathLike, stage: str) -> pathlib.Path:
  return pathlib.Path(stage_dir) / f"{stage}{SUFFIX}"


def read_marker(path: str | os.PathLike) -> dict[str, Any] | None:
  """The summary of a finished stage, or None when the stage has not finished."""
  path = pathlib.Path(path)
  if not path.is_file():
    return None
  try:
    summary = json.loads(path.read_text(encoding="utf-8"))
  except json.JSONDecodeError as e:
    raise ValueError(f"{path}: stage marker is not valid JSON ({e}); delete it to redo "
                     "the stage") from e
  if not isinstance(summary, dict):
    raise ValueError(f"{path}: stage marker must hold a JSON object")
  return summary


def write_marker(path: str | os.PathLike, summary: dict[str, Any]) -> None:
  """Writes the marker atomically (temporary file, fsync, rename)."""
  files.write_json(path, summary, sort_keys=True)
