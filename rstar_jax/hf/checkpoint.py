"""Hugging Face checkpoints <-> rstar_jax models.

Import reads tensors one at a time from (sharded) safetensors and places each directly on its
target sharding; export streams them back into sharded safetensors + index + config.json that
`transformers` loads (`AutoModelForCausalLM`, or `AutoModelForTokenClassification` for the PPM).
"""

from __future__ import annotations

import json
import os
import pathlib
from typing import Any

from flax import nnx
import jax
from jax.experimental import multihost_utils
from jax.sharding import Mesh
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
import ml_dtypes
import numpy as np

from rstar_jax.hf.names import IGNORED_SUFFIXES
from rstar_jax.hf.names import TensorMapping
from rstar_jax.hf.names import name_map
from rstar_jax.hf.safetensors_io import CheckpointError
from rstar_jax.hf.safetensors_io import SafetensorsFile
from rstar_jax.hf.safetensors_io import TensorToWrite
from rstar_jax.hf.safetensors_io import write_safetensors
from rstar_jax.models.config import DTYPES
from rstar_jax.models.config import ModelConfig
from rstar_jax.models.params import param_shardings
from rstar_jax.models.sharding import DEFAULT_RULES
from rstar_jax.models.sharding import ShardingRules
from rstar_jax.models.transformer import Transformer
from rstar_jax.models.transformer import ValueModel
from rstar_jax.runtime import mesh as mesh_lib

SINGLE_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"
_NP_DTYPES = {
  "float32": np.dtype(np.float32),
  "bfloat16": np.dtype(ml_dtypes.bfloat16),
  "float16": np.dtype(np.float16),
}


def require_model_dir(path: str | os.PathLike, what: str = "model") -> pathlib.Path:
  """`path` as a Path when it is an HF model folder; otherwise a clear error naming `what`."""
  path = pathlib.Path(path)
  if not (path / "config.json").is_file():
    raise FileNotFoundError(f"{what} {path}: not an HF model folder (no config.json)")
  return path


def _read_json(path: str) -> dict[str, Any]:
  try:
    with open(path, encoding="utf-8") as f:
      data = json.load(f)
  except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
    raise CheckpointError(f"{path}: cannot read: {e}") from e
  if not isinstance(data, dict):
    raise CheckpointError(f"{path}: a JSON {type(data).__name__}, expected an object")
  return data


def _is_value_model(hf_config: dict[str, Any], path: str) -> bool:
  """True for a token-classification (PPM) checkpoint, False for a causal LM; refuses other heads."""
  archs = hf_config.get("architectures") or []
  unknown = [a for a in archs if not a.endswith(("ForCausalLM", "ForTokenClassification"))]
  if unknown:
    raise CheckpointError(
      f"{path}: architecture {unknown[0]!r} is not supported "
      "(expected a *ForCausalLM policy or a *ForTokenClassification PPM)"
    )
  if any(a.endswith("ForTokenClassification") for a in archs):
    if hf_config.get("num_labels", len(hf_config.get("id2label") or {0: 0})) != 1:
      raise CheckpointError(f"{path}: a PPM checkpoint must have num_labels=1")
    return True
  return False


def _open_tensors(path: str) -> dict[str, SafetensorsFile]:
  """Maps every tensor name to the file that holds it (single file or index)."""
  index_path = os.path.join(path, INDEX_FILE)
  if os.path.exists(index_path):
    weight_map = _read_json(index_path).get("weight_map")
    if not isinstance(weight_map, dict) or not all(isinstance(f, str) for f in weight_map.values()):
      raise CheckpointError(f"{index_path}: no 'weight_map' of tensor names to file names")
    files = {
      name: SafetensorsFile(os.path.join(path, name)) for name in sorted(set(weight_map.values()))
    }
    located = {}
    for tensor, file in weight_map.items():
      if tensor not in files[file].names:
        raise CheckpointError(
          f"{files[file].path}: tensor {tensor!r} is listed in {INDEX_FILE} but missing"
        )
      located[tensor] = files[file]
    return located
  single = os.path.join(path, SINGLE_FILE)
  if not os.path.exists(single):
    raise CheckpointError(f"{path}: neither {SINGLE_FILE} nor {INDEX_FILE} found")
  f = SafetensorsFile(single)
  return dict.fromkeys(f.names, f)


