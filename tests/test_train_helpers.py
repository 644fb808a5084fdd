"""Shared helpers of the training tests: a tiny BPE tokenizer with the step markers and datasets.

Holds no tests itself; the `test_train*`, `test_sft*`, `test_ppm*` modules import it.
"""
import functools
import pathlib
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import tokenizers
from flax import nnx
from tokenizers import decoders
from tokenizers import models
from tokenizers import pre_tokenizers
from tokenizers import trainers
from transformers import PreTrainedTokenizerFast

from rstar_jax.data import records as data_records
from rstar_jax.search import prompts

EOS = "<|endoftext|>"
PAD = "<|pad|>"
CORPUS = [
    "Let's think step by step and solve the problem with code.",
    "# Step 1: total apples bought\nbought = 3 * 5\n", "print(left)\n", "The answer is \\boxed{18}.",
    "What is 12 plus 7? How many apples are left? Compute the sum of the numbers.",
    "x = 1\ny = x + 2\nz = y * 3\n0123456789 + - * / = ( ) { } [ ]",
]


@functools.cache
def tiny_tokenizer(vocab_size: int = 320) -> PreTrainedTokenizerFast:
  """A byte-level BPE trained on a few lines; the step markers are special tokens."""
  tok = tokenizers.Tokenizer(models.BPE())
  tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
  tok.decoder = decoders.ByteLevel()
  trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOS, PAD, *prompts.STEP_MARKERS],
                                initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
  tok.train_from_iterator(CORPUS * 4, trainer)
  return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, pad_token=PAD,
                                 additional_special_tokens=list(prompts.STEP_MARKERS))


def write(directory: pathlib.Path, rows: Sequence[dict[str, Any]], schema: str,
          per_shard: int = 10_000) -> pathlib.Path:
  data_records.write_dataset(directory, list(rows), schema=schema, records_per_shard=per_shard)
  return directory


class _StandInPolicy(nnx.Module):
  """Temporary stand-in with the Transformer interface until rstar_jax.models lands."""

  def __init__(self, vocab, d, rngs):
    self.embed_w = nnx.Param(jax.random.normal(rngs.params(), (vocab, d)) * 0.1,
                             sharding_names=(None, "tensor"))
    self.layers = nnx.List([nnx.Linear(d, d, rngs=rngs, kernel_metadata={"sharding_names": ("fsdp", "tensor")}) for _ in range(2)])
    self.out = nnx.Param(jax.random.normal(rngs.params(), (d, vocab)) * 0.1,
                         sharding_names=("tensor", None))

  def hidden_states(self, tokens_bt, positions_bt=None, *, mask_bt=None):
    x = self.embed_w[...][tokens_bt]
    x = x + jnp.cumsum(x, axis=1) / jnp.arange(1, x.shape[1] + 1)[None, :, None]
    for layer in self.layers:
      x = x + jnp.tanh(layer(x))
    return x

  def logits(self, h):
    return h @ self.out[...]

  def __call__(self, tokens_bt, positions_bt=None, *, mask_bt=None):
    return self.logits(self.hidden_states(tokens_bt, mask_bt=mask_bt))


def tiny_policy(vocab_size: int, mesh, *, hidden: int = 32, seed: int = 0):
  with jax.set_mesh(mesh):
    return _StandInPolicy(vocab_size, hidden, nnx.Rngs(seed))
