"""Every gold answer of every benchmark in ../shared/data/benchmarks parses and is self-consistent."""

import json
import random

import pytest

from rstar_jax.data.benchmarks import gold_answer
from rstar_jax.data.benchmarks import load_benchmark
from rstar_jax.data.problems import LoadReport
from rstar_jax.data.problems import ProblemFileError
from rstar_jax.grading import extract_answer
from rstar_jax.grading import is_equivalent
from rstar_jax.grading import normalize
from rstar_jax.grading import parse_number

FILES = [
  "aime24",
  "amc23",
  "college_math",
  "gaokao2023en",
  "gsm8k",
  "gsm8k_train",
  "math500",
  "minerva_math",
  "olympiadbench",
]
NUMERIC = {"aime24", "amc23", "gsm8k", "gsm8k_train"}
# Records of the source data that carry no answer at all (empty `answer`, no solution): skipped with
# their line numbers reported, never silently.
KNOWN_UNANSWERED = {"gaokao2023en": [168, 193]}
PAIRS_PER_FILE = 25
# Golds of different problems that are the same answer written differently.
KNOWN_EQUAL_GOLDS: set[tuple[str, str]] = set()


@pytest.mark.parametrize("name", FILES)
def test_every_gold_parses_and_matches_its_boxed_forms(benchmarks_dir, name):
  path = benchmarks_dir / f"{name}.jsonl"
  report = LoadReport(str(path))
  problems = load_benchmark(path, report=report)
  assert [int(s.split(":")[1]) for s in report.skipped] == KNOWN_UNANSWERED.get(name, [])
  assert len({p.id for p in problems}) == len(problems)
  records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
  solved = 0
  for record in records:
    try:
      gold = gold_answer(record)
    except ProblemFileError:
      continue
    assert normalize(gold)[0], f"{name}: gold {gold!r} normalises to nothing"
    if name in NUMERIC:
      assert parse_number(normalize(gold)[0]) is not None, f"{name}: gold {gold!r} is not a number"
    boxed = extract_answer(f"The answer is \\boxed{{{gold}}}.")
    assert boxed == gold and is_equivalent(boxed, gold) and is_equivalent(gold, gold)
    solution = record.get("solution")
    solution = "\n".join(solution) if isinstance(solution, list) else solution
    reference = extract_answer(solution) if isinstance(solution, str) else None
    if reference is not None:
      solved += 1
      assert is_equivalent(reference, gold), f"{name}: solution box {reference!r} vs gold {gold!r}"
  if name in ("math500", "minerva_math"):
    assert solved == len(records)


@pytest.mark.parametrize("name", FILES)
def test_different_golds_are_not_equivalent(benchmarks_dir, name):
  """Golds of different problems, paired at random (fixed seed), are told apart: a sample of the
  false-positive rate on realistic answers, not only on hand-picked ones."""
  problems = load_benchmark(benchmarks_dir / f"{name}.jsonl")
  rng = random.Random(0)
  for _ in range(PAIRS_PER_FILE):
    a, b = rng.sample(problems, 2)
    same = (
      normalize(a.answer)[0] == normalize(b.answer)[0] or (a.answer, b.answer) in KNOWN_EQUAL_GOLDS
    )
    assert is_equivalent(a.answer, b.answer) == same, (
      f"{name}: {a.id} {a.answer!r} vs {b.id} {b.answer!r}"
    )
