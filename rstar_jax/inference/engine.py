"""`Engine.expand`: n candidate next steps per prompt, with shared-prefix KV and bucketed shapes.

With `EngineConfig.cache_pages` set, a radix prefix cache (`prefix_cache`) keeps the KV of every
prompt and every decoded candidate in a page pool: a node's prompt is its parent's prompt, the
step the engine just generated and the code output, so only the output block is prefilled.
"""

from __future__ import annotations

from collections.abc import Sequence

from flax import nnx
import jax
import jax.numpy as jnp
from jax.sharding import Mesh
import numpy as np

from rstar_jax.inference import programs
from rstar_jax.inference.batching import Batcher
from rstar_jax.inference.buckets import ProgramCounter
from rstar_jax.inference.buckets import bucket
from rstar_jax.inference.config import Candidate
from rstar_jax.inference.config import EngineConfig
from rstar_jax.inference.config import EngineStats
from rstar_jax.inference.config import SamplingParams
from rstar_jax.inference.prefix_cache import Reservation
from rstar_jax.inference.prefix_cache import new_cache
from rstar_jax.inference.prefix_cache import reserved
from rstar_jax.inference.stops import first_stop_end
from rstar_jax.inference.stops import stop_table
from rstar_jax.models import Transformer

_FINISH_NAMES = {
  programs.FINISH_STOP: "stop",
  programs.FINISH_EOS: "eos",
  programs.FINISH_LENGTH: "length",
  programs.FINISH_CONTEXT: "context",
}
_NO_ROOM = Candidate(text="", token_ids=(), stop_reason="context", logprob_sum=0.0)


