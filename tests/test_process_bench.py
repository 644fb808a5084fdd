"""The ProcessBench metric: first-error prediction, accuracies and F1, threshold choice, scoring."""

import dataclasses
import random

import numpy as np
import pytest

from rstar_jax.evaluation import process_bench
from rstar_jax.format import prompts


@dataclasses.dataclass(frozen=True)
class Example:
  question: str
  steps: tuple[str, ...]
  first_error: int


def toy_set(prefix: str, labels: list[tuple[int, int]]) -> list[Example]:
  """(number of steps, first error) per example; step texts are unique per example."""
  return [
    Example(f"{prefix} q{i}?", tuple(f"<s{j}>" for j in range(n)), first)
    for i, (n, first) in enumerate(labels)
  ]


class CountingScorer:
  """Scores a prefix by `fn(example, step index)` looked up from its text; counts calls."""

  def __init__(self, examples, fn):
    self.by_text = {
      text: fn(e, i)
      for e in examples
      for i, text in enumerate(process_bench.prefix_texts(e, prompts.policy_prompt))
    }
    self.calls: list[list[str]] = []

  def score(self, texts):
    self.calls.append(list(texts))
    return np.asarray([self.by_text[t] for t in texts], np.float32)


def test_prefix_texts_are_prompt_plus_steps():
  e = Example("What?", ("<code>a<end_of_step>", "b<end_of_code>", "c"), -1)
  head = prompts.policy_prompt("What?")
  assert process_bench.prefix_texts(e, prompts.policy_prompt) == [
    head + "<code>a<end_of_step>",
    head + "<code>a<end_of_step>b<end_of_code>",
    head + "<code>a<end_of_step>b<end_of_code>c",
  ]


def test_first_error_prediction():
  assert process_bench.first_error_prediction([0.9, 0.4, 0.1], 0.5) == 1
  assert process_bench.first_error_prediction([0.9, 0.5, 0.6], 0.5) == -1  # Strictly below.
  assert process_bench.first_error_prediction([0.1, 0.9], 0.5) == 0
  assert process_bench.first_error_prediction([], 0.5) == -1


def test_process_metrics_by_hand():
  m = process_bench.process_metrics([2, 0, 1, -1, -1], [2, -1, 0, -1, 1])
  assert m == {
    "error_acc": pytest.approx(1 / 3),
    "correct_acc": 0.5,
    "f1": pytest.approx(2 * (1 / 3) * 0.5 / (1 / 3 + 0.5)),
    "num_error": 3,
    "num_correct": 2,
  }
  always_right = process_bench.process_metrics([2, 0, -1], [-1, -1, -1])
  assert always_right["error_acc"] == 0 and always_right["correct_acc"] == 1
  assert always_right["f1"] == 0
  assert process_bench.process_metrics([-1], [-1])["f1"] == 0  # No erroneous examples.
  with pytest.raises(ValueError, match="2 labels but 1 predictions"):
    process_bench.process_metrics([0, 1], [0])


def test_threshold_on_a_toy_dev_set():
  # A is right for t <= 0.8, B (first error 1) for 0.2 < t <= 0.7, C (first error 0) for t > 0.3;
  # all three for 0.3 < t <= 0.7: candidates 0.45 and 0.65 tie, the smaller middle one wins.
  scores = [[0.9, 0.8], [0.7, 0.2], [0.3, 0.6]]
  assert process_bench.choose_threshold(scores, [-1, 1, 0]) == pytest.approx(0.45)
  # Both right for 0.1 < t <= 0.5: candidates 0.15, 0.25 and 0.4 tie, the middle one wins.
  assert process_bench.choose_threshold([[0.1, 0.2, 0.3], [0.5]], [0, -1]) == pytest.approx(0.25)
  with pytest.raises(ValueError, match="at least one scored step"):
    process_bench.choose_threshold([[]], [-1])


def test_threshold_is_best_over_every_candidate_by_brute_force():
  rng = random.Random(0)
  for _ in range(20):
    n = rng.randint(2, 12)
    rows = [[round(rng.random(), 1) for _ in range(rng.randint(1, 5))] for _ in range(n)]
    labels = [rng.choice([-1, rng.randrange(len(r))]) for r in rows]

    def f1(t, rows=rows, labels=labels):
      preds = [process_bench.first_error_prediction(r, t) for r in rows]
      return process_bench.process_metrics(labels, preds)["f1"]

    grid = [x / 100 for x in range(-10, 120)]
    chosen = process_bench.choose_threshold(rows, labels)
    assert f1(chosen) == pytest.approx(max(f1(t) for t in grid))


def test_perfect_and_always_correct_scorers():
  dev = toy_set("dev", [(4, -1), (5, 2), (3, 0), (6, -1), (4, 3)])
  test = toy_set("test", [(5, 1), (4, -1), (6, 4), (3, -1)])

  def perfect(e, i):
    return 0.2 if 0 <= e.first_error <= i else 0.9

  result = process_bench.evaluate_scorer(
    CountingScorer(dev + test, perfect), dev, test, prompts.policy_prompt
  )
  assert 0.2 < result["threshold"] <= 0.9
  assert result["is_error"] == [e.first_error >= 0 for e in test]
  assert all(result["right"])  # The perfect scorer finds every first error.
  assert result["dev"]["f1"] == 1 and result["heldout"]["f1"] == 1
  assert result["heldout"]["num_error"] == 2 and result["heldout"]["num_correct"] == 2

  result = process_bench.evaluate_scorer(
    CountingScorer(dev + test, lambda e, i: 0.9), dev, test, prompts.policy_prompt
  )
  assert result["heldout"]["error_acc"] == 0 and result["heldout"]["f1"] == 0
  assert result["heldout"]["correct_acc"] == 1


def test_one_scorer_call_with_identical_prefixes_once():
  dev = toy_set("same", [(3, -1), (3, 1)])
  test = [*toy_set("same", [(3, -1)]), *toy_set("other", [(2, 0)])]  # test[0] repeats dev[0].
  scorer = CountingScorer(dev + test, lambda e, i: 0.1 if 0 <= e.first_error <= i else 0.8)
  result = process_bench.evaluate_scorer(scorer, dev, test, prompts.policy_prompt)
  assert len(scorer.calls) == 1
  (texts,) = scorer.calls
  assert len(texts) == len(set(texts)) == 3 + 3 + 2
  assert result["dev"]["f1"] == 1 and result["heldout"]["f1"] == 1


def test_a_scorer_of_the_wrong_shape_is_refused():
  class Short:
    def score(self, texts):
      return np.zeros(len(texts) - 1, np.float32)

  dev = toy_set("dev", [(2, -1)])
  with pytest.raises(RuntimeError, match="shape"):
    process_bench.evaluate_scorer(Short(), dev, dev, prompts.policy_prompt)
