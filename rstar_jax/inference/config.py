"""Settings and results of the inference engine (small frozen dataclasses)."""

from __future__ import annotations

import dataclasses

from rstar_jax.format.prompts import STEP_STOPS

STOP_REASONS = ("stop", "eos", "length", "context")  # context: the model's context ran out
SQUASHES = ("tanh5", "none", "sigmoid")


@dataclasses.dataclass(frozen=True)
class SamplingParams:
  """How to sample one step. temperature 0 is greedy; top_k 0 and top_p 1 disable filtering."""

  temperature: float = 0.7
  top_k: int = 0
  top_p: float = 1.0
  max_new_tokens: int = 256
  stop: tuple[str, ...] = STEP_STOPS
  seed: int = 0

  def __post_init__(self):
    if self.temperature < 0:
      raise ValueError(f"temperature must be >= 0, got {self.temperature}")
    if self.top_k < 0:
      raise ValueError(f"top_k must be >= 0, got {self.top_k}")
    if not 0 < self.top_p <= 1:
      raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
    if self.max_new_tokens < 1:
      raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
    if isinstance(self.stop, str) or not all(isinstance(s, str) and s for s in self.stop):
      raise ValueError(f"stop must be a tuple of non-empty strings, got {self.stop!r}")


def _require_positive(config, names: tuple[str, ...]) -> None:
  for name in names:
    if getattr(config, name) < 1:
      raise ValueError(f"{name} must be >= 1, got {getattr(config, name)}")


def _require_cache_pages(config) -> None:
  if config.cache_pages < 0:
    raise ValueError(f"cache_pages must be >= 0 (0: no prefix cache), got {config.cache_pages}")


@dataclasses.dataclass(frozen=True)
class EngineConfig:
  """Shape buckets and limits. Buckets bound the number of compiled programs over a long search."""

  max_seq_len: int = 0  # 0: the model's max_position_embeddings
  min_length_bucket: int = 64  # prompt lengths round up to powers of two from here
  min_batch_bucket: int = 1  # batch sizes round up to powers of two from here
  max_prefill_tokens: int = 16384  # prompts per prefill call are capped by padded tokens
  max_decode_rows: int = 512  # rows (prompts x samples) per decode call
  decode_chunk: int = 32  # decode steps between host-side stop-string checks
  cache_pages: int = 0  # KV pages of the radix prefix cache (0: no cache, prefill every prompt)
  page_size: int = 16  # tokens per KV page

  def __post_init__(self):
    _require_positive(
      self,
      (
        "min_length_bucket",
        "min_batch_bucket",
        "max_prefill_tokens",
        "max_decode_rows",
        "decode_chunk",
        "page_size",
      ),
    )
    _require_cache_pages(self)


@dataclasses.dataclass(frozen=True)
class ScorerConfig:
  """The scorer's shape buckets, token cap and score squashing."""

  max_seq_len: int = 0  # 0: the model's max_position_embeddings
  min_length_bucket: int = 64  # text lengths round up to powers of two from here
  min_batch_bucket: int = 1  # batch sizes round up to powers of two from here
  max_prefill_tokens: int = 16384  # texts per call are capped by padded tokens
  squash: str = "tanh5"  # PPM score squashing: tanh(r/5) (official), none, sigmoid
  cache_pages: int = 0  # KV pages of the radix prefix cache (0: no cache)
  page_size: int = 16  # tokens per KV page

  def __post_init__(self):
    if self.squash not in SQUASHES:
      raise ValueError(f"squash={self.squash!r}; expected one of {SQUASHES}")
    _require_positive(
      self, ("min_length_bucket", "min_batch_bucket", "max_prefill_tokens", "page_size")
    )
    _require_cache_pages(self)


@dataclasses.dataclass(frozen=True)
class Candidate:
  """One sampled step: text keeps the stop string and nothing after it."""

  text: str
  token_ids: tuple[int, ...]
  stop_reason: str  # one of STOP_REASONS
  logprob_sum: float  # sum of the model's (untempered) log-probabilities of token_ids


@dataclasses.dataclass
class EngineStats:
  """Counters reported by benchmarks and stage summaries: prefix reuse and recompilation."""

  prompts: int = 0
  scored_texts: int = 0
  requested_tokens: int = 0  # prompt (or scored text) tokens asked for
  prefill_tokens: int = 0  # of those, tokens run through the model
  cached_tokens: int = 0  # of those, tokens whose KV came from the prefix cache
  cache_hits: int = 0  # sequences that found a cached prefix
  decode_tokens: int = 0
  evicted_pages: int = 0
  pool_pages: int = 0  # the prefix cache's pool (0: no cache)
  pool_pages_used: int = 0  # pages held by the cache's index after the last call
  compiled_programs: int = 0

  @property
  def prefill_ratio(self) -> float:
    """Tokens computed / tokens requested: 1 without a cache."""
    return self.prefill_tokens / self.requested_tokens if self.requested_tokens else 1.0

  def to_dict(self) -> dict[str, float]:
    return {**dataclasses.asdict(self), "prefill_ratio": self.prefill_ratio}
