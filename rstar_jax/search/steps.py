"""From sampled step candidates to child nodes (DESIGN §1.1–1.2, expansion).

Pure text logic, no I/O: dedup and the answer rule, and folding the executor's result into the
step. What a candidate is (answer, step to execute, invalid) is the domain's `classify`.
"""

from collections.abc import Sequence

from rstar_jax.domains import base
from rstar_jax.format import prompts
from rstar_jax.search import tree as tree_lib


def dedup(
  candidates: Sequence[base.CandidateLike], domain: base.Domain, *, answer_only: bool = True
) -> list[base.CandidateLike]:
  """Drops exact duplicates; of several answer steps only the first is kept.

  With `answer_only` (the official rule), an expansion that produced any answer step keeps only
  that first answer step and drops every other candidate; otherwise the other distinct
  non-answer candidates stay beside it.
  """
  first: dict[str, base.CandidateLike] = {}
  for c in candidates:
    first.setdefault(c.text, c)
  unique = list(first.values())
  answers = [c for c in unique if domain.is_answer_step(c.text)]
  if answers and answer_only:
    return answers[:1]
  return [c for c in unique if not domain.is_answer_step(c.text) or c is answers[0]]


def child_fields(
  draft: base.Draft,
  result: base.ExecResultLike | None,
  parent: tree_lib.Node,
  domain: base.Domain,
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
    output = domain.observe(result)
    errors = 0 if result.ok else parent.consecutive_errors + 1
    fields.update(output=output, code_error=not result.ok, consecutive_errors=errors)
    if draft.text.endswith(prompts.END_OF_CODE):
      fields["text"] = draft.text + prompts.output_block(output)
    if errors >= max_code_errors:
      fields.update(terminal=True, invalid=base.INVALID_CODE_ERRORS)
  if not fields["terminal"] and parent.depth + 1 >= max_depth:
    fields.update(terminal=True, invalid=base.INVALID_TOO_DEEP)
  return fields
