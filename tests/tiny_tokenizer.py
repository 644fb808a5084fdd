"""A small byte-level BPE tokenizer with the step markers as special tokens (built locally), and
a tiny engine and scorer that use it."""

from __future__ import annotations

import functools
import pathlib
from typing import Any

from tiny_hf import make_tiny_hf_model
import tokenizers
import transformers

from rstar_jax.format.prompts import STEP_MARKERS
from rstar_jax.hf import load_model
from rstar_jax.inference import Engine
from rstar_jax.inference import EngineConfig
from rstar_jax.inference import Scorer
from rstar_jax.inference import ScorerConfig
from rstar_jax.models import ValueModel

CORPUS = [
  "<|user|>:\nTom has 3 apples and buys 5 more. How many apples now?\n<|assistant|>: Let's think step by step "
  "and solve the problem with code.<code>\n# Step 1: add\ntotal = 3 + 5\n<end_of_step>\nprint(total)\n"
  "<end_of_code>\n<output>8<end_of_output>\n<answer>The answer is \\boxed{8}.<end_of_answer>",
  "step end answer output code print total apples more less each bags boxes",
] * 20


@functools.cache
def _tokenizer_json(vocab_size: int) -> str:
  tok = tokenizers.Tokenizer(tokenizers.models.BPE())
  tok.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
  tok.decoder = tokenizers.decoders.ByteLevel()
  special = ["<pad>", "<eos>", *STEP_MARKERS]
  trainer = tokenizers.trainers.BpeTrainer(
    vocab_size=vocab_size,
    special_tokens=special,
    initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet(),
  )
  tok.train_from_iterator(CORPUS, trainer)
  return tok.to_str()


def tiny_tokenizer(vocab_size: int = 320) -> transformers.PreTrainedTokenizerFast:
  """Vocabulary <= vocab_size; markers are single special tokens; pad = 0, eos = 1."""
  return transformers.PreTrainedTokenizerFast(
    tokenizer_object=tokenizers.Tokenizer.from_str(_tokenizer_json(vocab_size)),
    pad_token="<pad>",
    eos_token="<eos>",
    additional_special_tokens=list(STEP_MARKERS),
  )


def tiny_engine_and_scorer(
  directory: pathlib.Path,
  engine_config: EngineConfig = EngineConfig(decode_chunk=8),
  scorer_config: ScorerConfig = ScorerConfig(),
) -> tuple[Engine, Scorer, Any]:
  """A random tiny Qwen2 policy saved in `directory` and loaded back, served as an `Engine`, with
  a `Scorer` on a value model of its backbone, and their tokenizer."""
  make_tiny_hf_model(directory, "qwen2", vocab_size=320, eos_token_id=1, pad_token_id=0)
  tok = tiny_tokenizer()
  policy = load_model(directory)
  return (
    Engine(policy, tok, engine_config),
    Scorer(ValueModel.from_policy(policy), tok, scorer_config),
    tok,
  )
