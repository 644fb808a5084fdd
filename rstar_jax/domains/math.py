"""Math: code-augmented CoT with `\\boxed` answers, graded by equivalence (DESIGN §1.1)."""

from collections.abc import Sequence

from rstar_jax import grading
from rstar_jax.data.problems import Problem
from rstar_jax.domains import base
from rstar_jax.format import answer as answer_rule
from rstar_jax.format.program import assemble_program


class MathDomain(base.Domain):
  """A step with `\\boxed{}` is the answer step; every other step is verified by running the
  program of the whole partial solution; a terminal is right when its boxed answer is
  equivalent to the gold one; votes group equivalent answers."""

  name = "math"

  def is_answer_step(self, text: str) -> bool:
    return answer_rule.is_answer_step(text)

  def classify(self, gold: str | None, solution: str, candidate: base.CandidateLike) -> base.Draft:
    del gold  # Math steps are verified by running them alone.
    draft = base.Draft(text=candidate.text, stop_reason=candidate.stop_reason)
    if self.is_answer_step(candidate.text):
      draft.answer = grading.extract_answer(candidate.text)
      if draft.answer is None:
        draft.invalid = base.INVALID_NO_ANSWER
    elif (invalid := base.cut_off_or_unfinished(candidate)) is not None:
      draft.invalid = invalid
    else:
      draft.program = assemble_program(solution + candidate.text)
      if draft.program is None:
        draft.invalid = base.INVALID_NO_CODE
    return draft

  def check_problem(self, problem: Problem) -> None:
    if not isinstance(problem.answer, str) or not problem.answer.strip():
      raise ValueError(f"problem {problem.id!r}: the gold answer must be a non-empty string")

  @property
  def graders(self) -> tuple[str, ...]:
    return grading.GRADERS

  def grade(
    self,
    answers: Sequence[str | None],
    golds: Sequence[str],
    pool: base.PoolLike,
    *,
    grader: str = "strict",
  ) -> list[bool]:
    del pool  # Equivalence is decided here, time-bounded.
    judge = grading.grader(grader)
    return [a is not None and judge(a, g) for a, g in zip(answers, golds, strict=True)]

  def group(self, answers: Sequence[str | None], gold: str, pool: base.PoolLike) -> list[list[int]]:
    del gold, pool
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
    return groups
