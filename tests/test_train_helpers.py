"""Shared helpers of the training tests: a tiny BPE tokenizer with the step markers and datasets.

Holds no tests itself; the `test_train*`, `test_sft*`, `test_ppm*` modules import it.
"""

from collections.abc import Sequence
import functools
import pathlib
from typing import Any

from flax import nnx
import jax
import tokenizers
from tokenizers import decoders
from tokenizers import models as bpe_models
from tokenizers import pre_tokenizers
from tokenizers import trainers
from transformers import PreTrainedTokenizerFast

from rstar_jax import models
from rstar_jax.data import records as data_records
from rstar_jax.format import prompts
from rstar_jax.runtime import mesh as mesh_lib
from rstar_jax.training.sft import train_sft

EOS = "<|endoftext|>"
PAD = "<|pad|>"
CORPUS = [
  "Let's think step by step and solve the problem with code.",
  "# Step 1: total apples bought\nbought = 3 * 5\n",
  "print(left)\n",
  "The answer is \\boxed{18}.",
  "What is 12 plus 7? How many apples are left? Compute the sum of the numbers.",
  "x = 1\ny = x + 2\nz = y * 3\n0123456789 + - * / = ( ) { } [ ]",
]


@functools.cache
def tiny_tokenizer(vocab_size: int = 320) -> PreTrainedTokenizerFast:
  """A byte-level BPE trained on a few lines; the step markers are special tokens."""
  tok = tokenizers.Tokenizer(bpe_models.BPE())
  tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
  tok.decoder = decoders.ByteLevel()
  trainer = trainers.BpeTrainer(
    vocab_size=vocab_size,
    special_tokens=[EOS, PAD, *prompts.STEP_MARKERS],
    initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
  )
  tok.train_from_iterator(CORPUS * 4, trainer)
  return PreTrainedTokenizerFast(
    tokenizer_object=tok,
    eos_token=EOS,
    pad_token=PAD,
    additional_special_tokens=list(prompts.STEP_MARKERS),
  )


def write(
  directory: pathlib.Path, rows: Sequence[dict[str, Any]], schema: str, per_shard: int = 10_000
) -> pathlib.Path:
  data_records.write_dataset(directory, list(rows), schema=schema, records_per_shard=per_shard)
  return directory


def tiny_config(vocab_size: int, *, hidden: int = 32, layers: int = 2) -> models.ModelConfig:
  return models.ModelConfig(
    vocab_size=vocab_size,
    hidden_size=hidden,
    intermediate_size=2 * hidden,
    num_layers=layers,
    num_heads=4,
    num_kv_heads=2,
    head_dim=hidden // 4,
    max_position_embeddings=1024,
  )


def tiny_policy(
  vocab_size: int, mesh, *, hidden: int = 32, layers: int = 2, seed: int = 0
) -> models.Transformer:
  """A small random Qwen2-family policy created directly on `mesh`'s shardings."""
  with jax.set_mesh(mesh):
    return models.Transformer(
      tiny_config(vocab_size, hidden=hidden, layers=layers), rngs=nnx.Rngs(seed)
    )


def train_tiny_sft(data_dir, out_dir, cfg, *, hidden: int = 32, callbacks=(), stop=None):
  """`train_sft` of a fresh `tiny_policy` (the same initialisation every call) on one device."""
  tok = tiny_tokenizer()
  mesh = mesh_lib.single_device_mesh()
  return train_sft(
    cfg,
    data_dir=data_dir,
    init=tiny_policy(len(tok), mesh, hidden=hidden),
    tokenizer=tok,
    out_dir=out_dir,
    mesh=mesh,
    callbacks=callbacks,
    stop=stop,
  )
