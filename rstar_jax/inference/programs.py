"""The jitted programs of the engine: prefill (once per prompt) and chunked decode.

Both run the model's own layer forward with the attention of `kv_cache` (shared prompt KV plus a
small per-sample suffix cache). Every shape is a bucket, and sampling settings are traced
scalars, so a long search compiles a bounded set.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

from flax import nnx
import jax
import jax.numpy as jnp

from rstar_jax.inference import paged
from rstar_jax.inference.kv_cache import KV
from rstar_jax.inference.kv_cache import DecodeAttention
from rstar_jax.inference.kv_cache import PrefillAttention
from rstar_jax.inference.kv_cache import Prefix
from rstar_jax.inference.kv_cache import empty_suffix
from rstar_jax.inference.sampling import row_keys
from rstar_jax.inference.sampling import sample
from rstar_jax.models import causal_mask
from rstar_jax.models import rope
from rstar_jax.models.transformer import Transformer

FINISH_RUNNING, FINISH_STOP, FINISH_EOS, FINISH_LENGTH = 0, 1, 2, 3
FINISH_CONTEXT = 4  # set on the host: a length finish at a limit the context cut short


class DecodeState(NamedTuple):
  """Everything the decode loop carries (donated between chunks)."""

  t: jax.Array  # index of the last generated token
  suffix: tuple[KV, ...]  # per layer [P, K, n, S, H]
  tokens_rs: jax.Array  # generated ids [R, S]
  logprobs_rs: jax.Array  # their model log-probabilities
  recent_rm: jax.Array  # last M generated ids, for in-jit stop-sequence matching
  count_r: jax.Array  # tokens generated per row (including the stopping one)
  finish_r: jax.Array  # FINISH_* per row


class Controls(NamedTuple):
  """Per-call traced settings (no recompilation when they change)."""

  seed: jax.Array
  temperature: jax.Array
  top_k: jax.Array
  top_p: jax.Array
  limit: jax.Array  # max new tokens per row [R] (the budget, or less where the context ends)
  eos_ids: jax.Array  # [E], -1 padded
  stop_table: jax.Array  # [num_stops, M], -1 = wildcard (left padding)


def prefill(
  graphdef, state, tokens_pl: jax.Array, lengths_p: jax.Array
) -> tuple[Prefix, jax.Array]:
  """Runs the prompts once; returns their KV and the fp32 logits of each prompt's last token."""
  model: Transformer = nnx.merge(graphdef, state)
  p, length = tokens_pl.shape
  positions = jnp.broadcast_to(jnp.arange(length), (p, length))
  attention = PrefillAttention(
    causal_mask(positions, positions < lengths_p[:, None], model.config.sliding_window)
  )
  x, kv = model.forward(
    tokens_pl, rope.arange_cos_sin(model.config, length), attention, constrain_batch=False
  )
  last_pd = x[jnp.arange(p), lengths_p - 1][:, None]
  logits_pv = model.logits(model.final_norm(last_pd))[:, 0].astype(jnp.float32)
  return Prefix(kv, lengths_p), logits_pv


def paged_prefill(
  graphdef, state, tokens_pu, start_p, new_p, pages_pm, pool: paged.Pool
) -> tuple[Prefix, jax.Array, paged.Pool]:
  """`prefill` of each prompt's uncached tokens over its cached pages (`paged.prefill`); also
  returns the pool with the new tokens' KV written."""
  model: Transformer = nnx.merge(graphdef, state)
  h_p1d, prefix, pool = paged.prefill(model, tokens_pu, start_p, new_p, pages_pm, pool)
  return prefix, model.logits(h_p1d)[:, 0].astype(jnp.float32), pool


def _finished(token_r, recent_rm, count_r, controls: Controls) -> jax.Array:
  eos = jnp.any(token_r[:, None] == controls.eos_ids[None], axis=-1)
  table = controls.stop_table
  wildcard = table[None] == -1  # left padding; -3 (no stop strings) matches nothing
  stop = jnp.any(jnp.all(wildcard | (recent_rm[:, None] == table[None]), axis=-1), axis=-1)
  return jnp.where(
    stop,
    FINISH_STOP,
    jnp.where(eos, FINISH_EOS, jnp.where(count_r >= controls.limit, FINISH_LENGTH, FINISH_RUNNING)),
  )


