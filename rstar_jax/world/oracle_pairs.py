"""Step pairs the world labels by value: is a PPM recipe short of data, or of something else?

The PPM learns from the Q-values of search trees, a few hundred pairs a round at the world's
budgets. These pairs are of the same kind (after one prefix, a right next step against a wrong
one) but labelled by the world's values with no search, one per problem and as many as asked,
so held-out accuracy against the number trained on is the recipe's learning curve
(`launch.ppm_curve`). A diagnostic only: the method never trains on them.

Two kinds of wrong step (`ERRORS`):
- 'teacher': the teacher's errors (a swapped operation, a wrong operand, a skipped sentence);
  the step contradicts itself ("buys 16 more, so subtract 16") or skips a sentence.
- 'misread': the step quotes its sentence with another number ("keeps only one third" for "one
  half") and computes with it. Consistent in itself, it is wrong only against the question:
  the evolved policy's commonest error (docs/benchmarks.md).
"""

from collections.abc import Callable, Iterable
import itertools
import random
import re

from rstar_jax.data import schemas
from rstar_jax.world import generator
from rstar_jax.world import process_set
from rstar_jax.world import teacher as teacher_lib
from rstar_jax.world.generator import Op
from rstar_jax.world.generator import WorldProblem

ERRORS = ("teacher", "misread")


def _reference_steps(problem: WorldProblem, rng: random.Random) -> tuple[str, ...]:
  reference, _ = teacher_lib.write_code(problem, teacher_lib.PERFECT, rng)
  return process_set.solution_steps(problem, reference)


def _pair(
  problem: WorldProblem, prompt: Callable[[str], str], right: tuple[str, ...], i: int, neg: str
) -> schemas.PPMPair:
  """Step `right[i]` (pos) against `neg`, after the prompt and `right`'s first i steps."""
  head = prompt(problem.problem.question) + "".join(right[:i])
  return schemas.PPMPair(problem.problem.id, head, pos=right[i], neg=neg)


def teacher_pair(
  problem: WorldProblem,
  prompt: Callable[[str], str],
  teacher: teacher_lib.TeacherConfig,
  rng: random.Random,
) -> schemas.PPMPair | None:
  """The reference solution's step i (pos) against step i of a teacher draft whose first wrong
  step is i (neg), after the steps both share; None when the draft differs earlier without a
  wrong value (a wrong operand that floor division hides), so the prefixes are not one."""
  right = _reference_steps(problem, rng)
  wrong = process_set.solution_steps(problem, process_set.draft_with_error(problem, teacher, rng))
  i = process_set.first_wrong_step(problem, wrong)
  if i < 0 or wrong[:i] != right[:i]:
    return None
  return _pair(problem, prompt, right, i, wrong[i])


def misread(sentence: str, op: Op, wrong: Op) -> str | None:
  """`sentence` (of `op`) as if it said `wrong`'s operand; None when the operand is not in it."""
  said = f"one {generator.PARTS[op.operand]}" if op.kind == "div" else None
  if said is not None and said in sentence:
    return sentence.replace(said, f"one {generator.PARTS[wrong.operand]}")
  text, found = re.subn(rf"\b{op.operand}\b", str(wrong.operand), sentence, count=1)
  return text if found else None


def misread_pair(
  problem: WorldProblem, prompt: Callable[[str], str], rng: random.Random
) -> schemas.PPMPair | None:
  """The reference step of a random operation against the same step misreading the operation's
  number (quoted and computed with another of its kind); None when the misreading changes no
  value (floor division) or the sentence does not spell the number."""
  right = _reference_steps(problem, rng)
  j = rng.randrange(problem.difficulty)
  op, wrong = problem.ops[j], teacher_lib.wrong_operand(problem.ops[j], rng)
  sentence, var = problem.sentences[j + 1].rstrip("."), problem.var
  quoted = misread(sentence, op, wrong)
  if quoted is None:
    return None
  neg = right[j + 1].replace(
    f"{sentence}, {op.reason()}\n{op.code(var)}", f"{quoted}, {wrong.reason()}\n{wrong.code(var)}"
  )
  if process_set.first_wrong_step(problem, (*right[: j + 1], neg)) != j + 1:
    return None
  return _pair(problem, prompt, right, j + 1, neg)


def step_pairs(
  problems: Iterable[WorldProblem],
  count: int,
  *,
  prompt: Callable[[str], str],
  seed: int,
  errors: str = "teacher",
  teacher: teacher_lib.TeacherConfig = teacher_lib.TeacherConfig(),
) -> list[schemas.PPMPair]:
  """The first `count` pairs of `problems` with wrong steps of kind `errors`, at most one a
  problem; deterministic in the arguments."""
  if errors not in ERRORS:
    raise ValueError(f"errors must be one of {'|'.join(ERRORS)}, got {errors!r}")
  rng = random.Random(f"rstar-world-oracle-pairs/{errors}/{seed}")
  found = (
    teacher_pair(p, prompt, teacher, rng) if errors == "teacher" else misread_pair(p, prompt, rng)
    for p in problems
  )
  pairs = list(itertools.islice(filter(None, found), count))
  if len(pairs) < count:
    raise ValueError(f"the problems gave {len(pairs)} step pairs; {count} were asked for")
  return pairs
