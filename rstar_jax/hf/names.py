"""The one name map between Hugging Face tensors and our parameters, used in both directions.

Our kernels are stored input-dims-first ([D, N, H], [N, H, D], [D, F]); HF linear weights are
[out, in]. Phi-3's fused `qkv_proj` / `gate_up_proj` map onto several of our parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
import dataclasses

import numpy as np

from rstar_jax.models.config import ModelConfig


@dataclasses.dataclass(frozen=True)
class TensorMapping:
  """One HF tensor <-> one or more of our parameters (dotted state paths)."""

  hf_name: str
  paths: tuple[str, ...]
  hf_shape: tuple[int, ...]
  linear: bool  # HF [out, in] weight, possibly fused over `paths` along `out`
  rows: tuple[int, ...] = ()  # HF rows (out features) per path, for linear mappings

  def to_ours(self, hf: np.ndarray, shapes: Sequence[tuple[int, ...]]) -> list[np.ndarray]:
    if not self.linear:
      return [np.reshape(hf, shapes[0])]
    parts = np.split(hf, np.cumsum(self.rows)[:-1], axis=0)
    return [np.reshape(p.T, shape) for p, shape in zip(parts, shapes)]

  def to_hf(self, ours: Sequence[np.ndarray]) -> np.ndarray:
    if not self.linear:
      return np.reshape(ours[0], self.hf_shape)
    return np.concatenate([np.reshape(a, (-1, r)).T for a, r in zip(ours, self.rows)], axis=0)


def name_map(config: ModelConfig, *, value_head: bool = False) -> list[TensorMapping]:
  c = config
  d, f, h = c.hidden_size, c.intermediate_size, c.head_dim
  q_rows, kv_rows = c.num_heads * h, c.num_kv_heads * h
  out = [TensorMapping("model.embed_tokens.weight", ("embed.embedding",), (c.vocab_size, d), False)]
  for i in range(c.num_layers):
    hf, ours = f"model.layers.{i}.", f"layers.{i}."
    attn = ours + "attn."
    out.append(
      TensorMapping(hf + "input_layernorm.weight", (ours + "attn_norm.scale",), (d,), False)
    )
    out.append(
      TensorMapping(hf + "post_attention_layernorm.weight", (ours + "mlp_norm.scale",), (d,), False)
    )
    if c.family == "phi3":
      out.append(
        TensorMapping(
          hf + "self_attn.qkv_proj.weight",
          (attn + "q_proj", attn + "k_proj", attn + "v_proj"),
          (q_rows + 2 * kv_rows, d),
          True,
          (q_rows, kv_rows, kv_rows),
        )
      )
      out.append(
        TensorMapping(
          hf + "mlp.gate_up_proj.weight",
          (ours + "mlp.gate", ours + "mlp.up"),
          (2 * f, d),
          True,
          (f, f),
        )
      )
    else:
      for name, rows in (("q", q_rows), ("k", kv_rows), ("v", kv_rows)):
        out.append(
          TensorMapping(
            hf + f"self_attn.{name}_proj.weight", (attn + f"{name}_proj",), (rows, d), True, (rows,)
          )
        )
        if c.qkv_bias:
          out.append(
            TensorMapping(
              hf + f"self_attn.{name}_proj.bias", (attn + f"{name}_bias",), (rows,), False
            )
          )
      out.append(
        TensorMapping(hf + "mlp.gate_proj.weight", (ours + "mlp.gate",), (f, d), True, (f,))
      )
      out.append(TensorMapping(hf + "mlp.up_proj.weight", (ours + "mlp.up",), (f, d), True, (f,)))
    out.append(
      TensorMapping(hf + "self_attn.o_proj.weight", (attn + "o_proj",), (d, q_rows), True, (d,))
    )
    if c.o_bias:
      out.append(TensorMapping(hf + "self_attn.o_proj.bias", (attn + "o_bias",), (d,), False))
    out.append(TensorMapping(hf + "mlp.down_proj.weight", (ours + "mlp.down",), (d, f), True, (d,)))
  out.append(TensorMapping("model.norm.weight", ("final_norm.scale",), (d,), False))
  if value_head:
    out.append(TensorMapping("score.weight", ("score_kernel",), (1, d), True, (1,)))
    out.append(TensorMapping("score.bias", ("score_bias",), (1,), False))
  elif not c.tie_embeddings:
    out.append(
      TensorMapping("lm_head.weight", ("lm_head",), (c.vocab_size, d), True, (c.vocab_size,))
    )
  return out


# Tensors a checkpoint may carry that we derive instead of load.
IGNORED_SUFFIXES = ("rotary_emb.inv_freq",)
