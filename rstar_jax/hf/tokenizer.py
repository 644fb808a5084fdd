"""Tokenizers: transformers' fast tokenizers, loaded from a local folder only."""

import copy
import json
import os
import pathlib

import transformers

from rstar_jax.format.prompts import STEP_MARKERS
from rstar_jax.hf.safetensors_io import CheckpointError

# The class transformers saves for a tokenizer built from a `tokenizers` pipeline alone (the
# built-in worlds'): its `tokenizer.json` is the whole tokenizer.
_GENERIC_CLASS = "TokenizersBackend"


def tokenizer_dir(model_dir: str | os.PathLike, fallback: str | os.PathLike) -> pathlib.Path:
  """`model_dir` where its export holds a tokenizer (a trained model carries the one it was
  trained with, step markers included), else `fallback`."""
  model_dir = pathlib.Path(model_dir)
  return model_dir if (model_dir / "tokenizer_config.json").is_file() else pathlib.Path(fallback)


def load_tokenizer(path: str | os.PathLike) -> transformers.PreTrainedTokenizerBase:
  """The folder's tokenizer, exactly as saved.

  `AutoTokenizer` picks the class from config.json's model type when there is one, and a
  family's class rebuilds its own pre-tokenizer: a world tokenizer saved beside a Qwen2 policy
  came back as `Qwen2Tokenizer`, splitting text (runs of spaces, digits) unlike the tokenizer the
  policy was trained with. A folder whose tokenizer declares the generic class loads as that.
  """
  path = os.fspath(path)
  config_file = os.path.join(path, "tokenizer_config.json")
  declared = None
  if os.path.isfile(config_file):
    try:
      with open(config_file, encoding="utf-8") as f:
        declared = json.load(f).get("tokenizer_class")
    except (UnicodeDecodeError, json.JSONDecodeError, AttributeError) as e:
      raise CheckpointError(f"{config_file}: not a JSON object ({e})") from None
  if declared == _GENERIC_CLASS:
    return transformers.TokenizersBackend.from_pretrained(path, local_files_only=True)
  return transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)


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