class Engine:
  """Batched step sampling for MCTS expansion."""

  def __init__(
    self,
    policy: Transformer,
    tokenizer,
    config: EngineConfig = EngineConfig(),
    *,
    mesh: Mesh | None = None,
  ):
    if not isinstance(policy, Transformer):
      raise TypeError(f"Engine needs a Transformer policy, got {type(policy).__name__}")
    self.config = config
    self.tokenizer = tokenizer
    self.mesh = mesh
    self.model_config = policy.config
    self._batcher = Batcher(config, pad_id=tokenizer.pad_token_id or 0, mesh=mesh)
    self.max_seq_len = config.max_seq_len or policy.config.max_position_embeddings
    self.stats = EngineStats()
    self._programs = ProgramCounter()
    self._graphdef, self._params = nnx.split(policy)
    self._prefill = jax.jit(programs.prefill, static_argnums=0)
    self._paged_prefill = jax.jit(programs.paged_prefill, static_argnums=0, donate_argnums=6)
    self._cache = new_cache(
      policy.config, config.cache_pages, config.page_size, self.max_seq_len, mesh
    )
    self._start = jax.jit(programs.start, static_argnums=(1, 2, 7))
    self._decode = jax.jit(programs.decode_chunk, static_argnums=0, donate_argnums=5)
    eos = (
      tokenizer.eos_token_id
      if tokenizer.eos_token_id is not None
      else self.model_config.eos_token_id
    )
    eos_ids = sorted(
      {*([eos] if isinstance(eos, int) else list(eos or ())), *self.model_config.eos_token_ids}
    )
    self._eos_ids = np.asarray(eos_ids or [-1], np.int32)
    self._stop_tables: dict[tuple[str, ...], np.ndarray] = {}

  # ---- public API ----

  def expand(
    self, prompts: Sequence[str], n: int, sampling: SamplingParams
  ) -> list[list[Candidate]]:
    """`n` candidates for each prompt (outer list parallel to `prompts`).

    A prompt given k times is k independent requests (own prefill, own random streams), so
    independent searches of one problem can share a call; greedy decoding gives them one answer.
    """
    if not isinstance(sampling, SamplingParams):
      raise TypeError(f"sampling must be a SamplingParams, got {type(sampling).__name__}")
    if isinstance(prompts, str):
      raise TypeError("prompts must be a sequence of strings, not one string")
    if len(prompts) == 0:
      raise ValueError("expand() needs at least one prompt")
    if not isinstance(n, int) or n < 1:
      raise ValueError(f"n must be a positive integer, got {n!r}")
    encoded = {p: self.tokenizer.encode(p) for p in dict.fromkeys(prompts)}
    ids = [encoded[p] for p in prompts]
    for i, toks in enumerate(ids):
      if not toks:
        raise ValueError(f"prompt {i} encodes to no tokens")
    # Each prompt generates at most up to the end of the context; one without room gets n empty
    # 'context' candidates, so a long partial solution ends its branch instead of the call.
    limits = [min(sampling.max_new_tokens, self.max_seq_len - len(t)) for t in ids]
    results = [[_NO_ROOM] * n if limit < 1 else None for limit in limits]
    fits = [i for i, limit in enumerate(limits) if limit >= 1]
    max_prompts = max(1, self.config.max_decode_rows // n)
    uncached = [len(ids[i]) - self._cached_length(ids[i]) for i in fits]
    for group in self._batcher.groups(uncached, max_prompts):
      for indices, reservation in reserved(self._cache, [fits[g] for g in group], ids):
        rows = self._expand_group(
          [ids[i] for i in indices], indices, [limits[i] for i in indices], n, sampling, reservation
        )
        for index, cands in zip(indices, rows):
          results[index] = cands
    self.stats.prompts += len(prompts)
    self.stats.compiled_programs = len(self._programs)
    if self._cache is not None:
      self._cache.record(self.stats)
    return results

  # ---- internals ----

  def _cached_length(self, ids: list[int]) -> int:
    return 0 if self._cache is None else self._cache.cached_length(ids)

  def _controls(self, sampling: SamplingParams, limit_r: jax.Array) -> programs.Controls:
    if sampling.stop not in self._stop_tables:
      self._stop_tables[sampling.stop] = stop_table(self.tokenizer, sampling.stop)
    return programs.Controls(
      seed=jnp.asarray(sampling.seed, jnp.uint32),
      temperature=jnp.asarray(sampling.temperature, jnp.float32),
      top_k=jnp.asarray(sampling.top_k, jnp.int32),
      top_p=jnp.asarray(sampling.top_p, jnp.float32),
      limit=limit_r,
      eos_ids=jnp.asarray(self._eos_ids),
      stop_table=jnp.asarray(self._stop_tables[sampling.stop]),
    )

  def _expand_group(
    self,
    ids: list[list[int]],
    prompt_indices: list[int],
    limits: list[int],
    n: int,
    sampling: SamplingParams,
    reservation: Reservation | None,
  ) -> list[list[Candidate]]:
    cfg, put = self.config, self._batcher.put
    p_real = len(ids)
    steps = bucket(sampling.max_new_tokens, 16)
    with self._batcher.scope():
      prefix, logits = self._prefill_prompts(ids, reservation)
    p, length = prefix.kv[0].k.shape[0], prefix.kv[0].k.shape[2]
    valid_r = np.repeat(np.arange(p) < p_real, n)
    # Row identity = (prompt's position in this call, sample index): padding never shifts samples,
    # and a prompt given k times is k independent requests.
    row_ids = np.asarray(
      [idx * n + j for idx in prompt_indices for j in range(n)]
      + [-1 - r for r in range((p - p_real) * n)],
      np.int32,
    )
    limit_r = np.repeat(limits + [sampling.max_new_tokens] * (p - p_real), n).astype(np.int32)
    controls = self._controls(sampling, put(limit_r))
    stop_width = controls.stop_table.shape[1]
    self._programs.record("start", p, length, n, steps, stop_width)
    self._programs.record("decode", p, length, n, steps, stop_width)
    with self._batcher.scope():
      row_ids_r = put(row_ids)
      state = self._start(logits, n, steps, row_ids_r, put(valid_r), prefix, controls, stop_width)
      stopped_text = np.zeros((p * n,), bool)
      while True:
        t = int(state.t)
        running = (np.asarray(state.finish_r) == programs.FINISH_RUNNING) & ~stopped_text
        if t + 1 >= sampling.max_new_tokens or not running.any():
          break
        t_stop = min(t + cfg.decode_chunk, sampling.max_new_tokens - 1)
        state = self._decode(
          self._graphdef,
          self._params,
          prefix,
          controls,
          row_ids_r,
          state,
          jnp.asarray(t_stop, jnp.int32),
          put(stopped_text),
        )
        stopped_text |= self._text_stops(state, sampling.stop, valid_r)
    tokens_rs, logprobs_rs = np.asarray(state.tokens_rs), np.asarray(state.logprobs_rs)
    counts = np.asarray(state.count_r)
    finish = np.asarray(state.finish_r)
    # A row cut by the context, not by its own budget, says so.
    clamped = (finish == programs.FINISH_LENGTH) & (limit_r < sampling.max_new_tokens)
    finish = np.where(clamped, programs.FINISH_CONTEXT, finish)
    finish = np.where(stopped_text, programs.FINISH_STOP, finish)
    self.stats.decode_tokens += int(counts[valid_r].sum())
    candidates = [
      [
        self._candidate(
          tokens_rs[r, : counts[r]], logprobs_rs[r, : counts[r]], int(finish[r]), sampling.stop
        )
        for r in range(i * n, (i + 1) * n)
      ]
      for i in range(p_real)
    ]
    if reservation is not None:
      # The decoder wrote the KV of every token it fed (all but each row's last); the prompts of
      # the next depth start with a prompt and one of these candidates.
      fed = {
        i * n + j: [*ids[i], *cand.token_ids[: max(0, counts[i * n + j] - 1)]]
        for i, row in enumerate(candidates)
        for j, cand in enumerate(row)
      }
      with self._batcher.scope():
        self._cache.commit(prefix, state.suffix, n, fed)
    return candidates

  def _prefill_prompts(self, ids: list[list[int]], reservation: Reservation | None):
    """The prompts' KV (shared by their samples) and last-token logits: all of each prompt, or
    with the prefix cache only its uncached tokens."""
    put = self._batcher.put
    self.stats.requested_tokens += sum(len(t) for t in ids)
    if reservation is None:
      tokens, lengths = self._batcher.pad(ids)
      self._programs.record("prefill", *tokens.shape)
      self.stats.prefill_tokens += sum(len(t) for t in ids)
      return self._prefill(self._graphdef, self._params, put(tokens), put(lengths))
    cache = self._cache
    tokens, starts, counts, tables = cache.arrays(
      reservation, self._batcher, self.config.min_length_bucket, self.stats
    )
    self._programs.record("paged_prefill", *tokens.shape, tables.shape[1])
    prefix, logits, cache.pool = self._paged_prefill(
      self._graphdef, self._params, put(tokens), put(starts), put(counts), put(tables), cache.pool
    )
    cache.keep(reservation)
    return prefix, logits

  def _text_stops(self, state: programs.DecodeState, stops, valid_r) -> np.ndarray:
    """Rows whose decoded text contains a stop string the in-jit token match missed."""
    finish = np.asarray(state.finish_r)
    running = np.flatnonzero((finish == programs.FINISH_RUNNING) & valid_r)
    out = np.zeros_like(valid_r)
    if running.size:
      tokens, counts = np.asarray(state.tokens_rs), np.asarray(state.count_r)
      for r in running:
        if (
          first_stop_end(self.tokenizer.decode(tokens[r, : counts[r]].tolist()), stops) is not None
        ):
          out[r] = True
    return out

  def _candidate(self, ids: np.ndarray, logprobs: np.ndarray, finish: int, stops) -> Candidate:
    ids = ids.tolist()
    reason = _FINISH_NAMES.get(finish, "length")
    body = ids[:-1] if reason == "eos" else ids
    text = self.tokenizer.decode(body)
    end = first_stop_end(text, stops)
    if end is not None:
      reason, text = "stop", text[:end]
      # Drop the tokens generated after the stop string: the shortest prefix whose text still
      # contains it, found by bisection (a late-detected stop can leave a chunk of extra tokens).
      lo, hi = 1, len(body)
      while lo < hi:
        mid = (lo + hi) // 2
        if first_stop_end(self.tokenizer.decode(body[:mid]), stops) is None:
          lo = mid + 1
        else:
          hi = mid
      ids = body[:lo]
    return Candidate(
      text=text,
      token_ids=tuple(ids),
      stop_reason=reason,
      logprob_sum=float(np.sum(logprobs[: len(ids)])),
    )
