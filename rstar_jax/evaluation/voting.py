"""The one majority vote: answers grouped by mathematical equivalence (the grader), not by string."""

from collections.abc import Sequence

from rstar_jax import grading


def majority(answers: Sequence[str | None], scores: Sequence[float] | None = None) -> str | None:
  """The answer of the largest equivalence group (None answers do not vote).

  Ties go to the group with the higher summed score when `scores` are given, then to the group
  seen first; the group's first answer is returned.
  """
  groups: list[list[int]] = []
  for i, answer in enumerate(answers):
    if answer is None:
      continue
    for group in groups:
      if grading.is_equivalent(answer, answers[group[0]]):
        group.append(i)
        break
    else:
      groups.append([i])
  if not groups:
    return None
  weight = (lambda g: sum(scores[i] for i in g)) if scores is not None else (lambda g: 0.0)
  best = max(groups, key=lambda g: (len(g), weight(g)))
  return answers[best[0]]
