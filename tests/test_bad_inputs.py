"""Corrupt safetensors files and malformed config.json files fail with the file and field named.

Each case used to escape as a bare library error (AttributeError, TypeError, KeyError) deep in
the loader; the messages are what a user of a downloaded or hand-edited checkpoint sees.
"""

import json
import re
import struct

import numpy as np
import pytest

from rstar_jax import hf
from rstar_jax.hf.safetensors_io import CheckpointError
from rstar_jax.hf.safetensors_io import SafetensorsFile
from rstar_jax.hf.safetensors_io import TensorToWrite
from rstar_jax.hf.safetensors_io import write_safetensors
from rstar_jax.models import ModelConfig


def _safetensors(path, header: bytes, data: bytes = b"", header_len: int | None = None):
  path.write_bytes(struct.pack("<Q", len(header) if header_len is None else header_len))
  with open(path, "ab") as f:
    f.write(header + data)
  return path


@pytest.mark.parametrize(
  "header, data, header_len, message",
  [
    (b"[1, 2]", b"", None, "corrupt safetensors header: a JSON list, expected an object"),
    (b"7", b"", None, "corrupt safetensors header: a JSON int, expected an object"),
    (b'{"w": {"dtype": "F32", "sha', b"\0" * 8, None, "corrupt safetensors header: Unterminated"),
    (b"{}", b"", 4096, "header length 4096 exceeds file size 10 (truncated?)"),
    (
      b'{"w": {"dtype": "F32", "shape": "2", "data_offsets": [0, 8]}}',
      b"\0" * 8,
      None,
      "tensor 'w' has entry {'dtype': 'F32', 'shape': '2', 'data_offsets': [0, 8]}, expected",
    ),
    (b'{"w": [0, 8]}', b"\0" * 8, None, "tensor 'w' has entry [0, 8], expected dtype"),
    (
      b'{"w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}}',
      b"\0" * 8,
      None,
      "tensor 'w' has entry",
    ),
  ],
)
def test_corrupt_safetensors_header_is_named(tmp_path, header, data, header_len, message):
  path = _safetensors(tmp_path / "model.safetensors", header, data, header_len)
  with pytest.raises(CheckpointError, match=re.escape(f"{path}: ") + ".*" + re.escape(message)):
    SafetensorsFile(str(path))


def test_short_file_and_valid_file(tmp_path):
  (tmp_path / "short.safetensors").write_bytes(b"\1\0")
  with pytest.raises(CheckpointError, match=r"short\.safetensors: file too short"):
    SafetensorsFile(str(tmp_path / "short.safetensors"))
  good = str(tmp_path / "good.safetensors")
  w = np.arange(6, dtype=np.float32).reshape(2, 3)
  write_safetensors(good, [TensorToWrite("w", (2, 3), w.dtype, lambda: w)])
  np.testing.assert_array_equal(SafetensorsFile(good).get("w"), w)


def _config_dir(tmp_path, edit=None, text=None):
  config = ModelConfig().to_hf_dict()
  if edit:
    edit(config)
  (tmp_path / "config.json").write_text(json.dumps(config) if text is None else text)
  return tmp_path


@pytest.mark.parametrize(
  "edit, message",
  [
    (
      lambda c: c.update(hidden_size="64"),
      "field 'hidden_size' is '64', expected a positive integer",
    ),
    (
      lambda c: c.update(num_attention_heads=0),
      "field 'num_attention_heads' is 0, expected a positive",
    ),
    (lambda c: c.update(rms_norm_eps="1e-6"), "field 'rms_norm_eps' is '1e-6', expected a number"),
    (
      lambda c: c.update(tie_word_embeddings="false"),
      "field 'tie_word_embeddings' is 'false', expected true or false",
    ),
    (
      lambda c: c.update(eos_token_id=[1, "2"]),
      "field 'eos_token_id' is [1, '2'], expected a token",
    ),
    (lambda c: c.update(rope_parameters=[]), "field 'rope_parameters' is [], expected an object"),
    (
      lambda c: c.update(rope_scaling={"rope_type": "linear", "factor": "2"}),
      "field 'rope_scaling.factor' is '2', expected a number",
    ),
    (lambda c: c.pop("intermediate_size"), "required field 'intermediate_size' is missing"),
    (lambda c: c.update(vocab_size=None), "required field 'vocab_size' is missing"),
  ],
)
def test_bad_config_field_is_named(tmp_path, edit, message):
  folder = _config_dir(tmp_path, edit)
  expected = re.escape(f"{folder / 'config.json'}: {message}")
  with pytest.raises(ValueError, match=expected):
    ModelConfig.from_hf(folder)
  with pytest.raises(ValueError, match=expected):
    hf.load_model(folder)


@pytest.mark.parametrize(
  "text, message",
  [
    ('{"hidden_size": ', "cannot read"),
    ("\udcff", "cannot read"),
    ("[1, 2]", "a JSON list, expected an object"),
  ],
)
def test_unreadable_config_is_named(tmp_path, text, message):
  folder = _config_dir(tmp_path)
  (folder / "config.json").write_bytes(text.encode("utf-8", "surrogateescape"))
  expected = re.escape(f"{folder / 'config.json'}: ") + ".*" + re.escape(message)
  with pytest.raises(ValueError, match=expected):
    ModelConfig.from_hf(folder)
  with pytest.raises(CheckpointError, match=expected):
    hf.load_model(folder)


def test_bad_index_is_named(tmp_path):
  folder = _config_dir(tmp_path)
  (folder / hf.checkpoint.INDEX_FILE).write_text('{"weight_map": {"w": 3}}')
  with pytest.raises(CheckpointError, match=r"index\.json: no 'weight_map' of tensor names"):
    hf.load_model(folder)
