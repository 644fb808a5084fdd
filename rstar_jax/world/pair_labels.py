"""How right a round's PPM training pairs are, judged by the world's own values.

The search orders a pair's two steps by Q-value: `pos` led to more correct rollouts than `neg`.
The math world knows every intermediate value, so each side can be checked directly
(`process_set.first_wrong_step` over the pair's prefix plus that side). A pair is then
right over wrong, both right (their Q differs by rollout chance, e.g. the same code under a
reworded comment), both wrong, reversed, or unjudged (a side writes a line the world's checker
cannot run). Step pairs and final-answer pairs (two whole trajectories) are counted apart.
"""

import collections
from collections.abc import Callable, Iterable, Mapping

from rstar_jax.data.schemas import PPMPair
from rstar_jax.world import generator
from rstar_jax.world import process_set
from rstar_jax.world.config import WorldConfig
from rstar_jax.world.generator import WorldProblem

LABELS = ("right_over_wrong", "both_right", "both_wrong", "reversed", "unjudged")
_BY_SIDES = {
  (True, False): "right_over_wrong",
  (True, True): "both_right",
  (False, False): "both_wrong",
  (False, True): "reversed",
}


def is_answer_pair(pair: PPMPair) -> bool:
  """A final-answer pair: each side is a whole trajectory (several steps), not one node's text."""
  try:
    return len(process_set.split_steps(pair.pos)) > 1
  except ValueError:  # An unterminated step text is a single (length-capped) node.
    return False


def label_pair(problem: WorldProblem, pair: PPMPair, head: str) -> str:
  """One of `LABELS` for `pair` of `problem`, whose prompt starts with `head` (the domain's
  prompt of the question); the solution prefix after it is shared by both sides."""
  if not pair.prompt.startswith(head):
    raise ValueError(f"pair of problem {pair.problem_id}: its prompt is not the problem's")
  try:
    prefix = process_set.split_steps(pair.prompt[len(head) :])
    sides = tuple(
      process_set.first_wrong_step(problem, (*prefix, *process_set.split_steps(side))) == -1
      for side in (pair.pos, pair.neg)
    )
  except ValueError:  # A step the world's checker cannot read or run.
    return "unjudged"
  return _BY_SIDES[sides]


def pair_quality(
  pairs: Iterable[PPMPair],
  problems: Mapping[str, WorldProblem],
  prompt: Callable[[str], str],
) -> dict[str, dict[str, int]]:
  """Counts of each label, for 'step' and 'answer' pairs, with their total under 'pairs'."""
  counts = {"step": collections.Counter(), "answer": collections.Counter()}
  for pair in pairs:
    problem = problems.get(pair.problem_id)
    if problem is None:
      raise ValueError(f"pair of problem {pair.problem_id!r}: not a problem of the world")
    kind = "answer" if is_answer_pair(pair) else "step"
    counts[kind][label_pair(problem, pair, prompt(problem.problem.question))] += 1
  return {
    kind: {"pairs": sum(c.values()), **{label: c[label] for label in LABELS}}
    for kind, c in counts.items()
  }


def train_problems(cfg: WorldConfig) -> dict[str, WorldProblem]:
  """The math world's training split by id, as `build_world` generated it."""
  if cfg.domain != "math":
    raise ValueError(f"pair labels need the math world's values, got domain {cfg.domain!r}")
  return generator.problems_by_id("train", cfg.num_train, cfg.seed)
