"""Why a wrong solution is wrong: the kind of its first wrong step, judged by the world's values.

A round of self-evolution can only fix the errors its search sees and its PPM can rank, so the
report reads each round's wrong greedy solutions by what went wrong first (`KINDS`):
- 'misread': a code step quotes its sentence with another number ("one third" for "one half")
  and computes with it: right in itself, wrong only against the question;
- 'miscomputed': a code step quotes its sentence's numbers but computes something else (the
  teacher's errors: a swapped operation, a wrong operand);
- 'skipped': a code step quotes a later sentence than the one due, leaving an operation out;
- 'final': every code step is right but the print or the answer step is not;
- 'unreadable': a step the checker cannot place (a line the teacher never writes, a quote of no
  sentence, no '# Step' comment) comes before any wrong one;
- 'unfinished': every step is right but the solution stops before its answer (a depth or token
  limit cut it off).
"""

import collections
from collections.abc import Iterable, Mapping
import re
from typing import Any

from rstar_jax.evaluation import harness
from rstar_jax.format import prompts
from rstar_jax.world import generator
from rstar_jax.world import process_set
from rstar_jax.world.generator import WorldProblem

KINDS = ("misread", "miscomputed", "skipped", "final", "unreadable", "unfinished")
# A number as a story sentence states it: digits, or a division's part ("one third").
_NUMBER = re.compile(r"\d+|\bone (?:" + "|".join(generator.PARTS.values()) + r")\b")


def _numbers(text: str) -> collections.Counter:
  return collections.Counter(_NUMBER.findall(text))


def _code_step_kind(problem: WorldProblem, check: process_set.StepCheck) -> str:
  if check.sentence > check.due:
    return "skipped"
  quote = check.quote.rsplit(", so ", 1)[0]
  sentence = problem.sentences[check.sentence].rstrip(".")
  return "misread" if _numbers(quote) != _numbers(sentence) else "miscomputed"


def first_error_kind(problem: WorldProblem, solution: str) -> str | None:
  """The `KINDS` entry of `solution`'s first error (the text after the prompt, as the search
  writes it), or None when every step is right and it boxes the gold answer."""
  steps, rest = process_set.split_prefix(solution)
  try:
    for check in process_set.iter_checks(problem, steps):
      if not check.right:
        return "final" if check.sentence is None else _code_step_kind(problem, check)
  except ValueError:
    return "unreadable"
  answered = any(prompts.ANSWER in step for step in steps)
  return None if answered and not rest else "unfinished"


def greedy_error_kinds(
  rows: Iterable[Mapping[str, Any]], problems: Mapping[str, WorldProblem]
) -> dict[str, Any]:
  """Counts of `KINDS` over the wrong greedy solutions among evaluation `rows`
  (`harness.problem_row`s whose greedy answer kept its text), overall and per level; None
  counts as 'right by value' (the grader and the values disagree)."""
  total: collections.Counter = collections.Counter()
  by_level: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
  for row in rows:
    greedy = row["answers"].get(harness.GREEDY)
    if greedy is None or greedy["correct"]:
      continue
    if "text" not in greedy:
      raise ValueError(f"problem {row['id']}: its greedy answer kept no solution text")
    problem = problems.get(row["id"])
    if problem is None:
      raise ValueError(f"problem {row['id']!r}: not a problem of the world's held-out split")
    kind = first_error_kind(problem, greedy["text"]) or "right by value"
    total[kind] += 1
    by_level[str(problem.difficulty)][kind] += 1
  return {
    "wrong": sum(total.values()),
    "kinds": _in_order(total),
    "by_level": {
      level: _in_order(c) for level, c in sorted(by_level.items(), key=lambda lc: int(lc[0]))
    },
  }


def _in_order(counts: collections.Counter) -> dict[str, int]:
  """Every kind in `KINDS` order, zeros included, then 'right by value' where it occurs."""
  return {kind: counts[kind] for kind in (*KINDS, *sorted(set(counts) - set(KINDS)))}
