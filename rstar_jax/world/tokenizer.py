"""A byte-level BPE tokenizer trained on the world's text, saved in Hugging Face format.

The step markers, an end-of-text token and a pad token are single special tokens, so generation
stops and the trainers' masks see them whole; byte-level BPE means any text round-trips.
Digits are split one per token, as Qwen2's tokenizer does: a number is then copied digit by
digit instead of through a rarely seen whole-number token, which a tiny model cannot learn.
"""

from __future__ import annotations

from collections.abc import Iterable
import os

import tokenizers
import transformers

from rstar_jax.format.prompts import STEP_MARKERS
from rstar_jax.runtime import files

PAD = "<|pad|>"
EOS = "<|endoftext|>"
SPECIAL_TOKENS = (PAD, EOS, *STEP_MARKERS)


def train_tokenizer(
  texts: Iterable[str], vocab_size: int = 1024
) -> transformers.PreTrainedTokenizerFast:
  """Trains the BPE on `texts`; ids 0 and 1 are pad and eos, then the step markers."""
  if vocab_size < 256 + len(SPECIAL_TOKENS):
    raise ValueError(
      f"vocab_size={vocab_size} cannot hold the 256 bytes and {len(SPECIAL_TOKENS)} special tokens"
    )
  tok = tokenizers.Tokenizer(tokenizers.models.BPE())
  tok.pre_tokenizer = tokenizers.pre_tokenizers.Sequence(
    [
      tokenizers.pre_tokenizers.Digits(individual_digits=True),
      tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False),
    ]
  )
  tok.decoder = tokenizers.decoders.ByteLevel()
  trainer = tokenizers.trainers.BpeTrainer(
    vocab_size=vocab_size,
    special_tokens=list(SPECIAL_TOKENS),
    show_progress=False,
    initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet(),
  )
  tok.train_from_iterator(texts, trainer)
  return transformers.PreTrainedTokenizerFast(
    tokenizer_object=tok, pad_token=PAD, eos_token=EOS, additional_special_tokens=list(STEP_MARKERS)
  )


def save_tokenizer(tok: transformers.PreTrainedTokenizerBase, path: str | os.PathLike) -> None:
  """Writes the HF tokenizer folder atomically (a temporary folder renamed into place)."""
  with files.atomic_path(path) as tmp:
    tok.save_pretrained(os.fspath(tmp))
