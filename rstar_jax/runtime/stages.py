"""Checkpointed stages: a stage is finished exactly when its marker file exists.

The marker holds the stage's JSON summary and is written to a temporary name and renamed into
place, so a run killed at any moment either has the whole marker or none; a restarted driver
skips every stage with a marker and re-enters the first one without (whose own resumability —
search shards, training checkpoints — then continues where it stopped).
"""

from collections.abc import Callable
import json
import logging
import os
import pathlib
import time
from typing import Any

from rstar_jax.runtime import files
from rstar_jax.runtime.sync import ProcessSync

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
    raise ValueError(
      f"{path}: stage marker is not valid JSON ({e}); delete it to redo the stage"
    ) from e
  if not isinstance(summary, dict):
    raise ValueError(f"{path}: stage marker must hold a JSON object")
  return summary


def write_marker(path: str | os.PathLike, summary: dict[str, Any]) -> None:
  """Writes the marker atomically (temporary file, fsync, rename)."""
  files.write_json(path, summary, sort_keys=True)


def run_stage(
  path: str | os.PathLike,
  fn: Callable[[], dict[str, Any]],
  sync: ProcessSync = ProcessSync(),
  *,
  label: str = "",
) -> dict[str, Any]:
  """Runs `fn` unless the marker at `path` exists; returns the stage summary either way.

  The summary gets the stage's wall time. Every process runs `fn`; they meet at a barrier before
  the leader writes the marker, and again after, so no process moves on before it exists.
  """
  label = label or str(path)
  done = read_marker(path)
  if done is not None:
    logging.info("%s already done (%s)", label, path)
    return done
  logging.info("%s", label)
  start = time.perf_counter()
  summary = {**fn(), "wall_s": time.perf_counter() - start}
  sync.barrier(f"{path}:done")
  if sync.is_leader:
    write_marker(path, summary)
  sync.barrier(f"{path}:marked")
  return summary
