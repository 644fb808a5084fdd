"""From sampled step candidates to verified child nodes (DESIGN §1.1–1.2, expansion).

Pure text logic, no I/O: dedup and the answer rule, classifying a candidate (answer step, code
step to execute, or invalid), and folding the executor's result into the step.
"""

from collections.abc import Sequence
import dataclasses
from typing import Protocol

from rstar_jax import grading
from rstar_jax.format import answer as answer_rule
from rstar_jax.format import prompts
from rstar_jax.format.program import assemble_program
from rstar_jax.search import tree as tree_lib

# Why a step the engine cut off before its end is invalid: its own token budget, or the context.
_CUT_OFF = {"length": tree_lib.INVALID_TOO_LONG, "context": tree_lib.INVALID_CONTEXT}


class CandidateLike(Protocol):
  text: str
  stop_reason: str


class ExecResultLike(Protocol):
  ok: bool
  stdout: str
  error_type: str | None
  error_message: str | None


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


def dedup(candidates: Sequence[CandidateLike], *, answer_only: bool = True) -> list[CandidateLike]:
  """Drops exact duplicates; of several answer steps only the first is kept.

  With `answer_only` (the official rule), an expansion that produced any answer step keeps only
  that first answer step and drops every other candidate; otherwise the other distinct
  non-answer candidates stay beside it.
  """
  first: dict[str, CandidateLike] = {}
  for c in candidates:
    first.setdefault(c.text, c)
  unique = list(first.values())
  answers = [c for c in unique if answer_rule.is_answer_step(c.text)]
  if answers and answer_only:
    return answers[:1]
  return [c for c in unique if not answer_rule.is_answer_step(c.text) or c is answers[0]]


def classify(solution: str, candidate: CandidateLike) -> Draft:
  """Decides what a candidate step is, given the partial solution before it.

  A step with `\\boxed{}` is terminal (invalid when no answer parses). Otherwise a step that ran
  out of tokens (its budget or the context), or ended without a step marker, is terminal-invalid;
  a step ending in `<end_of_step>`/`<end_of_code>` is verified by executing the whole program so
  far.
  """
  text, stop = candidate.text, candidate.stop_reason
  draft = Draft(text=text, stop_reason=stop)
  if answer_rule.is_answer_step(text):
    draft.answer = grading.extract_answer(text)
    if draft.answer is None:
      draft.invalid = tree_lib.INVALID_NO_ANSWER
  elif stop in _CUT_OFF:
    draft.invalid = _CUT_OFF[stop]
  elif not text.endswith((prompts.END_OF_STEP, prompts.END_OF_CODE)):
    draft.invalid = tree_lib.INVALID_NO_ANSWER
  else:
    draft.program = assemble_program(solution + text)
    if draft.program is None:
      draft.invalid = tree_lib.INVALID_NO_CODE
  return draft


def error_text(result: ExecResultLike) -> str:
  return f"{result.error_type or 'Error'}: {result.error_message or ''}".rstrip(": ")


def child_fields(
  draft: Draft,
  result: ExecResultLike | None,
  parent: tree_lib.Node,
  *,
  max_code_errors: int,
  max_depth: int,
) -> dict:
  """The fields of the child node a draft (and its execution result) becomes."""
  fields = dict(
    text=draft.text,
    stop_reason=draft.stop_reason,
    answer=draft.answer,
    invalid=draft.invalid,
    terminal=draft.terminal,
  )
  if result is not None:
    output = result.stdout if result.ok else error_text(result)
    errors = 0 if result.ok else parent.consecutive_errors + 1
    fields.update(output=output, code_error=not result.ok, consecutive_errors=errors)
    if draft.text.endswith(prompts.END_OF_CODE):
      fields["text"] = draft.text + prompts.output_block(output)
    if errors >= max_code_errors:
      fields.update(terminal=True, invalid=tree_lib.INVALID_CODE_ERRORS)
  if not fields["terminal"] and parent.depth + 1 >= max_depth:
    fields.update(terminal=True, invalid=tree_lib.INVALID_TOO_DEEP)
  return fields
