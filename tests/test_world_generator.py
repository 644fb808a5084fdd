"""The built-in world's problem generator: determinism, disjoint splits, difficulty, answers."""

import json

import pytest

from rstar_jax.data import problems as problems_lib
from rstar_jax.world import generator

N = 300


@pytest.fixture(scope="module")
def train():
  return generator.generate("train", N, seed=0)


@pytest.fixture(scope="module")
def heldout():
  return generator.generate("heldout", N, seed=0)


def test_same_seed_same_problems_other_seed_other_problems(train):
  assert generator.generate("train", N, seed=0) == train
  other = generator.generate("train", N, seed=1)
  assert [p.problem.question for p in other] != [p.problem.question for p in train]


def test_skip_continues_the_same_stream(train):
  assert generator.generate("train", 7, seed=0, skip=5) == train[5:12]


def test_splits_are_disjoint_by_question_hash(train, heldout):
  train_q = {p.problem.question for p in train}
  heldout_q = {p.problem.question for p in heldout}
  assert len(train_q) == len(heldout_q) == N  # no duplicates within a split
  assert not train_q & heldout_q
  # Disjointness holds for any seed: the split is a function of the question text.
  for seed in (0, 3):
    for p in generator.generate("heldout", 50, seed=seed):
      assert generator.question_split(p.problem.question) == "heldout"
    for p in generator.generate("train", 50, seed=seed):
      assert generator.question_split(p.problem.question) == "train"
  assert len({p.problem.id for p in train + heldout}) == 2 * N


def test_difficulty_is_the_number_of_operations(train):
  cfg = generator.GeneratorConfig()
  assert {p.difficulty for p in train} == set(range(cfg.min_ops, cfg.max_ops + 1))
  for p in train:
    assert p.difficulty == len(p.ops)
    # Every operation is told by one sentence between the opener and the question.
    assert p.problem.question.count(". ") + 1 == p.difficulty + 2, p.problem.question
    assert len(p.sentences) == p.difficulty + 1
    assert p.problem.question.startswith(" ".join(p.sentences) + " ")


def test_answers_are_bounded_nonnegative_integers_of_the_story(train, heldout):
  cfg = generator.GeneratorConfig()
  for p in train + heldout:
    assert p.problem.answer == str(int(p.problem.answer))
    assert all(0 <= v <= cfg.max_value for v in p.values)
    assert p.values[-1] == int(p.problem.answer)
    assert str(p.start) in p.problem.question
    for op, before in zip(p.ops, p.values):
      if op.kind == "div":
        assert before % op.operand == 0
      if op.kind.startswith("pct"):
        assert before * op.operand % 100 == 0


def test_operations_are_varied(train):
  kinds = {op.kind for p in train for op in p.ops}
  assert kinds == set(generator.KINDS)
  assert len({p.name for p in train}) > 10 and len({p.item for p in train}) > 10


def test_config_ranges_are_respected():
  cfg = generator.GeneratorConfig(min_ops=3, max_ops=3, max_value=200)
  ps = generator.generate("train", 40, seed=2, cfg=cfg)
  assert all(p.difficulty == 3 and max(p.values) <= 200 for p in ps)


def test_problem_file_round_trip(tmp_path, heldout):
  path = tmp_path / "heldout.jsonl"
  problems_lib.write_problems(path, [p.problem for p in heldout[:20]])
  assert problems_lib.load_problems(path, on_error="raise") == [p.problem for p in heldout[:20]]
  first = json.loads(path.read_text().splitlines()[0])
  assert first["level"] == str(heldout[0].difficulty)


@pytest.mark.parametrize(
  "kwargs",
  [dict(min_ops=0), dict(min_ops=4, max_ops=3), dict(heldout_buckets=1), dict(max_start=1)],
)
def test_bad_config_is_refused(kwargs):
  with pytest.raises(ValueError):
    generator.GeneratorConfig(**kwargs)


def test_bad_split_and_counts_are_refused():
  with pytest.raises(ValueError, match="split"):
    generator.generate("test", 3)
  with pytest.raises(ValueError, match="non-negative"):
    generator.generate("train", -1)


def test_exhausted_story_space_is_an_error_not_a_hang(monkeypatch):
  for name in ("_NAMES", "_OPENERS", "_QUESTIONS", "_FRIENDS"):
    monkeypatch.setattr(generator, name, getattr(generator, name)[:1])
  monkeypatch.setattr(generator, "_ITEMS", generator._ITEMS[:1])  # pylint: disable=protected-access
  monkeypatch.setattr(generator, "_MAX_MISSES", 500)
  cfg = generator.GeneratorConfig(min_ops=1, max_ops=1, max_start=2, max_amount=1, max_value=2)
  with pytest.raises(ValueError, match="too small"):
    generator.generate("train", 100, seed=0, cfg=cfg)
