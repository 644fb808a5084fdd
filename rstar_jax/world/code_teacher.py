"""Solutions of code-world tasks in the step format, written by a deliberately imperfect teacher.

The parallel of `world.teacher` for the code world: one step per pipeline stage (the first also
writes the `def` line), a last step that returns, then the visible tests' report and the
submission. At the rates of a `teacher.TeacherConfig` a stage gets a plausible wrong operation
(`>` for `>=`, evens for odds, max for min), a wrong constant, or is left out; each step's comment
says what its code does, so a flawed step reads like a misread task. The report is what the code
domain's visible-test runner prints, and correctness is the domain's grade on the hidden tests,
so a flawed solution carries its real outcome. With `PERFECT` it writes the reference solutions.
"""

from collections.abc import Sequence
import dataclasses
import random
from typing import Any

from rstar_jax import domains
from rstar_jax.format import prompts
from rstar_jax.world import teacher
from rstar_jax.world.code_generator import RETURN_LIST
from rstar_jax.world.code_generator import THRESHOLDS
from rstar_jax.world.code_generator import CodeWorldTask
from rstar_jax.world.code_generator import Stage
from rstar_jax.world.teacher import MISSING_STEP
from rstar_jax.world.teacher import PERFECT
from rstar_jax.world.teacher import WRONG_OPERAND
from rstar_jax.world.teacher import WRONG_OPERATION
from rstar_jax.world.teacher import Solution
from rstar_jax.world.teacher import TeacherConfig

__all__ = [
  "MISSING_STEP",
  "PERFECT",
  "WRONG_OPERAND",
  "WRONG_OPERATION",
  "Solution",
  "TeacherConfig",
  "answer_step",
  "solve",
  "write_code",
]

_SWAPPED = {
  "gt": "ge",
  "ge": "gt",
  "lt": "le",
  "le": "lt",
  "mult": "nonmult",
  "nonmult": "mult",
  "mul": "add",
  "add": "sub",
  "sub": "add",
  "take": "drop",
  "drop": "take",
  "reverse": "sort_desc",
  "sort": "sort_desc",
  "sort_desc": "sort",
  "dedup": "dedup_sorted",
  "dedup_sorted": "dedup",
  "cumsum": "cumsum_before",
  "cumsum_before": "cumsum",
  "sum": "len",
  "len": "sum",
  "max": "min",
  "min": "max",
  "first": "last",
  "last": "first",
}
_INDENT = "    "


@dataclasses.dataclass(frozen=True)
class _Written:
  """The last code step as the domain sees a sampled one (`base.CandidateLike`)."""

  text: str
  stop_reason: str = "stop"


def _step(index: int, comment: str, code: str, end: str = prompts.END_OF_STEP) -> str:
  return f"\n# Step {index}: {comment}\n{code}\n{end}"


def _wrong_operand(stage: Stage, rng: random.Random) -> Stage:
  k = stage.operand
  assert k is not None
  if stage.kind in THRESHOLDS:
    choices = [k + d for d in (-2, -1, 1, 2)]
  elif stage.kind in ("mult", "nonmult", "mul"):
    choices = [c for c in (2, 3, 4, 5) if c != k]
  else:  # add, sub, take, drop: small positive constants.
    choices = [c for c in range(k - 3, k + 4) if c >= 1 and c != k]
  return Stage(stage.kind, rng.choice(choices))


def write_code(
  task: CodeWorldTask, config: TeacherConfig, rng: random.Random
) -> tuple[str, tuple[str, ...]]:
  """The code part of a solution (`<code>` … `<end_of_code>`) and the error of each stage.

  A stage without a constant cannot get a wrong one: that draw leaves it right, so the observed
  wrong-operand rate is the configured one among stages with a constant.
  """
  steps: list[tuple[str, str]] = []  # (comment, code) per written step
  errors = []
  source = "xs"
  returned = False
  for i, stage in enumerate(task.stages):
    error = teacher.draw_error(config, rng, has_operand=stage.has_operand)
    errors.append(error)
    if error == MISSING_STEP:
      continue
    if error == WRONG_OPERATION:
      # Every swap keeps whether the stage has a constant (`>` for `>=`, `max` for `min`).
      stage = Stage(_SWAPPED[stage.kind], stage.operand)
    elif error == WRONG_OPERAND:
      stage = _wrong_operand(stage, rng)
    if stage.reducer:
      steps.append((stage.phrase(first=i == 0), f"{_INDENT}return {stage.expression(source)}"))
      returned = True
    else:
      steps.append((stage.phrase(), f"{_INDENT}ys = {stage.expression(source)}"))
      source = "ys"
  if not returned:  # No reducer, or the teacher left it out.
    steps.append((RETURN_LIST, f"{_INDENT}return {source}"))
  comment, code = steps[0]
  steps[0] = (comment, f"def {task.entry_point}(xs):\n{code}")
  texts = [
    _step(n, comment, code, prompts.END_OF_CODE if n == len(steps) else prompts.END_OF_STEP)
    for n, (comment, code) in enumerate(steps, start=1)
  ]
  return prompts.CODE + "".join(texts), tuple(errors)


def answer_step(entry_point: str) -> str:
  return f"\n{prompts.ANSWER}Submit {entry_point}.{prompts.END_OF_ANSWER}"


def _last_step_at(code: str) -> int:
  """Where the last step of a written code part starts: after the previous step's marker, or
  at the start (the `<code>` marker belongs to the first step)."""
  at = code.rfind(prompts.END_OF_STEP)
  return 0 if at < 0 else at + len(prompts.END_OF_STEP)


def solve(
  tasks: Sequence[CodeWorldTask], pool: Any, config: TeacherConfig = PERFECT, *, seed: int = 0
) -> list[Solution]:
  """Writes one solution per task and runs it as the search would (`pool`: a
  `sandbox.SandboxPool`): the visible tests for the `<output>` block, then the hidden tests.

  Deterministic in (tasks, config, seed). With `PERFECT` these are the reference solutions.
  """
  domain = domains.CODE
  rng = random.Random(f"rstar-code-world-teacher/{seed}")
  written = [write_code(t, config, rng) for t in tasks]
  drafts = []
  for task, (code, _) in zip(tasks, written):
    at = _last_step_at(code)
    draft = domain.classify(task.problem.answer, code[:at], _Written(code[at:]))
    if draft.program is None:
      raise RuntimeError(
        f"task {task.problem.id}: the code domain does not run the teacher's last step "
        f"({draft.invalid})\n{code}"
      )
    drafts.append(draft)
  results = pool.run_many([d.program for d in drafts])
  texts, answers = [], []
  for task, (code, _), result in zip(tasks, written, results):
    solution = code + prompts.output_block(domain.observe(result))
    submit = answer_step(task.entry_point)
    # The submission is what the search would grade for this answer step.
    answers.append(domain.classify(task.problem.answer, solution, _Written(submit)).answer)
    texts.append(solution + submit)
  correct = domain.grade(answers, [t.problem.answer for t in tasks], pool)
  return [
    Solution(task.problem.id, text, answer, right, errors)
    for task, text, answer, right, (_, errors) in zip(tasks, texts, answers, correct, written)
  ]
