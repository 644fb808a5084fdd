"""Tokenizers: transformers' fast tokenizers, loaded from a local folder only."""

import os

import transformers


def load_tokenizer(path: str | os.PathLike) -> transformers.PreTrainedTokenizerBase:
  return transformers.AutoTokenizer.from_pretrained(os.fspath(path), local_files_only=True)
