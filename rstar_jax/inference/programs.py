"""The jitted programs of the engine: prefill (once per distinct prompt) and chunked decode.

Decode keeps the prompts' KV (the shared prefix, read once per group of n samples, Hydragen-style)
apart from a small per-sample suffix cache, and merges both in one softmax. Every shape is a
bucket, and sampling settings are traced scalars, so a long search compiles a bounded set.
"""
from __future__ import annotations

import functools
from typing import NamedTuple

from flax import nnx
import jax
import jax.numpy as jnp

from rstar_jax.inference.sampling import row_keys
from rstar_jax.inference.sampling import sample
from rstar_jax.models import attend
from rstar_jax.models import attention_mask
from rstar_jax.models import rope
from rstar_jax.models.transformer import Transformer

_MASKED = -1e30
FINISH_RUNNING, FINISH_STOP, FINISH_EOS, FINISH_LENGTH = 0, 1, 2, 3


class Prefix(NamedTuple):
  """KV of P prompts (right-padded to L) per layer: k, v [P, K, L, H] (batch dims leading, so
  the per-step attention reads them without a transpose); lengths [P]."""
  k: tuple[jax.Array, ...]
  v: tuple[jax.Array, ...]
  lengths_p: jax.Array


class DecodeState(NamedTuple):
  """Everything the decode loop carries (donated between chunks)."""
  t: jax.Array  # index of the last generated token
  suffix_k: tuple[jax.Array, ...]  # per layer [P, K, n, S, H]
  suffix_v: tuple[jax.Array, ...]
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
  limit: jax.Array  # max new tokens
  eos_ids: jax.Array  # [E], -1 padded
  stop_table: jax.Array  # [num_stops, M], -1 = wildcard (left padding)


def prefill(graphdef, state, tokens_pl: jax.Array, lengths_p: jax.Array) -> tuple[Prefix, jax.Array]:
  """Runs the prompts once; returns their KV and the fp32 logits of each prompt's last token."""
  model: Transformer = nnx.merge(graphdef, state)
  p, l = tokens_pl.shape
  positions = jnp.broadcast_to(jnp.arange(l), (p, l))
  allowed = attention_mask(positions, positions < lengths_p[:, None], model.config.sliding_window)
  x = model.embed(tokens_pl)
  rope_cos_sin = rope.arange_cos_sin(model.config, l)
  ks, vs = [], []
  for layer in model.layers:
    q, k, v = layer.attn.qkv(layer.attn_norm(x), rope_cos_sin)
    x = x + layer.attn.out(attend(q, k, v, allowed))
    x = x + layer.mlp(layer.mlp_norm(x))
    ks.append(k.transpose(0, 2, 1, 3))
    vs.append(v.transpose(0, 2, 1, 3))
  last_pd = x[jnp.arange(p), lengths_p - 1][:, None]
  logits_pv = model.logits(model.final_norm(last_pd))[:, 0].astype(jnp.float32)
  return Prefix(tuple(ks), tuple(vs), lengths_p), logits_pv


def _finished(token_r, recent_rm, count_r, controls: Controls) -> jax.Array:
  eos = jnp.any(token_r[:, None] == controls.eos_ids[None], axis=-1)
  table = controls.stop_table
  stop = jnp.any(jnp.all((table[None] < 0) | (recent_rm[:, None] == table[None]), axis=-1), axis=-1)
  return jnp.where(stop, FINISH_STOP, jnp.where(eos, FINISH_EOS,
                                                jnp.where(count_r >= controls.limit, FINISH_LENGTH,
                                                          FINISH_RUNNING)))


