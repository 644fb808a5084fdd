"""The device half of the prefix cache: a pool of fixed-size KV pages and the programs over it.

Page i of a layer holds the keys and values of `page_size` consecutive tokens ([pages, K, page, H]
per layer, kv heads split like the model's). A sequence is a list of page ids (its page table);
`radix.RadixCache` on the host decides which pages a sequence reuses. Prefill runs only a
sequence's uncached tokens: their KV is written into its pages, and their queries attend to the
gathered pages, so every cached token is read, never recomputed. Shapes are buckets of new tokens
and of pages per sequence, so a long search compiles a bounded set of programs.

Page 0 is scratch: padding tokens and rows write there, and no sequence ever reads it.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.sharding import Mesh
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from rstar_jax.inference.kv_cache import KV
from rstar_jax.inference.kv_cache import Prefix
from rstar_jax.models import rope
from rstar_jax.models.attention import attend
from rstar_jax.models.attention import in_window
from rstar_jax.models.config import ModelConfig
from rstar_jax.models.sharding import fit_spec
from rstar_jax.models.transformer import Transformer
from rstar_jax.models.transformer import ValueModel

SCRATCH_PAGE = 0

Pool = tuple[KV, ...]  # per layer k, v [num_pages, K, page_size, H]


def page_bytes(config: ModelConfig, page_size: int) -> int:
  """Device bytes of one page over all layers (keys and values)."""
  itemsize = jnp.dtype(config.compute_dtype).itemsize
  return 2 * config.num_layers * config.num_kv_heads * page_size * config.head_dim * itemsize


def new_pool(config: ModelConfig, num_pages: int, page_size: int, mesh: Mesh | None) -> Pool:
  """A zeroed pool; on a mesh the kv-head axis is split over 'tensor', as the model's KV is."""
  shape = (num_pages, config.num_kv_heads, page_size, config.head_dim)

  def zeros():
    return jnp.zeros(shape, config.compute_dtype)

  if mesh is not None:
    sharding = NamedSharding(mesh, fit_spec(P(None, "tensor"), shape, mesh))
    zeros = jax.jit(zeros, out_shardings=sharding)
  return tuple(KV(zeros(), zeros()) for _ in range(config.num_layers))


def gather(pool_layer: KV, pages_pm: jax.Array) -> KV:
  """The pages of each sequence as one contiguous run, k, v [P, K, M * page, H]."""

  def run(x_nkph):
    x_pmkph = x_nkph[pages_pm]
    p, m, k, page, h = x_pmkph.shape
    return x_pmkph.transpose(0, 2, 1, 3, 4).reshape(p, k, m * page, h)

  return KV(run(pool_layer.k), run(pool_layer.v))


class PagedPrefillAttention(NamedTuple):
  """New tokens write their KV into their pages, then attend to the gathered pages.

  The layer cache is the pool's layer; what it writes is (the updated pool layer, the gathered
  KV of each sequence, which the decoder reads as its prefix).
  """

  page_pu: jax.Array  # page each new token's KV goes to (scratch for padding)
  slot_pu: jax.Array  # its slot in that page
  pages_pm: jax.Array  # each sequence's page table
  allowed_pus: jax.Array  # keys (gathered positions) each new token may see

  def __call__(self, q_punh, k_pukh, v_pukh, cache: KV) -> tuple[jax.Array, tuple[KV, KV]]:
    pool = KV(
      cache.k.at[self.page_pu, :, self.slot_pu, :].set(k_pukh.astype(cache.k.dtype)),
      cache.v.at[self.page_pu, :, self.slot_pu, :].set(v_pukh.astype(cache.v.dtype)),
    )
    seq = gather(pool, self.pages_pm)
    o = attend(q_punh, seq.k.transpose(0, 2, 1, 3), seq.v.transpose(0, 2, 1, 3), self.allowed_pus)
    return o, (pool, seq)