def _record(
  state: DecodeState, index, logits_rv, keys_r, controls: Controls, live_r
) -> DecodeState:
  """Samples token `index` for every live row and updates stop bookkeeping."""
  token_r = sample(keys_r, logits_rv, controls.temperature, controls.top_k, controls.top_p)
  logprob_r = jnp.take_along_axis(
    jax.nn.log_softmax(logits_rv, axis=-1), token_r[:, None], axis=-1
  )[:, 0]
  token_r = jnp.where(live_r, token_r, 0)
  tokens = jax.lax.dynamic_update_slice_in_dim(state.tokens_rs, token_r[:, None], index, axis=1)
  logprobs = jax.lax.dynamic_update_slice_in_dim(
    state.logprobs_rs, jnp.where(live_r, logprob_r, 0.0)[:, None], index, axis=1
  )
  recent = jnp.where(
    live_r[:, None],
    jnp.concatenate([state.recent_rm[:, 1:], token_r[:, None]], axis=1),
    state.recent_rm,
  )
  count = jnp.where(live_r, index + 1, state.count_r)
  finish = jnp.where(live_r, _finished(token_r, recent, count, controls), state.finish_r)
  return state._replace(
    t=jnp.asarray(index, jnp.int32),
    tokens_rs=tokens,
    logprobs_rs=logprobs,
    recent_rm=recent,
    count_r=count,
    finish_r=finish,
  )


def start(
  logits_pv: jax.Array,
  n: int,
  steps: int,
  row_ids_r: jax.Array,
  valid_r: jax.Array,
  prefix: Prefix,
  controls: Controls,
  stop_width: int,
) -> DecodeState:
  """Allocates the suffix caches and samples each row's first token from its prompt's logits."""
  r = logits_pv.shape[0] * n
  state = DecodeState(
    t=jnp.asarray(0, jnp.int32),
    suffix=empty_suffix(prefix, n, steps),
    tokens_rs=jnp.zeros((r, steps), jnp.int32),
    logprobs_rs=jnp.zeros((r, steps), jnp.float32),
    recent_rm=jnp.full((r, stop_width), -2, jnp.int32),
    count_r=jnp.zeros((r,), jnp.int32),
    finish_r=jnp.where(valid_r, FINISH_RUNNING, FINISH_LENGTH).astype(jnp.int32),
  )
  logits_rv = jnp.repeat(logits_pv, n, axis=0)
  keys = row_keys(controls.seed, row_ids_r, 0)
  return _record(state, 0, logits_rv, keys, controls, valid_r)


def _decode_step(
  model: Transformer, prefix: Prefix, controls: Controls, row_ids_r, state: DecodeState
):
  """Feeds token t of every row, writes its KV at suffix slot t, samples token t + 1."""
  cfg = model.config
  _, _, n, steps, _ = state.suffix[0].k.shape
  t = state.t
  token_r = jax.lax.dynamic_slice_in_dim(state.tokens_rs, t, 1, axis=1)  # [R, 1]
  pos_r1 = (jnp.repeat(prefix.lengths_p, n) + t)[:, None]
  attention = DecodeAttention.at_step(prefix, t, steps, cfg.sliding_window)
  x, suffix = model.forward(
    token_r,
    rope.cos_sin(cfg, pos_r1),
    attention,
    tuple(zip(prefix.kv, state.suffix)),
    constrain_batch=False,
  )
  logits_rv = model.logits(model.final_norm(x))[:, 0].astype(jnp.float32)
  state = state._replace(suffix=suffix)
  live = state.finish_r == FINISH_RUNNING
  return _record(state, t + 1, logits_rv, row_keys(controls.seed, row_ids_r, t + 1), controls, live)


def decode_chunk(
  graphdef,
  params,
  prefix: Prefix,
  controls: Controls,
  row_ids_r,
  state: DecodeState,
  t_stop: jax.Array,
  text_stopped_r: jax.Array,
) -> DecodeState:
  """Decode steps until every row finished or token index `t_stop` is generated; rows whose text
  the host found to contain a stop string (`text_stopped_r`) are finished first."""
  model = nnx.merge(graphdef, params)
  stop_now = text_stopped_r & (state.finish_r == FINISH_RUNNING)
  state = state._replace(finish_r=jnp.where(stop_now, FINISH_STOP, state.finish_r))

  def running(s: DecodeState):
    return (s.t < t_stop) & jnp.any(s.finish_r == FINISH_RUNNING)

  return jax.lax.while_loop(
    running, functools.partial(_decode_step, model, prefix, controls, row_ids_r), state
  )
