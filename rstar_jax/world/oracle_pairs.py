"""Step pairs the world labels by value: is a PPM recipe short of data, or of something else?

The PPM learns from the Q-values of search trees, a few hundred pairs a round at the world's
budgets. These pairs are of the same kind (after one prefix, a right next step against a wrong
one) but labelled by the world's values with no search, one per problem and as many as asked,
so held-out accuracy against the number trained on is the recipe's learning curve
(`launch.ppm_curve`). A diagnostic only: the method never trains on them.

The wrong steps are the teacher's errors (a swapped operation, a wrong operand, a skipped
sentence). The policy's own mistakes in search can differ: it also miscopies the sentence it
quotes, which only a look back at the question reveals.
"""

from collections.abc import Callable, Iterable
import itertools
import random

from rstar_jax.data import schemas
from rstar_jax.world import process_set
from rstar_jax.world import teacher as teacher_lib
from rstar_jax.world.generator import WorldProblem


def step_pair(
  problem: WorldProblem,
  prompt: Callable[[str], str],
  teacher: teacher_lib.TeacherConfig,
  rng: random.Random,
) -> schemas.PPMPair | None:
  """The reference solution's step i (pos) against step i of a teacher draft whose first wrong
  step is i (neg), after the steps both share; None when the draft differs earlier without a
  wrong value (a wrong operand that floor division hides), so the prefixes are not one."""
  reference, _ = teacher_lib.write_code(problem, teacher_lib.PERFECT, rng)
  right = process_set.solution_steps(problem, reference)
  wrong = process_set.solution_steps(problem, process_set.draft_with_error(problem, teacher, rng))
  i = process_set.first_wrong_step(problem, wrong)
  if i < 0 or wrong[:i] != right[:i]:
    return None
  question = problem.problem.question
  return schemas.PPMPair(
    problem.problem.id, prompt(question) + "".join(right[:i]), pos=right[i], neg=wrong[i]
  )


def step_pairs(
  problems: Iterable[WorldProblem],
  count: int,
  *,
  prompt: Callable[[str], str],
  seed: int,
  teacher: teacher_lib.TeacherConfig = teacher_lib.TeacherConfig(),
) -> list[schemas.PPMPair]:
  """The first `count` pairs of `problems`, at most one each; deterministic in the arguments."""
  rng = random.Random(f"rstar-world-oracle-pairs/{seed}")
  found = (step_pair(p, prompt, teacher, rng) for p in problems)
  pairs = list(itertools.islice(filter(None, found), count))
  if len(pairs) < count:
    raise ValueError(f"the problems gave {len(pairs)} step pairs; {count} were asked for")
  return pairs
