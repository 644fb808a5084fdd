"""What a domain plugs into the loop (search, extraction, training, evaluation, rounds).

rStar-Math's recipe needs only two things of a domain: a way to verify a step (run its code in the
sandbox) and a way to verify a final answer. Everything above this package (MCTS, extraction,
the trainers, evaluation, the round driver) reaches the domain only through `Domain`, so a new
domain is one module (docs/domains.md). Every domain shares the step format of `format.prompts`
(markers, `<output>` blocks): it decides what a step's program is, what a terminal's answer is,
how an answer is graded and how answers are grouped for voting.

A domain's problems are `data.Problem(id, question, answer)`: `question` is what the policy is
shown, `answer` is what the verifier checks against (math: the gold answer; code: the tests,
serialised by the domain).
"""

import abc
from collections.abc import Sequence
import dataclasses
from typing import Protocol

from rstar_jax.data.problems import Problem
from rstar_jax.format import prompts

# Why a terminal node is invalid (it then carries reward -1 and no answer).
INVALID_NO_ANSWER = "no_answer"
INVALID_CODE_ERRORS = "code_errors"
INVALID_TOO_DEEP = "too_deep"
INVALID_TOO_LONG = "step_too_long"
INVALID_CONTEXT = "context_limit"  # the partial solution filled the policy's context
INVALID_NO_CODE = "no_code"
INVALID_DEAD_END = "dead_end"

# Why a step the engine cut off before its end is invalid: its own token budget, or the context.
CUT_OFF = {"length": INVALID_TOO_LONG, "context": INVALID_CONTEXT}


class CandidateLike(Protocol):
  text: str
  stop_reason: str


class ExecResultLike(Protocol):
  ok: bool
  stdout: str
  error_type: str | None
  error_message: str | None


class PoolLike(Protocol):
  def run_many(self, programs: Sequence[str]) -> list[ExecResultLike]: ...


@dataclasses.dataclass
class Draft:
  """A candidate step before its code has run. `program` is set iff it must be executed."""

  text: str
  stop_reason: str
  answer: str | None = None
  invalid: str | None = None
  program: str | None = None

  @property
  def terminal(self) -> bool:
    return self.program is None


def error_text(result: ExecResultLike) -> str:
  return f"{result.error_type or 'Error'}: {result.error_message or ''}".rstrip(": ")


def cut_off_or_unfinished(candidate: CandidateLike) -> str | None:
  """Why a non-answer step is invalid before anything runs: cut off by its token budget or the
  context, or ended without a step marker; None when it ended with one."""
  if candidate.stop_reason in CUT_OFF:
    return CUT_OFF[candidate.stop_reason]
  if not candidate.text.endswith((prompts.END_OF_STEP, prompts.END_OF_CODE)):
    return INVALID_NO_ANSWER
  return None


class Domain(abc.ABC):
  """One problem domain. Stateless: the search may call it from any thread.

  name: the registry key (`domains.get(name)`), stored in configs and dataset manifests.
  """

  name: str

  def prompt(self, question: str) -> str:
    """What the policy and the PPM see before the partial solution (the step texts follow it)."""
    return prompts.policy_prompt(question)

  @abc.abstractmethod
  def is_answer_step(self, text: str) -> bool:
    """Whether a step ends the solution (it is then terminal, and never executed as a step)."""

  @abc.abstractmethod
  def classify(self, gold: str | None, solution: str, candidate: CandidateLike) -> Draft:
    """What a sampled step is, given the problem's `gold` and the partial solution before it:
    an answer step (terminal, `answer` set, or `invalid` when it has none), an invalid step, or
    a step whose `program` the sandbox runs to verify it."""

  def observe(self, result: ExecResultLike) -> str:
    """What a verified step's execution appends to the trajectory (inside `<output>`)."""
    return result.stdout if result.ok else error_text(result)

  @abc.abstractmethod
  def grade(
    self,
    answers: Sequence[str | None],
    golds: Sequence[str],
    pool: PoolLike,
    *,
    grader: str = "strict",
  ) -> list[bool]:
    """Whether each answer is right (None is wrong); one batched call per search level.

    `grader` names a judgement the domain offers (`graders`), 'strict' for the search reward.
    """

  @property
  def graders(self) -> tuple[str, ...]:
    return ("strict",)

  @abc.abstractmethod
  def group(self, answers: Sequence[str | None], gold: str, pool: PoolLike) -> list[list[int]]:
    """Indices of the non-None `answers` of one problem, grouped into answers that count as the
    same vote, groups in order of first appearance, each group's indices ascending."""

  @abc.abstractmethod
  def check_problem(self, problem: Problem) -> None:
    """Raises ValueError naming the problem when its `answer` is not one this domain can check."""
