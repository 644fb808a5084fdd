"""Extraction streams over tree shards: the same datasets as from every tree at once, with one
shard of trees in memory at a time."""

import gc
import weakref

import pytest

from launch.benchmarks.search import arithmetic_step
from rstar_jax.data import records
from rstar_jax.data import schemas
from rstar_jax.data.problems import Problem
from rstar_jax.sandbox import SandboxPool
from rstar_jax.search import extract
from rstar_jax.search import run
from rstar_jax.search import scripted
from rstar_jax.search import tree as tree_lib
from rstar_jax.search.config import SearchConfig

PROBLEMS = [
  Problem(f"k{i}", f"Problem {i}: compute the running total.", str(i % 5 + 1)) for i in range(6)
]
PER_SHARD = 2


@pytest.fixture(scope="module")
def tree_dir(tmp_path_factory):
  """Three shards of two trees from a search, then a fourth repeating two of them."""
  out = tmp_path_factory.mktemp("run")
  cfg = SearchConfig(rollouts=6, num_candidates=3, max_depth=6, batch_size=PER_SHARD)
  policy = scripted.GeneratedPolicy(arithmetic_step)
  with SandboxPool(num_workers=1) as pool:
    run.run_search(PROBLEMS, policy, None, pool, cfg, out, progress=False)
  store = run.tree_store(out)
  store.append(records.read_shard(store.paths()[1]))
  return out / run.TREE_DIR


def _in_memory(trees, directory):
  """Extraction as it was: every tree's examples and pairs collected, then written at once."""
  counts = dict.fromkeys((extract.EASY, extract.MEDIUM, extract.HARD), 0)
  for tree in trees:
    counts[extract.difficulty(tree)] += 1
  extra = {"difficulty": counts, "problems": len(trees)}
  for name, kind, rows in (
    ("sft", schemas.SFTExample, [e for t in trees for e in extract.sft_examples(t)]),
    ("ppm", schemas.PPMPair, [p for t in trees for p in extract.ppm_pairs(t)]),
  ):
    records.write_dataset(
      directory / name, [r.to_record() for r in rows], schema=kind.SCHEMA, manifest_extra=extra
    )


def _files(directory):
  return {p.relative_to(directory): p.read_bytes() for p in directory.rglob("*") if p.is_file()}


def test_streamed_datasets_equal_the_in_memory_ones(tree_dir, tmp_path):
  summary = extract.extract(extract.iter_trees(tree_dir), tmp_path / "a/sft", tmp_path / "a/ppm")
  trees = extract.load_trees(tree_dir)
  assert len(trees) == len(PROBLEMS) and summary.problems == len(PROBLEMS)
  assert summary.sft_examples > 0 and summary.ppm_pairs > 0
  _in_memory(trees, tmp_path / "b")
  assert _files(tmp_path / "a") == _files(tmp_path / "b")


def test_one_shard_of_trees_in_memory(tree_dir, tmp_path, monkeypatch):
  live = weakref.WeakSet()
  from_dict, read = tree_lib.Tree.from_dict, records.read_shard

  def tracked(record):
    tree = from_dict(record)
    live.add(tree)
    return tree

  def read_shard(path, **kwargs):
    gc.collect()
    peaks.append(len(live))
    return read(path, **kwargs)

  peaks = []
  monkeypatch.setattr(tree_lib.Tree, "from_dict", staticmethod(tracked))
  monkeypatch.setattr(extract.records, "read_shard", read_shard)
  extract.extract(extract.iter_trees(tree_dir), tmp_path / "sft", tmp_path / "ppm")
  assert len(peaks) == 4 and max(peaks) <= PER_SHARD
  peaks.clear()
  extract.load_trees(tree_dir)  # The list holds every tree read so far.
  assert peaks[-1] == len(PROBLEMS)


def test_a_failed_extraction_leaves_no_dataset(tree_dir, tmp_path):
  def dies(trees):
    yield from trees
    raise RuntimeError("killed")

  with pytest.raises(RuntimeError):
    extract.extract(dies(extract.iter_trees(tree_dir)), tmp_path / "sft", None)
  assert list((tmp_path / "sft").iterdir()) == []