def _record(state: DecodeState, index, logits_rv, keys_r, controls: Controls, live_r) -> DecodeState:
  """Samples token `index` for every live row and updates stop bookkeeping."""
  token_r = sample(keys_r, logits_rv, controls.temperature, controls.top_k, controls.top_p)
  logprob_r = jnp.take_along_axis(jax.nn.log_softmax(logits_rv, axis=-1), token_r[:, None], axis=-1)[:, 0]
  token_r = jnp.where(live_r, token_r, 0)
  tokens = jax.lax.dynamic_update_slice_in_dim(state.tokens_rs, token_r[:, None], index, axis=1)
  logprobs = jax.lax.dynamic_update_slice_in_dim(state.logprobs_rs, jnp.where(live_r, logprob_r, 0.0)[:, None],
                                                 index, axis=1)
  recent = jnp.where(live_r[:, None], jnp.concatenate([state.recent_rm[:, 1:], token_r[:, None]], axis=1),
                     state.recent_rm)
  count = jnp.where(live_r, index + 1, state.count_r)
  finish = jnp.where(live_r, _finished(token_r, recent, count, controls), state.finish_r)
  return state._replace(t=jnp.asarray(index, jnp.int32), tokens_rs=tokens, logprobs_rs=logprobs, recent_rm=recent,
                        count_r=count, finish_r=finish)


def start(logits_pv: jax.Array, n: int, steps: int, row_ids_r: jax.Array, valid_r: jax.Array,
          prefix: Prefix, controls: Controls, stop_width: int) -> DecodeState:
  """Allocates the suffix caches and samples each row's first token from its prompt's logits."""
  p = logits_pv.shape[0]
  r = p * n
  _, kv, _, h = prefix.k[0].shape
  shape = (p, kv, n, steps, h)
  state = DecodeState(
      t=jnp.asarray(0, jnp.int32),
      suffix_k=tuple(jnp.zeros(shape, k.dtype) for k in prefix.k),
      suffix_v=tuple(jnp.zeros(shape, v.dtype) for v in prefix.v),
      tokens_rs=jnp.zeros((r, steps), jnp.int32),
      logprobs_rs=jnp.zeros((r, steps), jnp.float32),
      recent_rm=jnp.full((r, stop_width), -2, jnp.int32),
      count_r=jnp.zeros((r,), jnp.int32),
      finish_r=jnp.where(valid_r, FINISH_RUNNING, FINISH_LENGTH).astype(jnp.int32))
  logits_rv = jnp.repeat(logits_pv, n, axis=0)
  keys = row_keys(controls.seed, row_ids_r, 0)
  return _record(state, 0, logits_rv, keys, controls, valid_r)


def _attend_cached(q_pkngh, prefix_k, prefix_v, suffix_k, suffix_v, prefix_ok_pl, suffix_ok_s):
  """One query per row against its prompt's shared KV (read once for all n samples) and its own
  suffix KV, merged in a single softmax."""
  p, kv, n, g, h = q_pkngh.shape
  scale = h ** -0.5
  q_pkqh = q_pkngh.reshape(p, kv, n * g, h)
  s_pre = jnp.einsum("pkqh,pklh->pkql", q_pkqh, prefix_k, preferred_element_type=jnp.float32) * scale
  s_pre = jnp.where(prefix_ok_pl[:, None, None, :], s_pre, _MASKED).reshape(p, kv, n, g, -1)
  s_suf = jnp.einsum("pkngh,pknsh->pkngs", q_pkngh, suffix_k, preferred_element_type=jnp.float32) * scale
  s_suf = jnp.where(suffix_ok_s, s_suf, _MASKED)
  m = jnp.maximum(s_pre.max(-1, keepdims=True), s_suf.max(-1, keepdims=True))
  e_pre, e_suf = jnp.exp(s_pre - m), jnp.exp(s_suf - m)
  denom = e_pre.sum(-1, keepdims=True) + e_suf.sum(-1, keepdims=True)
  o_pre = jnp.einsum("pkql,pklh->pkqh", e_pre.reshape(p, kv, n * g, -1).astype(prefix_v.dtype), prefix_v)
  o_suf = jnp.einsum("pkngs,pknsh->pkngh", e_suf.astype(suffix_v.dtype), suffix_v)
  return (o_pre.reshape(p, kv, n, g, h) + o_suf) / denom.astype(o_suf.dtype)


