"""A resumed search learns which problems are done from the shard index, not from the shards."""

import json

import pytest

from launch.benchmarks.search import arithmetic_step
from rstar_jax.data import records
from rstar_jax.data import shard_index
from rstar_jax.data.problems import Problem
from rstar_jax.sandbox import SandboxPool
from rstar_jax.search import run
from rstar_jax.search import scripted
from rstar_jax.search.config import SearchConfig

PROBLEMS = [Problem(f"s{i}", f"Problem {i}: compute the running total.", "3") for i in range(6)]
CFG = SearchConfig(rollouts=2, num_candidates=2, max_depth=4, batch_size=2)
POLICY = scripted.GeneratedPolicy(arithmetic_step)


@pytest.fixture(scope="module")
def pool():
  with SandboxPool(num_workers=1) as p:
    yield p


@pytest.fixture
def shard_reads(monkeypatch):
  """The shards read, in order."""
  reads = []
  read_shard = records.read_shard

  def spy(path, **kwargs):
    reads.append(path.name)
    return read_shard(path, **kwargs)

  monkeypatch.setattr(records, "read_shard", spy)
  return reads


def _search(pool, problems, out, **kwargs):
  return run.run_search(iter(problems), POLICY, None, pool, CFG, out, progress=False, **kwargs)


def test_resume_reads_only_the_index(pool, tmp_path, monkeypatch):
  _search(pool, PROBLEMS[:4], tmp_path)
  lines = (tmp_path / "trees" / "trees.index").read_text().splitlines()
  assert [json.loads(line) for line in lines] == [
    {"shard": "trees-00000.array_record", "keys": [["s0", None], ["s1", None]]},
    {"shard": "trees-00001.array_record", "keys": [["s2", None], ["s3", None]]},
  ]

  def unreadable(path, **kwargs):
    raise AssertionError(f"{path} was read")

  monkeypatch.setattr(records, "read_shard", unreadable)
  summary = _search(pool, PROBLEMS, tmp_path)
  assert (summary.searched, summary.skipped) == (2, 4)
  assert run.finished_ids(tmp_path) == {p.id for p in PROBLEMS}


def test_an_unlisted_shard_is_read_once_and_listed(pool, tmp_path, shard_reads):
  _search(pool, PROBLEMS[:4], tmp_path)
  index = tmp_path / "trees" / "trees.index"
  first, second = index.read_text().splitlines()
  index.write_text(first + "\n" + second[:25])  # Killed while listing the second shard.
  assert run.finished_ids(tmp_path) == {"s0", "s1", "s2", "s3"}
  assert shard_reads == ["trees-00001.array_record"]
  summary = _search(pool, PROBLEMS[:5], tmp_path)
  assert (summary.searched, summary.skipped) == (1, 4)
  assert shard_reads == ["trees-00001.array_record"] * 2  # Listed by the resumed writer.
  assert [json.loads(line)["shard"] for line in index.read_text().splitlines()] == [
    "trees-00000.array_record",
    "trees-00001.array_record",
    "trees-00002.array_record",
  ]
  assert run.finished_ids(tmp_path) == {"s0", "s1", "s2", "s3", "s4"}
  assert len(shard_reads) == 2


def test_a_listed_shard_that_is_gone_is_searched_again(pool, tmp_path, shard_reads):
  _search(pool, PROBLEMS[:4], tmp_path)
  (tmp_path / "trees" / "trees-00001.array_record").unlink()
  summary = _search(pool, PROBLEMS[:4], tmp_path)
  assert (summary.searched, summary.skipped) == (2, 2)
  found = shard_index.scan(tmp_path / "trees")
  assert found["trees-00001.array_record"] == [("s2", None), ("s3", None)]
  assert shard_reads == []


def test_processes_list_only_their_own_shards(pool, tmp_path, shard_reads):
  for index in (0, 1):
    _search(pool, PROBLEMS[:4], tmp_path, process_index=index, process_count=2)
  names = sorted(p.name for p in (tmp_path / "trees").glob("*.index"))
  assert names == ["trees-p0000.index", "trees-p0001.index"]
  (tmp_path / "trees" / "trees-p0001.index").unlink()  # Its owner is killed before listing.
  assert _search(pool, PROBLEMS[:4], tmp_path, process_count=2).skipped == 2
  assert shard_reads == ["trees-p0001-00000.array_record"]
  assert not (tmp_path / "trees" / "trees-p0001.index").exists()  # Not process 0's to list.
