"""Builds tiny random transformers models of each supported family, saved locally (no hub)."""

from __future__ import annotations

import pathlib
from typing import Any

import torch
import transformers

_CONFIG_CLASSES = {
  "qwen2": transformers.Qwen2Config,
  "llama": transformers.LlamaConfig,
  "phi3": transformers.Phi3Config,
}


def tiny_hf_config(
  family: str = "qwen2",
  *,
  vocab_size: int = 320,
  hidden_size: int = 64,
  intermediate_size: int = 128,
  num_layers: int = 2,
  num_heads: int = 4,
  num_kv_heads: int = 2,
  tie_embeddings: bool = False,
  max_position_embeddings: int = 1024,
  **extra: Any,
) -> transformers.PretrainedConfig:
  kwargs = dict(
    vocab_size=vocab_size,
    hidden_size=hidden_size,
    intermediate_size=intermediate_size,
    num_hidden_layers=num_layers,
    num_attention_heads=num_heads,
    num_key_value_heads=num_kv_heads,
    tie_word_embeddings=tie_embeddings,
    max_position_embeddings=max_position_embeddings,
    bos_token_id=1,
    eos_token_id=2,
    pad_token_id=0,
  )
  kwargs.update(extra)
  return _CONFIG_CLASSES[family](**kwargs)


def make_tiny_hf_model(
  path: str | pathlib.Path,
  family: str = "qwen2",
  *,
  seed: int = 0,
  head: str = "causal_lm",
  **config_kwargs: Any,
) -> torch.nn.Module:
  """Saves a random fp32 model (`head`: 'causal_lm' or 'token_classification') to `path`.

  Weights are re-drawn with a larger std than transformers' default so that parity tests
  exercise every parameter (biases and norm scales included) instead of near-zero activations.
  """
  config = tiny_hf_config(family, **config_kwargs)
  torch.manual_seed(seed)
  if head == "token_classification":
    config.num_labels = 1
    model = transformers.AutoModelForTokenClassification.from_config(config)
  else:
    model = transformers.AutoModelForCausalLM.from_config(config)
  with torch.no_grad():
    for name, p in model.named_parameters():
      if name.endswith("norm.weight"):
        p.copy_(1.0 + 0.1 * torch.randn_like(p))
      else:
        p.copy_(0.08 * torch.randn_like(p))
  model = model.float().eval()
  model.save_pretrained(str(path))
  return model