def prefill(
  model: Transformer | ValueModel,
  tokens_pu: jax.Array,
  start_p: jax.Array,
  new_p: jax.Array,
  pages_pm: jax.Array,
  pool: Pool,
) -> tuple[jax.Array, Prefix, Pool]:
  """Runs tokens [start, start + new) of each sequence over its cached pages.

  Returns the final-norm hidden state of each sequence's last token [P, 1, D], the gathered KV of
  every sequence (positions 0 .. start + new - 1 valid) and the updated pool.
  """
  cfg = model.config
  p, u = tokens_pu.shape
  page = pool[0].k.shape[2]
  m = pages_pm.shape[1]
  pos_pu = start_p[:, None] + jnp.arange(u)[None]
  real_pu = jnp.arange(u)[None] < new_p[:, None]
  page_index_pu = jnp.clip(pos_pu // page, 0, m - 1)
  page_pu = jnp.where(real_pu, jnp.take_along_axis(pages_pm, page_index_pu, axis=1), SCRATCH_PAGE)
  key_pos_s = jnp.arange(m * page)
  total_p = start_p + new_p
  allowed = (key_pos_s[None, None] <= pos_pu[:, :, None]) & (
    key_pos_s[None, None] < total_p[:, None, None]
  )
  allowed = in_window(allowed, pos_pu[:, :, None], key_pos_s[None, None], cfg.sliding_window)
  attention = PagedPrefillAttention(page_pu, pos_pu % page, pages_pm, allowed)
  x, written = model.forward(
    tokens_pu, rope.cos_sin(cfg, pos_pu), attention, pool, constrain_batch=False
  )
  last_pd = x[jnp.arange(p), new_p - 1][:, None]
  new_pool = tuple(w[0] for w in written)
  prefix = Prefix(tuple(w[1] for w in written), total_p)
  return model.final_norm(last_pd), prefix, new_pool


def commit(
  pool: Pool,
  prefix: Prefix,
  suffix: tuple[KV, ...],
  base_r: jax.Array,
  dest_rq: jax.Array,
) -> Pool:
  """Copies each decoded row's KV into pages: page q of row r holds positions
  (base_r + q) * page ... of its sequence (its prompt, then its own generated tokens).

  Rows are prompt-major (row r belongs to prompt r // n, sample r % n); `dest_rq` is scratch
  where nothing is to be written.
  """
  page = pool[0].k.shape[2]
  n, steps = suffix[0].k.shape[2], suffix[0].k.shape[3]
  r, _ = dest_rq.shape
  length = prefix.kv[0].k.shape[2]
  prompt_r = jnp.arange(r) // n
  sample_r = jnp.arange(r) % n
  pos_rqs = (base_r[:, None, None] + jnp.arange(dest_rq.shape[1])[None, :, None]) * page
  pos_rqs = pos_rqs + jnp.arange(page)[None, None]
  prompt_len_r = prefix.lengths_p[prompt_r][:, None, None]
  from_prompt = (pos_rqs < prompt_len_r)[..., None, None]
  p_idx = prompt_r[:, None, None]
  in_prompt = jnp.clip(pos_rqs, 0, length - 1)
  in_suffix = jnp.clip(pos_rqs - prompt_len_r, 0, steps - 1)
  slot_s = jnp.arange(page)[None, None]

  def rows(pool_x, prefix_x, suffix_x):
    # prefix_x [P, K, L, H] -> [R, Q, page, K, H]; suffix_x [P, K, n, S, H] likewise.
    values = jnp.where(
      from_prompt,
      prefix_x[p_idx, :, in_prompt],
      suffix_x[p_idx, :, sample_r[:, None, None], in_suffix],
    )
    return pool_x.at[dest_rq[:, :, None], :, slot_s].set(values.astype(pool_x.dtype))

  return tuple(
    KV(rows(layer.k, pre.k, suf.k), rows(layer.v, pre.v, suf.v))
    for layer, pre, suf in zip(pool, prefix.kv, suffix, strict=True)
  )
