"""Model configuration: one frozen dataclass for every supported decoder family.

`ModelConfig.from_hf` accepts both the transformers 4 layout (`rope_theta`, `rope_scaling` at the
top level, as in the released Qwen2.5-Math / Phi-3 checkpoints) and the transformers 5 layout
(`rope_parameters`), and refuses anything it would otherwise get silently wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
import dataclasses
import json
import os
from typing import Any

FAMILIES = ("qwen2", "llama", "phi3")
ROPE_TYPES = ("default", "linear", "llama3", "longrope")
DTYPES = ("float32", "bfloat16", "float16")
_HF_ARCH = {"qwen2": "Qwen2", "llama": "Llama", "phi3": "Phi3"}


class UnsupportedConfigError(ValueError):
  """A Hugging Face config asks for something this implementation does not compute."""


@dataclasses.dataclass(frozen=True)
class RopeConfig:
  """Rotary embedding variant; fields beyond `theta` only matter for their `kind`."""

  theta: float = 10000.0
  kind: str = "default"
  factor: float = 1.0
  low_freq_factor: float = 1.0  # llama3
  high_freq_factor: float = 4.0  # llama3
  original_max_position_embeddings: int | None = None  # llama3, longrope
  short_factor: tuple[float, ...] | None = None  # longrope
  long_factor: tuple[float, ...] | None = None  # longrope
  attention_factor: float | None = None  # longrope (derived from factor when None)
  partial_rotary_factor: float = 1.0

  def __post_init__(self):
    if self.kind not in ROPE_TYPES:
      raise UnsupportedConfigError(
        f"rope type {self.kind!r} is not supported (supported: {ROPE_TYPES})"
      )
    if self.kind == "longrope" and (
      self.short_factor is None
      or self.long_factor is None
      or self.original_max_position_embeddings is None
    ):
      raise UnsupportedConfigError(
        "longrope needs short_factor, long_factor and original_max_position_embeddings"
      )
    if self.kind == "llama3" and self.original_max_position_embeddings is None:
      raise UnsupportedConfigError("llama3 rope scaling needs original_max_position_embeddings")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  """Decoder-only transformer hyper-parameters (Qwen2 / Llama / Phi-3 families)."""

  family: str = "qwen2"
  vocab_size: int = 1024
  hidden_size: int = 128
  intermediate_size: int = 384
  num_layers: int = 2
  num_heads: int = 4
  num_kv_heads: int = 2
  head_dim: int = 32
  rope: RopeConfig = RopeConfig()
  rms_norm_eps: float = 1e-6
  qkv_bias: bool = True
  o_bias: bool = False
  tie_embeddings: bool = False
  max_position_embeddings: int = 4096
  sliding_window: int | None = None
  bos_token_id: int | None = None
  eos_token_id: int | tuple[int, ...] | None = None
  pad_token_id: int | None = None
  param_dtype: str = "float32"
  compute_dtype: str = "float32"

  def __post_init__(self):
    if self.family not in FAMILIES:
      raise UnsupportedConfigError(
        f"model family {self.family!r} is not supported (supported: {FAMILIES})"
      )
    if self.num_heads % self.num_kv_heads:
      raise ValueError(
        f"num_heads={self.num_heads} is not a multiple of num_kv_heads={self.num_kv_heads}"
      )
    for name in ("param_dtype", "compute_dtype"):
      if getattr(self, name) not in DTYPES:
        raise ValueError(f"{name}={getattr(self, name)!r}; expected one of {DTYPES}")

  def replace(self, **changes: Any) -> ModelConfig:
    return dataclasses.replace(self, **changes)

  @property
  def rotary_dim(self) -> int:
    return int(self.head_dim * self.rope.partial_rotary_factor)

  @property
  def eos_token_ids(self) -> tuple[int, ...]:
    if self.eos_token_id is None:
      return ()
    return self.eos_token_id if isinstance(self.eos_token_id, tuple) else (self.eos_token_id,)

  def num_params(self) -> int:
    d, f, v, h = self.hidden_size, self.intermediate_size, self.vocab_size, self.head_dim
    attn = d * h * (self.num_heads * 2 + self.num_kv_heads * 2)
    attn += (self.num_heads + 2 * self.num_kv_heads) * h if self.qkv_bias else 0
    attn += d if self.o_bias else 0
    per_layer = attn + 3 * d * f + 2 * d
    return v * d * (1 if self.tie_embeddings else 2) + self.num_layers * per_layer + d

  # ---- Hugging Face config.json ----

  @classmethod
  def from_hf(cls, source: str | os.PathLike | Mapping[str, Any], **overrides: Any) -> ModelConfig:
    """Builds a config from an HF `config.json` (path, folder or dict); `overrides` e.g. dtypes."""
    where = "config dict"
    if not isinstance(source, Mapping):
      path = os.fspath(source)
      if os.path.isdir(path):
        path = os.path.join(path, "config.json")
      where = path
      try:
        with open(path, encoding="utf-8") as f:
          source = json.load(f)
      except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: cannot read model config: {e}") from e
    if not isinstance(source, Mapping):
      raise ValueError(f"{where}: a JSON {type(source).__name__}, expected an object")
    try:
      return cls(**_fields_from_hf(dict(source)), **overrides)
    except UnsupportedConfigError as e:
      raise UnsupportedConfigError(f"{where}: {e}") from e
    except KeyError as e:
      raise ValueError(f"{where}: required field {e} is missing") from e
    except ValueError as e:
      raise ValueError(f"{where}: {e}") from e

  def to_hf_dict(self, *, architecture: str = "ForCausalLM") -> dict[str, Any]:
    """The transformers (5.x) config.json for this model; `architecture` picks the head class."""
    rope: dict[str, Any] = {"rope_theta": self.rope.theta, "rope_type": self.rope.kind}
    if self.rope.kind == "linear":
      rope["factor"] = self.rope.factor
    elif self.rope.kind == "llama3":
      rope.update(
        factor=self.rope.factor,
        low_freq_factor=self.rope.low_freq_factor,
        high_freq_factor=self.rope.high_freq_factor,
        original_max_position_embeddings=self.rope.original_max_position_embeddings,
      )
    elif self.rope.kind == "longrope":
      rope.update(
        short_factor=list(self.rope.short_factor),
        long_factor=list(self.rope.long_factor),
        factor=self.rope.factor,
        original_max_position_embeddings=self.rope.original_max_position_embeddings,
      )
      if self.rope.attention_factor is not None:
        rope["attention_factor"] = self.rope.attention_factor
    if self.rope.partial_rotary_factor != 1.0 or self.family == "phi3":
      rope["partial_rotary_factor"] = self.rope.partial_rotary_factor
    eos = list(self.eos_token_id) if isinstance(self.eos_token_id, tuple) else self.eos_token_id
    out: dict[str, Any] = {
      "architectures": [_HF_ARCH[self.family] + architecture],
      "model_type": self.family,
      "vocab_size": self.vocab_size,
      "hidden_size": self.hidden_size,
      "intermediate_size": self.intermediate_size,
      "num_hidden_layers": self.num_layers,
      "num_attention_heads": self.num_heads,
      "num_key_value_heads": self.num_kv_heads,
      "head_dim": self.head_dim,
      "hidden_act": "silu",
      "max_position_embeddings": self.max_position_embeddings,
      "rms_norm_eps": self.rms_norm_eps,
      "rope_parameters": rope,
      "rope_theta": self.rope.theta,
      "tie_word_embeddings": self.tie_embeddings,
      "bos_token_id": self.bos_token_id,
      "eos_token_id": eos,
      "pad_token_id": self.pad_token_id,
      "dtype": self.param_dtype,
      "use_cache": True,
    }
    if self.family == "qwen2":
      out.update(
        use_sliding_window=False,
        sliding_window=None,
        layer_types=["full_attention"] * self.num_layers,
      )
    elif self.family == "llama":
      out.update(attention_bias=self.qkv_bias, mlp_bias=False)
    else:
      out.update(
        sliding_window=self.sliding_window,
        original_max_position_embeddings=self.rope.original_max_position_embeddings
        or self.max_position_embeddings,
      )
    return out


def _is_int(value: Any, least: int) -> bool:
  return isinstance(value, int) and not isinstance(value, bool) and value >= least


def _is_number(value: Any) -> bool:
  return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_token_ids(value: Any) -> bool:
  return _is_int(value, 0) or (isinstance(value, list) and all(_is_int(v, 0) for v in value))


_Kind = tuple[Callable[[Any], bool], str]
_SIZE: _Kind = (lambda v: _is_int(v, 1), "a positive integer")
_NUMBER: _Kind = (_is_number, "a number")
_RATIOS: _Kind = (lambda v: isinstance(v, list) and all(map(_is_number, v)), "a list of numbers")
_ROPE_KINDS: dict[str, _Kind] = {
  **dict.fromkeys(("rope_type", "type"), (lambda v: isinstance(v, str), "a string")),
  **dict.fromkeys(
    (
      "rope_theta",
      "factor",
      "low_freq_factor",
      "high_freq_factor",
      "attention_factor",
      "partial_rotary_factor",
    ),
    _NUMBER,
  ),
  "original_max_position_embeddings": _SIZE,
  "short_factor": _RATIOS,
  "long_factor": _RATIOS,
}
# How config.json's values must look (null is always accepted: the field is then absent), so that
# a value of another type is refused with its key named instead of failing deep in the model.
_HF_KINDS: dict[str, _Kind | dict[str, _Kind]] = {
  **dict.fromkeys(
    (
      "vocab_size",
      "hidden_size",
      "intermediate_size",
      "num_hidden_layers",
      "num_attention_heads",
      "num_key_value_heads",
      "head_dim",
      "max_position_embeddings",
      "original_max_position_embeddings",
      "sliding_window",
    ),
    _SIZE,
  ),
  **dict.fromkeys(("rms_norm_eps", "rope_theta", "partial_rotary_factor"), _NUMBER),
  **dict.fromkeys(("bos_token_id", "pad_token_id"), (lambda v: _is_int(v, 0), "a token id")),
  "eos_token_id": (_is_token_ids, "a token id or a list of them"),
  **dict.fromkeys(
    ("tie_word_embeddings", "attention_bias", "mlp_bias", "use_sliding_window"),
    (lambda v: isinstance(v, bool), "true or false"),
  ),
  "hidden_act": (lambda v: isinstance(v, str), "a string"),
  "rope_parameters": _ROPE_KINDS,
  "rope_scaling": _ROPE_KINDS,
}
_HF_REQUIRED = (
  "vocab_size",
  "hidden_size",
  "intermediate_size",
  "num_hidden_layers",
  "num_attention_heads",
)


def _check_kinds(hf: Mapping[str, Any], kinds: Mapping[str, Any], prefix: str = "") -> None:
  """Raises a ValueError naming the first key of `hf` whose value is not of its kind."""
  for key, value in hf.items():
    kind = kinds.get(key)
    if value is None or kind is None:
      continue
    if isinstance(kind, Mapping):
      if not isinstance(value, Mapping):
        raise ValueError(f"field {prefix + key!r} is {value!r}, expected an object")
      _check_kinds(value, kind, f"{prefix}{key}.")
      continue
    accepts, expected = kind
    if not accepts(value):
      raise ValueError(f"field {prefix + key!r} is {value!r}, expected {expected}")


def _fields_from_hf(hf: dict[str, Any]) -> dict[str, Any]:
  family = hf.get("model_type")
  if family not in FAMILIES:
    raise UnsupportedConfigError(
      f"unknown model_type {family!r} (architectures={hf.get('architectures')}); supported: {FAMILIES}"
    )
  for key in _HF_REQUIRED:
    if hf.get(key) is None:
      raise ValueError(f"required field {key!r} is missing")
  _check_kinds(hf, _HF_KINDS)
  if hf.get("hidden_act", "silu") != "silu":
    raise UnsupportedConfigError(f"hidden_act={hf['hidden_act']!r} is not supported (only silu)")
  if hf.get("mlp_bias"):
    raise UnsupportedConfigError("mlp_bias=true is not supported")
  heads = hf["num_attention_heads"]
  fields: dict[str, Any] = dict(
    family=family,
    vocab_size=hf["vocab_size"],
    hidden_size=hf["hidden_size"],
    intermediate_size=hf["intermediate_size"],
    num_layers=hf["num_hidden_layers"],
    num_heads=heads,
    num_kv_heads=hf.get("num_key_value_heads") or heads,
    head_dim=hf.get("head_dim") or hf["hidden_size"] // heads,
    rope=_rope_from_hf(hf),
    rms_norm_eps=hf.get("rms_norm_eps", 1e-6),
    tie_embeddings=bool(hf.get("tie_word_embeddings", False)),
    max_position_embeddings=hf.get("max_position_embeddings", 4096),
    bos_token_id=hf.get("bos_token_id"),
    eos_token_id=tuple(hf["eos_token_id"])
    if isinstance(hf.get("eos_token_id"), list)
    else hf.get("eos_token_id"),
    pad_token_id=hf.get("pad_token_id"),
  )
  if family == "qwen2":
    layer_types = hf.get("layer_types") or []
    if hf.get("use_sliding_window") or any(t != "full_attention" for t in layer_types):
      raise UnsupportedConfigError(
        "Qwen2 sliding-window layers (use_sliding_window=true) are not supported"
      )
    fields.update(qkv_bias=True, o_bias=False)
  elif family == "llama":
    bias = bool(hf.get("attention_bias", False))
    fields.update(qkv_bias=bias, o_bias=bias)
  else:
    fields.update(qkv_bias=False, o_bias=False, sliding_window=hf.get("sliding_window"))
  return fields


def _rope_from_hf(hf: dict[str, Any]) -> RopeConfig:
  params = dict(hf.get("rope_parameters") or {})
  legacy = hf.get("rope_scaling") or {}
  params = {**legacy, **params}
  theta = params.get("rope_theta", hf.get("rope_theta", 10000.0))
  kind = params.get("rope_type", params.get("type", "default")) or "default"
  if kind == "su":  # early Phi-3 name of longrope
    kind = "longrope"
  partial = params.get("partial_rotary_factor", hf.get("partial_rotary_factor", 1.0))
  if kind == "default":
    return RopeConfig(theta=theta, partial_rotary_factor=partial)
  if kind == "linear":
    return RopeConfig(
      theta=theta, kind=kind, factor=params["factor"], partial_rotary_factor=partial
    )
  if kind == "llama3":
    return RopeConfig(
      theta=theta,
      kind=kind,
      factor=params["factor"],
      low_freq_factor=params["low_freq_factor"],
      high_freq_factor=params["high_freq_factor"],
      original_max_position_embeddings=params["original_max_position_embeddings"],
      partial_rotary_factor=partial,
    )
  if kind == "longrope":
    # Like transformers: Phi-3's top-level original_max_position_embeddings wins, and a missing
    # factor is the context extension ratio.
    original = (
      hf.get("original_max_position_embeddings") or params["original_max_position_embeddings"]
    )
    factor = params.get("factor") or hf.get("max_position_embeddings", original) / original
    return RopeConfig(
      theta=theta,
      kind=kind,
      factor=factor,
      short_factor=tuple(params["short_factor"]),
      long_factor=tuple(params["long_factor"]),
      original_max_position_embeddings=original,
      attention_factor=params.get("attention_factor"),
      partial_rotary_factor=partial,
    )
  raise UnsupportedConfigError(f"rope type {kind!r} is not supported (supported: {ROPE_TYPES})")
