"""The contamination report: n-gram overlap of training problems with the evaluation sets."""

import json
import pathlib
import shutil

import pytest

from rstar_jax.data import contamination
from rstar_jax.data import sources
from rstar_jax.data.problems import Problem
from rstar_jax.data.problems import write_problems
from rstar_jax.evolution.config import BootstrapSource
from rstar_jax.evolution.config import ProblemsConfig
from rstar_jax.evolution.config import RunConfig
from rstar_jax.evolution.layout import RunLayout
from rstar_jax.evolution.pipeline import Pipeline
from rstar_jax.runtime import stages

# 20 words: 8 distinct 13-grams; changing the last word leaves 7 of them.
APPLES = (
  "Tom has 12 apples and buys 30 more at the big market, then he gives half to his sister Ann."
)
ROBOTS = (
  "A factory builds robots at a constant rate of $\\dfrac{3}{4}$ per hour for every worker "
  "on the long night shift; how many robots do 10 workers build in $\\left(8\\right)$ hours?"
)
CIRCLE = "Find the area of a circle whose radius is 7 cm."  # 11 words: one whole-text n-gram.
TINY = "Compute $2 + 3$."  # Under 8 words: not checked.
TRAIN = [
  Problem("t-edit", APPLES.replace("Ann.", "Beth."), "21"),
  Problem(
    "t-typeset", ROBOTS.replace("\\dfrac{3}{4}", "\\frac{3}{4}").replace("\\left(", "("), "1"
  ),
  Problem("t-inside", f"First, {CIRCLE.lower()} Then double it.", "1"),
  Problem("t-clean", "How many legs do 4 spiders and 3 ants have together in total?", "50"),
]


def _write_jsonl(path: pathlib.Path, records: list[dict]) -> None:
  path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


@pytest.fixture
def bench(tmp_path) -> pathlib.Path:
  """Two evaluation sets in the benchmark formats, and a training split the check skips."""
  folder = tmp_path / "benchmarks"
  folder.mkdir()
  _write_jsonl(
    folder / "alpha.jsonl",
    [
      {"question": APPLES, "answer": "Tom keeps 21.\n#### 21"},
      {
        "question": "How many legs do 5 dogs have? Count every leg carefully please.",
        "answer": "20",
      },
    ],
  )
  _write_jsonl(
    folder / "beta.jsonl",
    [
      {"problem": ROBOTS, "answer": "60", "unique_id": "r"},
      {"problem": CIRCLE, "answer": "49\\pi", "unique_id": "c"},
      {"problem": TINY, "answer": "5", "unique_id": "t"},
    ],
  )
  _write_jsonl(folder / "alpha_train.jsonl", [{"question": APPLES, "answer": "#### 21"}])
  return folder


def test_normalize_drops_case_punctuation_and_layout_markup():
  assert contamination.normalize("The  \\textbf{Sum}\tof $\\dfrac{1}{2}$,\n1,000 apples!") == (
    "the sum of 1 2 1000 apples"
  )
  assert (
    contamination.normalize("$\\left( \\sqrt{x} \\right)\\,\\pi$ is 3.5.") == "sqrt x pi is 3.5"
  )
  assert contamination.normalize(ROBOTS) == contamination.normalize(TRAIN[1].question)


def test_report_flags_exactly_the_copies(bench, tmp_path):
  index = contamination.Index(contamination.load_eval_sets(bench))
  assert sorted(index.sets) == ["alpha", "beta"]
  assert list(contamination.load_eval_sets(bench, exclude=[bench / "beta.jsonl"])) == ["alpha"]
  report = contamination.check(TRAIN, index, source="train.jsonl")
  alpha, beta = report["sets"]["alpha"], report["sets"]["beta"]
  assert (alpha["problems"], alpha["contaminated"], alpha["train_sharing"]) == (2, 1, 1)
  assert (beta["problems"], beta["contaminated"], beta["train_sharing"]) == (3, 2, 2)
  assert beta["too_short"] == 1 and alpha["too_short"] == 0
  assert alpha["examples"] == [
    {"train_id": "t-edit", "eval_id": "alpha-1", "overlap": 7 / 8, "shared_ngrams": 7}
  ]
  assert [(x["train_id"], x["eval_id"], x["overlap"]) for x in beta["examples"]] == [
    ("t-typeset", "beta-r", 1.0),
    ("t-inside", "beta-c", 1.0),
  ]
  assert alpha["coverage"] == {"alpha-1": 7 / 8} and beta["max_overlap"] == 1.0
  assert report["train"] == {"source": "train.jsonl", "problems": 4, "sharing": 3}
  assert contamination.flagged(report, 1.0) == {"t-typeset", "t-inside"}
  assert contamination.flagged(report, 0.5) == {"t-typeset", "t-inside", "t-edit"}

  contamination.write_report(report, tmp_path / "out")
  assert json.loads((tmp_path / "out" / "contamination.json").read_text()) == report
  md = (tmp_path / "out" / "contamination.md").read_text()
  assert "| beta | 3 | 2 | 66.7 | 1 | 2 | 1.00 |" in md
  assert "| alpha | t-edit | alpha-1 | 0.88 |" in md
  assert not list((tmp_path / "out").glob(".tmp-*"))


