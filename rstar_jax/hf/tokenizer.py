"""Tokenizers: transformers' fast tokenizers, loaded from a local folder only."""

import copy
import os

import transformers

from rstar_jax.format.prompts import STEP_MARKERS


def load_tokenizer(path: str | os.PathLike) -> transformers.PreTrainedTokenizerBase:
  return transformers.AutoTokenizer.from_pretrained(os.fspath(path), local_files_only=True)


def with_step_markers(
  tokenizer: transformers.PreTrainedTokenizerBase,
) -> tuple[transformers.PreTrainedTokenizerBase, tuple[int, ...]]:
  """The tokenizer with every step marker as a special token, and the ids of those it lacked.

  A base model's tokenizer (Qwen2.5-Math) splits `<code>` into pieces; as the official trainers
  do, each missing marker becomes one special token, appended in their order (`STEP_MARKERS`),
  so a base tokenizer gives the markers the official ids. A tokenizer that has them all (the
  built-in world's, any trained policy's) is returned as is, otherwise a copy: the caller's is
  not modified. The model must then hold `len(tokenizer)` ids (`models.vocab.grow_vocab`).
  """
  present = {t.content for t in tokenizer.added_tokens_decoder.values() if t.special}
  missing = [m for m in STEP_MARKERS if m not in present]
  if not missing:
    return tokenizer, ()
  tokenizer = copy.deepcopy(tokenizer)
  tokenizer.add_special_tokens(
    {"extra_special_tokens": missing}, replace_extra_special_tokens=False
  )
  return tokenizer, tuple(tokenizer.convert_tokens_to_ids(missing))
