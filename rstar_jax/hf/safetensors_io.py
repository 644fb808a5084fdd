"""Streaming safetensors reader/writer.

Reading validates every header entry against the file size up front, so a truncated or corrupt
file fails with the file and tensor named, then reads one tensor at a time into its own buffer
(no memory map: mapped pages would stay resident and double the loader's peak RSS).
Writing streams tensor by tensor, so exporting a sharded model never gathers it whole on the host.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
import json
import os
import struct
from typing import NamedTuple

import ml_dtypes
import numpy as np

from rstar_jax.runtime import files

DTYPES = {
  "F32": np.dtype(np.float32),
  "F16": np.dtype(np.float16),
  "BF16": np.dtype(ml_dtypes.bfloat16),
  "F64": np.dtype(np.float64),
}
_NAMES = {v: k for k, v in DTYPES.items()}


class CheckpointError(ValueError):
  """A checkpoint file is missing, corrupt, or does not match the model."""


def _is_index_list(value: object, length: int | None = None) -> bool:
  return (
    isinstance(value, list)
    and (length is None or len(value) == length)
    and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)
  )


def _check_entry(path: str, name: str, entry: object) -> None:
  """A header entry must be {"dtype": str, "shape": [int...], "data_offsets": [begin, end]}."""
  if not (
    isinstance(entry, dict)
    and isinstance(entry.get("dtype"), str)
    and _is_index_list(entry.get("shape"))
    and _is_index_list(entry.get("data_offsets"), 2)
    and entry["data_offsets"][0] <= entry["data_offsets"][1]
  ):
    raise CheckpointError(
      f"{path}: corrupt safetensors header: tensor {name!r} has entry {str(entry)[:200]}, "
      "expected dtype, shape (non-negative ints) and data_offsets [begin, end]"
    )


class SafetensorsFile:
  """Read-only view of one .safetensors file: `names`, `shape(name)`, `get(name) -> np.ndarray`."""

  def __init__(self, path: str):
    self.path = path
    try:
      size = os.path.getsize(path)
      with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) < 8:
          raise CheckpointError(f"{path}: file too short for a safetensors header ({size} bytes)")
        (header_len,) = struct.unpack("<Q", raw)
        if header_len > size - 8:
          raise CheckpointError(
            f"{path}: header length {header_len} exceeds file size {size} (truncated?)"
          )
        header = json.loads(f.read(header_len))
    except OSError as e:
      raise CheckpointError(f"{path}: cannot read: {e}") from e
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
      raise CheckpointError(f"{path}: corrupt safetensors header: {e}") from e
    if not isinstance(header, dict):
      raise CheckpointError(
        f"{path}: corrupt safetensors header: a JSON {type(header).__name__}, "
        "expected an object of tensor entries"
      )
    header.pop("__metadata__", None)
    data_start = 8 + header_len
    for name, entry in header.items():
      _check_entry(path, name, entry)
      begin, end = entry["data_offsets"]
      if data_start + end > size:
        raise CheckpointError(
          f"{path}: tensor {name!r} ends at byte {data_start + end} but the file has "
          f"{size} bytes (truncated file?)"
        )
      if entry["dtype"] in DTYPES:
        expected = int(np.prod(entry["shape"])) * DTYPES[entry["dtype"]].itemsize
        if end - begin != expected:
          raise CheckpointError(
            f"{path}: tensor {name!r} has {end - begin} bytes, shape {entry['shape']} "
            f"{entry['dtype']} needs {expected}"
          )
    self._header = header
    self._data_start = data_start

  @property
  def names(self) -> list[str]:
    return list(self._header)

  def shape(self, name: str) -> tuple[int, ...]:
    return tuple(self._header[name]["shape"])

  def get(self, name: str) -> np.ndarray:
    """Reads one tensor from disk (a fresh array the caller owns)."""
    entry = self._header[name]
    if entry["dtype"] not in DTYPES:
      raise CheckpointError(
        f"{self.path}: tensor {name!r} has dtype {entry['dtype']}; expected one of {sorted(DTYPES)}"
      )
    dtype, (begin, end) = DTYPES[entry["dtype"]], entry["data_offsets"]
    try:
      with open(self.path, "rb") as f:
        array = np.fromfile(
          f, dtype=dtype, count=(end - begin) // dtype.itemsize, offset=self._data_start + begin
        )
    except OSError as e:
      raise CheckpointError(f"{self.path}: cannot read tensor {name!r}: {e}") from e
    if array.nbytes != end - begin:
      raise CheckpointError(
        f"{self.path}: tensor {name!r} is cut short (file changed while loading?)"
      )
    return array.reshape(entry["shape"])


class TensorToWrite(NamedTuple):
  name: str
  shape: tuple[int, ...]
  dtype: np.dtype
  produce: Callable[[], np.ndarray]  # called once, when the tensor's turn comes

  @property
  def nbytes(self) -> int:
    return int(np.prod(self.shape)) * self.dtype.itemsize


def write_safetensors(path: str, tensors: Iterable[TensorToWrite]) -> None:
  """Writes tensors one at a time; the file appears atomically (temp name, then rename)."""
  tensors = list(tensors)
  header, offset = {"__metadata__": {"format": "pt"}}, 0
  for t in tensors:
    if t.dtype not in _NAMES:
      raise CheckpointError(f"{path}: cannot store tensor {t.name!r} of dtype {t.dtype}")
    header[t.name] = {
      "dtype": _NAMES[t.dtype],
      "shape": list(t.shape),
      "data_offsets": [offset, offset + t.nbytes],
    }
    offset += t.nbytes
  blob = json.dumps(header, separators=(",", ":")).encode()
  blob += b" " * (-len(blob) % 8)
  with files.atomic_path(path) as tmp, open(tmp, "wb") as f:
    f.write(struct.pack("<Q", len(blob)))
    f.write(blob)
    for t in tensors:
      array = np.ascontiguousarray(t.produce(), dtype=t.dtype)
      if array.shape != t.shape:
        raise CheckpointError(
          f"{path}: tensor {t.name!r} produced shape {array.shape}, planned {t.shape}"
        )
      f.write(array.tobytes())
