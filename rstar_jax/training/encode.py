"""Tokenisation of SFT examples and PPM pairs, with the overlong policy and its counters.

SFT: `prompt` and `response` are tokenised separately and concatenated, exactly as the policy
sees them at generation time (prompt tokens, then sampled tokens); only response tokens (and the
EOS) are targets. Overlong examples keep their first `max_len` tokens.
PPM: `prompt + side` is tokenised as one text, as the scorer does; overlong sides keep their last
`max_len` tokens, so the scored step (the last token) always survives truncation.
"""

import dataclasses
import logging
from typing import Protocol

import numpy as np

from rstar_jax.data import schemas


class Tokenizer(Protocol):
  """The slice of the HF tokenizer interface the trainers use."""

  eos_token_id: int | None
  pad_token_id: int | None

  def encode(self, text: str, add_special_tokens: bool = True) -> list[int]: ...


@dataclasses.dataclass
class EncodeStats:
  """Counts of what the overlong policy and the filters did; reported, never silent."""

  records: int = 0
  used: int = 0
  truncated: int = 0
  dropped_overlong: int = 0
  dropped_no_target: int = 0
  filtered: int = 0

  def log(self, name: str) -> None:
    logging.info("%s: %s", name, dataclasses.asdict(self))
    if self.truncated or self.dropped_overlong or self.dropped_no_target:
      logging.warning(
        "%s: %d truncated, %d dropped as overlong, %d dropped without target "
        "tokens (of %d records)",
        name,
        self.truncated,
        self.dropped_overlong,
        self.dropped_no_target,
        self.records,
      )


@dataclasses.dataclass(frozen=True)
class SFTTokens:
  """`tokens` (L,) int32; `targets` (L,) bool marks tokens that carry loss (predicted ones)."""

  tokens: np.ndarray
  targets: np.ndarray


def encode_sft(
  example: schemas.SFTExample,
  where: str,
  tokenizer: Tokenizer,
  *,
  max_len: int,
  overlong: str,
  append_eos: bool,
  stats: EncodeStats,
) -> SFTTokens | None:
  """Tokens and loss targets of one SFT example, or None when the overlong policy drops it."""
  stats.records += 1
  prompt = tokenizer.encode(example.prompt)
  response = tokenizer.encode(example.response, add_special_tokens=False)
  if append_eos:
    if tokenizer.eos_token_id is None:
      raise ValueError("append_eos=True needs a tokenizer with an eos_token_id")
    response = [*response, tokenizer.eos_token_id]
  tokens = np.asarray(prompt + response, np.int32)
  targets = np.zeros(len(tokens), bool)
  targets[len(prompt) :] = True
  if len(tokens) > max_len:
    if overlong == "drop":
      stats.dropped_overlong += 1
      return None
    stats.truncated += 1
    tokens, targets = tokens[:max_len], targets[:max_len]
  if not targets[1:].any():
    logging.debug("%s: no response tokens left after truncation", where)
    stats.dropped_no_target += 1
    return None
  stats.used += 1
  return SFTTokens(tokens, targets)


def encode_scored(
  text: str, tokenizer: Tokenizer, *, max_len: int, overlong: str, stats: EncodeStats
) -> np.ndarray | None:
  """Tokens of one PPM-scored text (score read at the last token), or None when dropped."""
  tokens = np.asarray(tokenizer.encode(text), np.int32)
  if len(tokens) == 0:
    stats.dropped_no_target += 1
    return None
  if len(tokens) > max_len:
    if overlong == "drop":
      stats.dropped_overlong += 1
      return None
    stats.truncated += 1
    tokens = tokens[-max_len:]
  return tokens
