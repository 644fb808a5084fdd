"""The ProcessBench metric (Zheng et al. 2024, "ProcessBench"): can a process reward model find
the first wrong step of a solution?

A scorer predicts the first step scoring below a threshold as the first error (-1, a correct
solution, when none does). Accuracy on erroneous solutions is the exact match of that index,
accuracy on correct ones the fraction predicted -1, and F1 their harmonic mean. The threshold is
chosen on a development set and then applied unchanged to the held-out one.

Examples are duck-typed (`question`, `steps`, `first_error`) so that evaluation, which sits
below the built-in world, never imports it.
"""

from collections.abc import Callable, Sequence
import itertools
from typing import Any, Protocol

import numpy as np


class ExampleLike(Protocol):
  question: str
  steps: Sequence[str]
  first_error: int


class ScorerLike(Protocol):
  def score(self, texts: Sequence[str]) -> np.ndarray: ...


def prefix_texts(example: ExampleLike, prompt: Callable[[str], str]) -> list[str]:
  """What the reward model scores for step i: the prompt and steps 0..i, as in search."""
  head = prompt(example.question)
  return [head + partial for partial in itertools.accumulate(example.steps)]


def first_error_prediction(scores: Sequence[float], threshold: float) -> int:
  """The first step scoring below `threshold`, -1 when none does."""
  return next((i for i, s in enumerate(scores) if s < threshold), -1)


def process_metrics(first_errors: Sequence[int], predictions: Sequence[int]) -> dict[str, Any]:
  """ProcessBench accuracies and F1; a class without examples scores 0 (so F1 is 0)."""
  if len(first_errors) != len(predictions):
    raise ValueError(f"{len(first_errors)} labels but {len(predictions)} predictions")
  error_hits = [p == f for f, p in zip(first_errors, predictions) if f >= 0]
  correct_hits = [p == -1 for f, p in zip(first_errors, predictions) if f < 0]
  error_acc = sum(error_hits) / len(error_hits) if error_hits else 0.0
  correct_acc = sum(correct_hits) / len(correct_hits) if correct_hits else 0.0
  f1 = 0.0
  if error_acc > 0 and correct_acc > 0:
    f1 = 2 * error_acc * correct_acc / (error_acc + correct_acc)
  return {
    "error_acc": error_acc,
    "correct_acc": correct_acc,
    "f1": f1,
    "num_error": len(error_hits),
    "num_correct": len(correct_hits),
  }


def _hit_intervals(scores: Sequence[float], first_error: int) -> tuple[float, float]:
  """(lo, hi): the example is predicted right exactly for thresholds lo < t <= hi. A correct
  solution needs no step flagged (t <= its lowest score); an erroneous one needs its first wrong
  step flagged (t > its score) and none before (t <= their lowest score)."""
  before = scores if first_error < 0 else scores[:first_error]
  hi = min(before, default=np.inf)
  lo = -np.inf if first_error < 0 else scores[first_error]
  return lo, hi


def choose_threshold(
  examples_scores: Sequence[Sequence[float]], first_errors: Sequence[int]
) -> float:
  """The threshold of highest F1 on a development set.

  Candidates are the midpoints between sorted distinct scores and the extremes (the lowest
  score: no step flagged; one above the highest: every step flagged). Of tied candidates the
  middle one (the smaller of two middles) wins, a deterministic choice away from the edges of
  the best range.
  """
  if len(examples_scores) != len(first_errors):
    raise ValueError(f"{len(examples_scores)} score lists but {len(first_errors)} labels")
  distinct = np.unique(np.asarray([s for scores in examples_scores for s in scores], np.float64))
  if distinct.size == 0:
    raise ValueError("choose_threshold needs at least one scored step")
  candidates = np.concatenate(
    [distinct[:1], (distinct[:-1] + distinct[1:]) / 2, distinct[-1:] + 1.0]
  )
  bounds = np.asarray(
    [_hit_intervals(s, f) for s, f in zip(examples_scores, first_errors)], np.float64
  ).reshape(-1, 2)
  hits = (bounds[None, :, 0] < candidates[:, None]) & (candidates[:, None] <= bounds[None, :, 1])
  wrong = np.asarray(first_errors) >= 0
  error_acc = hits[:, wrong].mean(axis=1) if wrong.any() else np.zeros(len(candidates))
  correct_acc = hits[:, ~wrong].mean(axis=1) if (~wrong).any() else np.zeros(len(candidates))
  total = error_acc + correct_acc
  f1 = np.divide(2 * error_acc * correct_acc, total, out=np.zeros_like(total), where=total > 0)
  best = np.flatnonzero(f1 >= f1.max() - 1e-12)
  return float(candidates[best[(len(best) - 1) // 2]])


def evaluate_scorer(
  scorer: ScorerLike,
  dev: Sequence[ExampleLike],
  test: Sequence[ExampleLike],
  prompt: Callable[[str], str],
) -> dict[str, Any]:
  """Scores every prefix of both sets in one `scorer.score` call (identical prefixes once),
  picks the threshold on `dev` and reports the metrics of both at it."""
  texts = [prefix_texts(e, prompt) for e in (*dev, *test)]
  unique = list(dict.fromkeys(t for row in texts for t in row))
  values = np.asarray(scorer.score(unique), dtype=np.float64)
  if values.shape != (len(unique),):
    raise RuntimeError(f"scorer.score returned shape {values.shape} for {len(unique)} texts")
  by_text = dict(zip(unique, values.tolist()))
  scores = [[by_text[t] for t in row] for row in texts]
  dev_scores, test_scores = scores[: len(dev)], scores[len(dev) :]
  threshold = choose_threshold(dev_scores, [e.first_error for e in dev])

  def predictions(rows: list[list[float]]) -> list[int]:
    return [first_error_prediction(row, threshold) for row in rows]

  test_predictions = predictions(test_scores)
  return {
    "threshold": threshold,
    "dev": process_metrics([e.first_error for e in dev], predictions(dev_scores)),
    "heldout": process_metrics([e.first_error for e in test], test_predictions),
    # Per held-out example, for paired comparisons of scorers (`claims.f1_difference`).
    "is_error": [e.first_error >= 0 for e in test],
    "right": [p == e.first_error for p, e in zip(test_predictions, test)],
  }
