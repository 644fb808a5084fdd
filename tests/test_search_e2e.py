"""End to end with a tiny random-weight model: real Engine, Scorer, sandbox and grader.

The search runs in PPM-augmented mode over three problems, is interrupted inside the second
batch, resumes, and the extracted datasets are read back through grain.
"""

import grain
import pytest
from tiny_tokenizer import tiny_engine_and_scorer

from rstar_jax.data import records
from rstar_jax.data.problems import Problem
from rstar_jax.format import prompts
from rstar_jax.sandbox import SandboxPool
from rstar_jax.search import extract
from rstar_jax.search import run
from rstar_jax.search.config import SearchConfig

PROBLEMS = [
  Problem(f"p{i}", f"Tom has {i} apples and buys 5 more. How many apples now?", str(i + 5))
  for i in range(3)
]


class _KilledError(Exception):
  pass


class _KilledErrorOn:
  """Wraps the engine; dies at the first expansion of one problem (a kill mid-run)."""

  def __init__(self, engine, question):
    self.engine, self.question = engine, question

  def expand(self, prompt_texts, n, sampling):
    if any(prompts.split_prompt(t)[0] == self.question for t in prompt_texts):
      raise _KilledError()
    return self.engine.expand(prompt_texts, n, sampling)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
  engine, scorer, _ = tiny_engine_and_scorer(tmp_path_factory.mktemp("policy"))
  return engine, scorer


def test_search_resume_extract_with_tiny_model(models, tmp_path):
  engine, scorer = models
  cfg = SearchConfig(
    mode="ppm",
    rollouts=2,
    num_candidates=3,
    max_depth=3,
    step_max_tokens=12,
    temperature=1.0,
    batch_size=1,
  )
  with SandboxPool(num_workers=2) as pool:
    with pytest.raises(_KilledError):
      run.run_search(
        PROBLEMS,
        _KilledErrorOn(engine, PROBLEMS[1].question),
        scorer,
        pool,
        cfg,
        tmp_path,
        progress=False,
      )
    assert run.finished_ids(tmp_path) == {"p0"}
    summary = run.run_search(PROBLEMS, engine, scorer, pool, cfg, tmp_path, progress=False)
  assert (summary.searched, summary.skipped) == (2, 1)
  assert summary.stats["expansions"] >= 2 and engine.stats.prompts > 0
  trees = extract.load_trees(tmp_path / run.TREE_DIR)
  assert sorted(t.problem_id for t in trees) == ["p0", "p1", "p2"]
  for tree in trees:
    assert tree.root.children and all(
      c.stop_reason in ("stop", "eos", "length") for c in tree.nodes[1:]
    )
    assert all(n.ppm is not None for n in tree.nodes[1:] if n.invalid is None)
  got = extract.extract(trees, tmp_path / "sft", tmp_path / "ppm")
  assert sum(got.difficulty.values()) == 3
  for name, count in (("sft", got.sft_examples), ("ppm", got.ppm_pairs)):
    manifest = records.read_manifest(tmp_path / name)
    assert manifest["num_records"] == count and manifest["difficulty"] == got.difficulty
    source = grain.sources.ArrayRecordDataSource(records.dataset_shards(tmp_path / name))
    assert list(grain.MapDataset.source(source).map(records.decode)) == records.read_dataset(
      tmp_path / name
    )
