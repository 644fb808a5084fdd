"""Growing a model's vocabulary, for tokens (the step markers) added to its tokenizer.

The official trainers (`train/train_SFT.py`, `train/train_RM.py`, pinned to transformers 4.45.2)
add the markers as special tokens and call `resize_token_embeddings(len(tokenizer))`, with no
padding multiple. In 4.45.2 the new rows of the embedding and of an untied LM head come from
`_init_weights`: normal(0, initializer_range), 0.02 in every Qwen2, Llama and Phi-3 config (the
mean/covariance init of `mean_resizing` arrived in 4.46). That draw is the default `init` here.
For Qwen2.5-Math-7B (152064 rows, 151665 tokens) the official call shrinks the matrices instead
and the markers take rows of the padding; growing only, never shrinking, gives them the same
rows and keeps the padding.
"""

from __future__ import annotations

from typing import TypeVar

from flax import nnx
import jax
import jax.numpy as jnp
from jax.sharding import NamedSharding

from rstar_jax.models.params import Initializer
from rstar_jax.models.params import normal
from rstar_jax.models.sharding import fit_spec
from rstar_jax.models.transformer import Transformer
from rstar_jax.models.transformer import ValueModel

NEW_ROW_INIT: Initializer = normal(0.02)

M = TypeVar("M", Transformer, ValueModel)


def grow_vocab(
  model: M, vocab_size: int, *, init: Initializer = NEW_ROW_INIT, rngs: nnx.Rngs | None = None
) -> M:
  """`model` with room for token ids below `vocab_size`.

  A model that has them already is returned as is: base models pad their vocabulary (Qwen2.5 to
  a multiple of 128) and markers that land in the padding need no resize. Otherwise every
  parameter with a 'vocab' axis (the embedding and an untied LM head) gets new rows drawn from
  `init`, the old rows unchanged, on the same mesh and partition spec as before (an axis that no
  longer divides the grown dimension is replicated, as everywhere in `sharding`). The returned
  model shares all other parameter buffers with `model`, which the caller should drop.
  """
  old = model.config.vocab_size
  if vocab_size <= old:
    return model
  rngs = rngs or nnx.Rngs(0)
  config = model.config.replace(vocab_size=vocab_size)
  grown = nnx.eval_shape(lambda: type(model)(config, rngs=nnx.Rngs(0)))
  flat = []
  for path, var in nnx.to_flat_state(nnx.state(model)):
    axes = var.get_metadata().get("logical_axes") or ()
    value = var[...]
    if "vocab" in axes:
      value = _append_rows(value, axes.index("vocab"), vocab_size - old, init, rngs.params())
    flat.append((path, value))
  nnx.update(grown, nnx.from_flat_state(flat))
  return grown


def _append_rows(
  value: jax.Array, axis: int, count: int, init: Initializer, key: jax.Array
) -> jax.Array:
  """`value` with `count` rows from `init` appended along `axis`, placed as `value` was."""
  shape = list(value.shape)
  shape[axis] = count
  total = list(value.shape)
  total[axis] += count
  sharding = value.sharding
  if isinstance(sharding, NamedSharding):
    sharding = NamedSharding(sharding.mesh, fit_spec(sharding.spec, total, sharding.mesh))

  def concat(value, key):
    return jnp.concatenate([value, init(key, tuple(shape), value.dtype)], axis=axis)

  return jax.jit(concat, out_shardings=sharding)(value, key)
