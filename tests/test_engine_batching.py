"""The batching shared by the engine and the scorer: groups under the token cap, padding, placement."""

import itertools

import jax
import numpy as np
import pytest

from rstar_jax.inference import EngineConfig
from rstar_jax.inference import ScorerConfig
from rstar_jax.inference.batching import Batcher
from rstar_jax.runtime.mesh import make_mesh


def _batcher(max_tokens: int, mesh=None) -> Batcher:
  return Batcher(
    ScorerConfig(min_length_bucket=16, min_batch_bucket=1, max_prefill_tokens=max_tokens),
    pad_id=7,
    mesh=mesh,
  )


def test_groups_are_length_sorted_and_under_the_padded_token_cap():
  lengths = [40, 5, 17, 3, 16, 33, 9]
  batcher = _batcher(64)
  groups = batcher.groups(lengths)
  assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
  flat = [lengths[i] for g in groups for i in g]
  assert flat == sorted(lengths)
  for g in groups:
    rows, length = batcher.shape([lengths[i] for i in g])
    assert rows * length <= 64
  # Each group is as large as the cap allows: adding the next sequence would exceed it.
  for g, nxt in itertools.pairwise(groups):
    rows, length = batcher.shape([lengths[i] for i in [*g, nxt[0]]])
    assert rows * length > 64
  assert groups == [[3, 1, 6, 4], [2], [5], [0]]  # 4 x 16; then 1 x 24, 1 x 48, 1 x 48


def test_row_cap_and_oversized_sequences():
  batcher = _batcher(10_000)
  assert batcher.groups([4] * 5, max_rows=2) == [[0, 1], [2, 3], [4]]
  assert batcher.groups([4] * 5) == [[0, 1, 2, 3, 4]]
  assert _batcher(16).groups([100, 3]) == [[1], [0]]  # over the cap alone: still one group
  assert batcher.groups([]) == []


def test_engine_and_scorer_configs_build_the_same_batcher():
  engine = Batcher(
    EngineConfig(min_length_bucket=32, min_batch_bucket=2, max_prefill_tokens=512),
    pad_id=0,
    mesh=None,
  )
  scorer = Batcher(
    ScorerConfig(min_length_bucket=32, min_batch_bucket=2, max_prefill_tokens=512),
    pad_id=0,
    mesh=None,
  )
  lengths = [3, 50, 20, 7, 90]
  assert engine.groups(lengths) == scorer.groups(lengths)


def test_pad_to_shape_buckets():
  tokens, lengths = _batcher(1024).pad([[1, 2, 3], [4] * 20, [5]])
  assert tokens.shape == (4, 24) and tokens.dtype == np.int32  # rows 3 -> 4, length 20 -> 24
  assert lengths.tolist() == [3, 20, 1, 1]  # padding rows read a length of 1
  assert tokens[0, :3].tolist() == [1, 2, 3] and (tokens[0, 3:] == 7).all()
  assert (tokens[3] == 7).all()


@pytest.mark.parametrize(
  "flag, spec", [("data:2,fsdp:4", ("data", "fsdp")), ("fsdp:2,tensor:4", "fsdp")]
)
def test_put_shards_the_batch_axis_on_the_mesh(flag, spec):
  mesh = make_mesh(flag)
  batcher = _batcher(1024, mesh)
  array = batcher.put(np.arange(16, dtype=np.int32).reshape(8, 2))
  assert array.sharding.spec[0] == spec
  np.testing.assert_array_equal(np.asarray(array), np.arange(16).reshape(8, 2))
  with batcher.scope():
    assert jax.sharding.get_abstract_mesh().axis_names == mesh.axis_names
  assert _batcher(1024).put(np.ones(3)).sharding.is_fully_replicated