def load_model(
  path: str | os.PathLike,
  *,
  dtype: str | None = None,
  compute_dtype: str | None = None,
  mesh: Mesh | None = None,
  rules: ShardingRules = DEFAULT_RULES,
) -> Transformer | ValueModel:
  """Loads an HF folder as a `Transformer` (causal LM) or `ValueModel` (token-classification PPM).

  `dtype`: parameter dtype (default: the checkpoint's `dtype`/`torch_dtype`, else float32);
  `compute_dtype` defaults to it. With `mesh`, each tensor lands directly on its sharding.
  """
  path = os.fspath(path)
  config_path = os.path.join(path, "config.json")
  hf_config = _read_json(config_path)
  stored = hf_config.get("dtype") or hf_config.get("torch_dtype")
  dtype = dtype or (stored if stored in DTYPES else "float32")
  config = ModelConfig.from_hf(config_path, param_dtype=dtype, compute_dtype=compute_dtype or dtype)
  value_head = _is_value_model(hf_config, config_path)
  cls = ValueModel if value_head else Transformer
  model = nnx.eval_shape(lambda: cls(config, rngs=nnx.Rngs(0)))
  if mesh is not None:
    shardings = nnx.to_flat_state(param_shardings(model, mesh, rules))
  else:
    device = NamedSharding(mesh_lib.single_device_mesh(), P())
    shardings = [(p, device) for p, _ in nnx.to_flat_state(nnx.state(model, nnx.Param))]
  sharding_of = {".".join(map(str, p)): s for p, s in shardings}
  abstract = {".".join(map(str, p)): v for p, v in nnx.to_flat_state(nnx.state(model, nnx.Param))}

  tensors = _open_tensors(path)
  mappings = name_map(config, value_head=value_head)
  expected = {m.hf_name for m in mappings}
  missing = sorted(expected - set(tensors))
  if missing:
    raise CheckpointError(
      f"{path}: missing tensors {missing[:8]}{' ...' if len(missing) > 8 else ''} "
      f"({len(missing)} in all) for a {config.family} model of {config.num_layers} layers"
    )
  tolerated = {"lm_head.weight"} if config.tie_embeddings else set()
  unexpected = sorted(
    n for n in set(tensors) - expected - tolerated if not n.endswith(IGNORED_SUFFIXES)
  )
  if unexpected:
    raise CheckpointError(
      f"{path}: unexpected tensors {unexpected[:8]} in "
      f"{sorted({tensors[n].path for n in unexpected})[:3]} (config/checkpoint mismatch?)"
    )

  target = _NP_DTYPES[dtype]
  loaded: dict[str, jax.Array] = {}
  for m in mappings:
    file = tensors[m.hf_name]
    if file.shape(m.hf_name) != m.hf_shape:
      raise CheckpointError(
        f"{file.path}: tensor {m.hf_name!r} has shape {file.shape(m.hf_name)}, "
        f"the config expects {m.hf_shape}"
      )
    parts = m.to_ours(file.get(m.hf_name), [abstract[p].shape for p in m.paths])
    for p, part in zip(m.paths, parts):
      host = np.asarray(part, dtype=target)
      loaded[p] = jax.make_array_from_callback(
        host.shape, sharding_of[p], lambda idx, h=host: h[idx]
      )
  state = nnx.state(model, nnx.Param)
  flat = [(path_, loaded[".".join(map(str, path_))]) for path_, _ in nnx.to_flat_state(state)]
  nnx.update(model, nnx.from_flat_state(flat))
  return model


def _host(array: jax.Array) -> np.ndarray:
  if array.is_fully_addressable:
    return np.asarray(jax.device_get(array))
  return np.asarray(multihost_utils.process_allgather(array, tiled=True))


def save_model(
  model: Transformer | ValueModel,
  path: str | os.PathLike,
  *,
  tokenizer: Any = None,
  max_shard_bytes: int = 4 * 2**30,
  dtype: str | None = None,
) -> None:
  """Writes an HF folder (sharded safetensors + index when over `max_shard_bytes`, config.json,
  tokenizer files when given). Tensors are gathered and written one at a time."""
  path = os.fspath(path)
  os.makedirs(path, exist_ok=True)
  config: ModelConfig = model.config
  dtype = dtype or config.param_dtype
  value_head = isinstance(model, ValueModel)
  params = {
    ".".join(map(str, p)): v[...] for p, v in nnx.to_flat_state(nnx.state(model, nnx.Param))
  }
  np_dtype = _NP_DTYPES[dtype]

  def producer(m: TensorMapping):
    return lambda: m.to_hf([_host(params[p]).astype(np_dtype) for p in m.paths])

  planned = [
    TensorToWrite(m.hf_name, m.hf_shape, np_dtype, producer(m))
    for m in name_map(config, value_head=value_head)
  ]
  shards: list[list[TensorToWrite]] = [[]]
  for t in planned:
    if shards[-1] and sum(x.nbytes for x in shards[-1]) + t.nbytes > max_shard_bytes:
      shards.append([])
    shards[-1].append(t)
  if len(shards) == 1:
    write_safetensors(os.path.join(path, SINGLE_FILE), shards[0])
  else:
    weight_map = {}
    for i, shard in enumerate(shards):
      name = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
      write_safetensors(os.path.join(path, name), shard)
      weight_map.update({t.name: name for t in shard})
    index = {"metadata": {"total_size": sum(t.nbytes for t in planned)}, "weight_map": weight_map}
    with open(os.path.join(path, INDEX_FILE), "w") as f:
      json.dump(index, f, indent=2)
  hf_config = config.to_hf_dict(
    architecture="ForTokenClassification" if value_head else "ForCausalLM"
  )
  hf_config["dtype"] = dtype
  if value_head:
    hf_config.update(num_labels=1, id2label={"0": "LABEL_0"}, label2id={"LABEL_0": 0})
  with open(os.path.join(path, "config.json"), "w") as f:
    json.dump(hf_config, f, indent=2)
  if tokenizer is not None:
    tokenizer.save_pretrained(path)
