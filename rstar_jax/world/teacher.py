"""Solutions in the step format of DESIGN §1.1, written by a deliberately imperfect teacher.

The teacher writes one code step for the start value and one per operation; at configurable
per-operation rates it uses a wrong operation, a wrong operand, or skips the step. The program is
executed by the sandbox and the boxed answer is what it printed, so a flawed solution carries a
real wrong answer (the analogue of the paper's imperfect bootstrap model). With all rates 0
(`PERFECT`) it writes the reference solutions.
"""

from collections.abc import Sequence
import dataclasses
import random
from typing import Any

from rstar_jax.format import prompts
from rstar_jax.format.program import assemble_program
from rstar_jax.world.generator import Op
from rstar_jax.world.generator import WorldProblem

MISSING_STEP = "missing_step"
WRONG_OPERATION = "wrong_operation"
WRONG_OPERAND = "wrong_operand"
_SWAPPED = {
  "add": "sub",
  "sub": "add",
  "mul": "div",
  "div": "mul",
  "pct_off": "pct_more",
  "pct_more": "pct_off",
}


@dataclasses.dataclass(frozen=True)
class TeacherConfig:
  """Per-operation error rates; each operation gets at most one error."""

  wrong_operation: float = 0.06
  wrong_operand: float = 0.06
  missing_step: float = 0.04

  def __post_init__(self):
    rates = (self.wrong_operation, self.wrong_operand, self.missing_step)
    if min(rates) < 0 or sum(rates) > 1:
      raise ValueError(f"teacher error rates must be >= 0 and sum to <= 1, got {self}")


PERFECT = TeacherConfig(0.0, 0.0, 0.0)


@dataclasses.dataclass(frozen=True)
class Solution:
  """One executed solution; `text` is what follows the policy prompt."""

  problem_id: str
  text: str
  answer: str | None  # What the program printed; None when it failed to run.
  correct: bool
  errors: tuple[str, ...]  # Per operation: '' or the error kind.


def draw_error(config: TeacherConfig, rng: random.Random, *, has_operand: bool = True) -> str:
  """The error the teacher makes on one operation ('' for none), one draw of `rng`: an operation
  without an operand cannot get a wrong one, so that draw leaves it right."""
  draw = rng.random()
  if draw < config.missing_step:
    return MISSING_STEP
  if draw < config.missing_step + config.wrong_operation:
    return WRONG_OPERATION
  if draw < config.missing_step + config.wrong_operation + config.wrong_operand and has_operand:
    return WRONG_OPERAND
  return ""


def _step(index: int, comment: str, code: str) -> str:
  return f"\n# Step {index}: {comment}\n{code}\n{prompts.END_OF_STEP}"


def wrong_operand(op: Op, rng: random.Random) -> Op:
  """`op` with another operand of its kind, as the teacher miswrites it."""
  if op.kind in ("mul", "div"):
    choices = [k for k in (2, 3, 4, 5) if k != op.operand]
  elif op.kind.startswith("pct"):
    choices = [p for p in (10, 20, 25, 50, 75) if p != op.operand]
  else:
    choices = [v for v in range(op.operand - 3, op.operand + 4) if v >= 1 and v != op.operand]
  return Op(op.kind, rng.choice(choices))


def write_code(
  problem: WorldProblem, config: TeacherConfig, rng: random.Random
) -> tuple[str, tuple[str, ...]]:
  """The code part of a solution (`<code>` … `<end_of_code>`) and the error of each operation."""
  var = problem.var
  opener, *told = (s.rstrip(".") for s in problem.sentences)
  steps = [_step(1, opener, f"{var} = {problem.start}")]
  errors = []
  for op, sentence in zip(problem.ops, told):
    error = draw_error(config, rng)
    errors.append(error)
    if error == MISSING_STEP:
      continue
    if error == WRONG_OPERATION:
      op = Op(_SWAPPED[op.kind], op.operand)
    elif error == WRONG_OPERAND:
      op = wrong_operand(op, rng)
    steps.append(_step(len(steps) + 1, f"{sentence}, {op.reason()}", op.code(var)))
  final = f"\n# Now print the final answer\nprint({var})\n{prompts.END_OF_CODE}"
  return prompts.CODE + "".join(steps) + final, tuple(errors)


def answer_step(answer: str) -> str:
  return f"\n{prompts.ANSWER}The answer is \\boxed{{{answer}}}.{prompts.END_OF_ANSWER}"


def solve(
  problems: Sequence[WorldProblem], pool: Any, config: TeacherConfig = PERFECT, *, seed: int = 0
) -> list[Solution]:
  """Writes and executes one solution per problem (`pool`: a `sandbox.SandboxPool`).

  Deterministic in (problems, config, seed). With `PERFECT` these are the reference solutions.
  """
  rng = random.Random(f"rstar-world-teacher/{seed}")
  written = [write_code(p, config, rng) for p in problems]
  results = pool.run_many([assemble_program(code) for code, _ in written])
  solutions = []
  for problem, (code, errors), result in zip(problems, written, results):
    if not result.ok:
      raise RuntimeError(
        f"problem {problem.problem.id}: the teacher's program failed to run "
        f"({result.error_type}: {result.error_message})\n{code}"
      )
    printed = result.stdout.strip()
    text = code + prompts.output_block(printed) + answer_step(printed)
    solutions.append(
      Solution(problem.problem.id, text, printed, printed == problem.problem.answer, errors)
    )
  return solutions