def test_shorter_ngrams_flag_paraphrases_that_13_grams_miss(bench):
  sets = contamination.load_eval_sets(bench)
  paraphrase = [Problem("p", APPLES.replace("then he gives", "and gives"), "21")]
  assert contamination.check(paraphrase, contamination.Index(sets))["train"]["sharing"] == 0
  assert contamination.check(paraphrase, contamination.Index(sets, 5))["train"]["sharing"] == 1


def test_training_problems_are_streamed_once(bench):
  consumed = []

  def stream():
    for problem in TRAIN:
      consumed.append(problem.id)
      yield problem

  problems = stream()
  report = contamination.check(problems, contamination.Index(contamination.load_eval_sets(bench)))
  assert consumed == [p.id for p in TRAIN] and report["train"]["problems"] == len(TRAIN)
  assert next(problems, None) is None


def test_drop_needs_evaluation_sets():
  with pytest.raises(ValueError, match="contamination_drop needs benchmarks_dir"):
    ProblemsConfig(contamination_drop=0.5)
  with pytest.raises(ValueError, match="contamination_ngram"):
    ProblemsConfig(contamination_ngram=0)


def _configured_run(tmp_path, bench, **problems) -> Pipeline:
  train, heldout, policy = tmp_path / "train.jsonl", tmp_path / "heldout.jsonl", tmp_path / "p"
  write_problems(train, TRAIN)
  write_problems(heldout, TRAIN[:1])
  policy.mkdir()
  config = RunConfig(
    run_dir=str(tmp_path / "run"),
    problems=ProblemsConfig(
      train=str(train), heldout=str(heldout), benchmarks_dir=str(bench), **problems
    ),
    bootstrap=BootstrapSource(policy=str(policy)),
  )
  return Pipeline(config, RunLayout(tmp_path / "run"))


def test_prepare_writes_the_report_before_round_one(bench, tmp_path):
  pipeline = _configured_run(tmp_path, bench)
  summary = pipeline.prepare()
  assert summary["contamination"]["contaminated"] == {"alpha": 1, "beta": 2}
  root = pipeline.layout.root
  assert json.loads((root / "contamination.json").read_text())["train"]["sharing"] == 3
  assert (root / "contamination.md").is_file()
  assert stages.read_marker(pipeline.layout.marker(0, "contamination")) is not None
  assert len(pipeline.problems("train")) == len(TRAIN)  # Report only by default.


def test_drop_leaves_flagged_problems_out_of_the_search(bench, tmp_path):
  pipeline = _configured_run(tmp_path, bench, contamination_drop=1.0)
  assert pipeline.prepare()["contamination"]["dropped"] == 2
  assert [p.id for p in pipeline.problems("train")] == ["t-edit", "t-clean"]
  assert len(pipeline.problems("heldout")) == 1


def test_missing_evaluation_sets_skip_the_report(tmp_path):
  pipeline = _configured_run(tmp_path, tmp_path / "absent")
  assert "skipped" in pipeline.prepare()["contamination"]
  assert not (pipeline.layout.root / "contamination.json").exists()


def test_gsm8k_train_against_the_benchmarks(benchmarks_dir, tmp_path):
  train = benchmarks_dir / "gsm8k_train.jsonl"
  index = contamination.Index(contamination.load_eval_sets(benchmarks_dir, exclude=[train]))
  assert "gsm8k" in index.sets and "math500" in index.sets and "gsm8k_train" not in index.sets
  report = contamination.check(sources.load_problem_file(train), index)
  assert report["train"]["problems"] == 7473
  gsm8k = report["sets"]["gsm8k"]
  # A few templated near-duplicates (same story, other numbers), no verbatim copy.
  assert 0 < gsm8k["contaminated"] < 20 and gsm8k["max_overlap"] < 1.0
  assert all(report["sets"][name]["contaminated"] == 0 for name in ("math500", "aime24"))
  # The test split checked against itself is found whole.
  shutil.copy(benchmarks_dir / "gsm8k.jsonl", tmp_path / "copy.jsonl")
  itself = contamination.check(sources.load_problem_file(tmp_path / "copy.jsonl"), index)
  assert itself["sets"]["gsm8k"]["contaminated"] == 1319