def _decode_step(model: Transformer, prefix: Prefix, controls: Controls, row_ids_r, state: DecodeState):
  """Feeds token t of every row, writes its KV at suffix slot t, samples token t + 1."""
  cfg = model.config
  p, kv, n, steps, h = state.suffix_k[0].shape
  g = cfg.num_heads // kv
  t = state.t
  token_r = jax.lax.dynamic_slice_in_dim(state.tokens_rs, t, 1, axis=1)  # [R, 1]
  pos_r1 = (jnp.repeat(prefix.lengths_p, n) + t)[:, None]
  prefix_len = prefix.k[0].shape[2]
  prefix_ok = jnp.arange(prefix_len)[None] < prefix.lengths_p[:, None]  # [P, L]
  suffix_ok = jnp.arange(steps) <= t  # [S]
  if cfg.sliding_window is not None:
    q_pos = (prefix.lengths_p + t)[:, None]
    prefix_ok = prefix_ok & (q_pos - jnp.arange(prefix_len)[None] < cfg.sliding_window)
    suffix_ok = suffix_ok & (t - jnp.arange(steps) < cfg.sliding_window)
  x = model.embed(token_r)
  rope_cos_sin = rope.cos_sin(cfg, pos_r1)
  new_k, new_v = [], []
  for li, layer in enumerate(model.layers):
    q, k, v = layer.attn.qkv(layer.attn_norm(x), rope_cos_sin)
    k_pkn1h = k.reshape(p, n, kv, h).transpose(0, 2, 1, 3)[:, :, :, None]
    v_pkn1h = v.reshape(p, n, kv, h).transpose(0, 2, 1, 3)[:, :, :, None]
    sk = jax.lax.dynamic_update_slice_in_dim(state.suffix_k[li], k_pkn1h.astype(state.suffix_k[li].dtype), t, axis=3)
    sv = jax.lax.dynamic_update_slice_in_dim(state.suffix_v[li], v_pkn1h.astype(state.suffix_v[li].dtype), t, axis=3)
    new_k.append(sk)
    new_v.append(sv)
    q_pkngh = q.reshape(p, n, kv, g, h).transpose(0, 2, 1, 3, 4)
    o = _attend_cached(q_pkngh, prefix.k[li], prefix.v[li], sk, sv, prefix_ok, suffix_ok)
    x = x + layer.attn.out(o.transpose(0, 2, 1, 3, 4).reshape(p * n, 1, kv * g, h))
    x = x + layer.mlp(layer.mlp_norm(x))
  logits_rv = model.logits(model.final_norm(x))[:, 0].astype(jnp.float32)
  state = state._replace(suffix_k=tuple(new_k), suffix_v=tuple(new_v))
  live = state.finish_r == FINISH_RUNNING
  return _record(state, t + 1, logits_rv, row_keys(controls.seed, row_ids_r, t + 1), controls, live)


def decode_chunk(graphdef, params, prefix: Prefix, controls: Controls, row_ids_r, state: DecodeState,
                 t_stop: jax.Array, text_stopped_r: jax.Array) -> DecodeState:
  """Decode steps until every row finished or token index `t_stop` is generated; rows whose text
  the host found to contain a stop string (`text_stopped_r`) are finished first."""
  model = nnx.merge(graphdef, params)
  stop_now = text_stopped_r & (state.finish_r == FINISH_RUNNING)
  state = state._replace(finish_r=jnp.where(stop_now, FINISH_STOP, state.finish_r))

  def running(s: DecodeState):
    return (s.t < t_stop) & jnp.any(s.finish_r == FINISH_RUNNING)

  return jax.lax.while_loop(running, functools.partial(_decode_step, model, prefix, controls, row_ids_r), state)
