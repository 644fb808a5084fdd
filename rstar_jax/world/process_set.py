"""A ProcessBench-style held-out set: teacher solutions with the first wrong step labelled.

The world knows every intermediate value of a problem, so whether a step is right needs no
annotator: a code step is right iff the quantity after it equals the true value after the
operation whose sentence it quotes, the print step and the answer step iff what they print and
box is the gold answer. The label is the first wrong step by value (ProcessBench's convention,
-1 when every step is right), not where an error was injected: an injected error that leaves
every value right is no error, and a missing step makes the next written step the wrong one.

Steps are the node texts of a searched tree (`<code>` opens the first step, the output block
closes the print step), so a reward model scores exactly the prefixes it scores in search.
"""

from collections.abc import Iterable, Iterator, Sequence
import dataclasses
import difflib
import json
import os
import random
import re
from typing import Any

from rstar_jax import grading
from rstar_jax.data import problems as problems_lib
from rstar_jax.data import schemas
from rstar_jax.format import prompts
from rstar_jax.runtime import files
from rstar_jax.world import teacher as teacher_lib
from rstar_jax.world.generator import KINDS
from rstar_jax.world.generator import Op
from rstar_jax.world.generator import WorldProblem

# What `output_block` puts before the printed text: how a print step's output block starts.
_OUTPUT_HEAD = prompts.output_block("").removesuffix(prompts.END_OF_OUTPUT)
_STEP_COMMENT = re.compile(r"# Step \d+: (.*)")
_MIN_QUOTE_SIMILARITY = 0.7  # difflib ratio of a miscopied quote to its sentence.
_MAX_DRAFTS = 10_000  # Teacher drafts tried before an error placement counts as impossible.


@dataclasses.dataclass(frozen=True)
class ProcessExample:
  """One solution split into search-node steps; `first_error` is the 0-based index of the first
  wrong step, -1 when every step is right."""

  problem_id: str
  question: str
  steps: tuple[str, ...]
  first_error: int
  difficulty: int

  def to_record(self) -> dict[str, Any]:
    return {**dataclasses.asdict(self), "steps": list(self.steps)}

  @classmethod
  def from_record(cls, record: Any, where: str) -> "ProcessExample":
    schemas.check_object(record, where)
    steps = schemas.read_field(record, "steps", list, where)
    if not all(isinstance(s, str) for s in steps):
      raise ValueError(f"{where}: field 'steps' must be a JSON array of strings")
    first_error = schemas.read_field(record, "first_error", int, where)
    if not -1 <= first_error < len(steps):
      raise ValueError(
        f"{where}: field 'first_error' must be -1 or a step index below {len(steps)}, "
        f"got {first_error}"
      )
    return cls(
      problem_id=schemas.read_field(record, "problem_id", str, where),
      question=schemas.read_field(record, "question", str, where),
      steps=tuple(steps),
      first_error=first_error,
      difficulty=schemas.read_field(record, "difficulty", int, where),
    )


def split_prefix(solution_text: str) -> tuple[tuple[str, ...], str]:
  """(the node texts of the solution's terminated steps, the unterminated rest): a sampled
  solution cut off by a token or depth limit ends in an unfinished step."""
  out, rest = [], solution_text
  while rest:
    found = [(rest.find(s), s) for s in prompts.STEP_STOPS if s in rest]
    if not found:
      break
    at, stop = min(found)
    end = at + len(stop)
    if stop == prompts.END_OF_CODE and rest.startswith(_OUTPUT_HEAD, end):
      close = rest.find(prompts.END_OF_OUTPUT, end)
      if close < 0:
        break
      end = close + len(prompts.END_OF_OUTPUT)
    out.append(rest[:end])
    rest = rest[end:]
  return tuple(out), rest


def split_steps(solution_text: str) -> tuple[str, ...]:
  """The node texts of a solution in the world's step format, as the search builds them: each
  step ends at a stop string, and a step ending with `<end_of_code>` carries the output block
  the executor appended (`steps.child_fields`). `"".join` of the result is the text."""
  steps, rest = split_prefix(solution_text)
  if rest:
    what = "output block" if _OUTPUT_HEAD in rest else "step"
    raise ValueError(f"unterminated {what} at the end of the solution: {rest[:80]!r}")
  return steps


def _lines(step: str) -> tuple[str | None, list[str]]:
  """(the sentence the step's comment quotes or None, its Python statements)."""
  code = step.split(prompts.OUTPUT, 1)[0]
  for marker in (prompts.CODE, prompts.END_OF_STEP, prompts.END_OF_CODE):
    code = code.replace(marker, "\n")
  quoted, statements = None, []
  for line in filter(None, (s.strip() for s in code.split("\n"))):
    if line.startswith("#"):
      if match := _STEP_COMMENT.fullmatch(line):
        quoted = match.group(1)
    else:
      statements.append(line)
  return quoted, statements


def _execute(statement: str, var: str, value: int | None) -> int | None:
  """The variable after one of the teacher's lines (an assignment, an Op's line or the print)."""
  if statement == f"print({var})":
    return value
  if match := re.fullmatch(rf"{re.escape(var)} = (\d+)", statement):
    return int(match.group(1))
  for operand in {int(n) for n in re.findall(r"\d+", statement)}:
    for kind in KINDS:
      op = Op(kind, operand)
      if op.code(var) == statement:
        if value is None:
          raise ValueError(f"{statement!r} runs before {var} is set")
        return op.apply(value)
  raise ValueError(f"not a line the world's teacher writes: {statement!r}")


def _sentence_index(problem: WorldProblem, comment: str, start: int) -> int:
  """The first story sentence at or after `start` that the comment quotes (the opener alone,
  an operation's sentence followed by its reason), else the remaining sentence most like the
  comment's quote: a policy's step may miscopy a word ('A cousin gives' for 'A charity gives')
  and still do that sentence's operation."""
  remaining = [s.rstrip(".") for s in problem.sentences[start:]]
  for i, sentence in enumerate(remaining):
    if comment == sentence or comment.startswith(f"{sentence}, "):
      return start + i
  quote = comment.rsplit(", so ", 1)[0]
  similarity = [difflib.SequenceMatcher(None, quote, s).ratio() for s in remaining]
  if similarity and max(similarity) >= _MIN_QUOTE_SIMILARITY:
    return start + similarity.index(max(similarity))
  raise ValueError(
    f"problem {problem.problem.id}: step comment {comment!r} quotes no remaining sentence"
  )


@dataclasses.dataclass(frozen=True)
class StepCheck:
  """One step judged by value: what it makes the quantity (or prints, or boxes) and what that
  should be; a code step's quoted sentence, its story index and the index it was due at (the
  sentence after the previous code step's), None for the print and answer steps."""

  claim: str | None
  truth: str
  quote: str | None = None
  sentence: int | None = None
  due: int | None = None

  @property
  def right(self) -> bool:
    return self.claim == self.truth


def iter_checks(problem: WorldProblem, steps: Iterable[str]) -> Iterator[StepCheck]:
  """Each step's `StepCheck`, lazily: a step the checker cannot read or run raises ValueError
  when it is reached, so the steps before it are judged.

  Values come from applying the teacher's lines in Python (its programs are pure integer
  arithmetic); a code step is held to the true value after the sentence it quotes.
  """
  gold, truth, var = problem.problem.answer, problem.values, problem.var
  value, next_sentence = None, 0
  for step in steps:
    if prompts.ANSWER in step:
      yield StepCheck(grading.extract_answer(step), gold)
      continue
    quoted, statements = _lines(step)
    for statement in statements:
      value = _execute(statement, var, value)
    claim = None if value is None else str(value)
    if f"print({var})" in statements:
      yield StepCheck(claim, gold)
    elif quoted is None:
      raise ValueError(f"problem {problem.problem.id}: step without a '# Step' comment: {step!r}")
    else:
      index = _sentence_index(problem, quoted, next_sentence)
      yield StepCheck(claim, str(truth[index]), quoted, index, next_sentence)
      next_sentence = index + 1


def step_checks(problem: WorldProblem, steps: Sequence[str]) -> tuple[tuple[str | None, str], ...]:
  """Per step, (what it makes the quantity, or prints, or boxes; what that should be)."""
  return tuple((c.claim, c.truth) for c in iter_checks(problem, steps))


def first_wrong_step(problem: WorldProblem, steps: Sequence[str]) -> int:
  """The index of the first step whose value is wrong, -1 when none is."""
  wrong = [i for i, (claim, truth) in enumerate(step_checks(problem, steps)) if claim != truth]
  return wrong[0] if wrong else -1


def solution_steps(problem: WorldProblem, code: str) -> tuple[str, ...]:
  """The search-node steps of the teacher's `code` completed as the executor and the teacher
  complete it: the printed value's output block, then the answer step boxing it."""
  printed = step_checks(problem, split_steps(code))[-1][0]
  return split_steps(code + prompts.output_block(printed) + teacher_lib.answer_step(printed))


def draft_with_error(
  problem: WorldProblem, config: teacher_lib.TeacherConfig, rng: random.Random
) -> str:
  """The teacher's code with operation `at` (uniform) as its first error and later operations
  erring at the teacher's rates: teacher drafts are redrawn until the first error sits at `at`,
  which is the teacher's distribution conditioned on that."""
  at = rng.randrange(problem.difficulty)
  for _ in range(_MAX_DRAFTS):
    code, errors = teacher_lib.write_code(problem, config, rng)
    if not any(errors[:at]) and errors[at]:
      return code
  raise ValueError(
    f"{config} did not make operation {at} the first error of problem {problem.problem.id} "
    f"in {_MAX_DRAFTS} drafts; give the teacher positive error rates below 1"
  )


def build_process_set(
  problems: Sequence[WorldProblem],
  *,
  seed: int,
  error_fraction: float = 0.5,
  teacher: teacher_lib.TeacherConfig | None = None,
) -> list[ProcessExample]:
  """One labelled solution per problem, deterministic in (problems, seed): a reference solution,
  or, for `round(error_fraction * len(problems))` problems drawn at random, a teacher solution
  with at least one injected error. The label is by value, so an injected error that changes no
  value (possible for a wrong operand under floor division) leaves the example correct."""
  if not 0.0 <= error_fraction <= 1.0:
    raise ValueError(f"error_fraction must be in [0, 1], got {error_fraction}")
  config = teacher if teacher is not None else teacher_lib.TeacherConfig()
  rng = random.Random(f"rstar-world-process/{seed}")
  flawed = set(rng.sample(range(len(problems)), round(error_fraction * len(problems))))
  examples = []
  for i, problem in enumerate(problems):
    if i in flawed:
      code = draft_with_error(problem, config, rng)
    else:
      code, _ = teacher_lib.write_code(problem, teacher_lib.PERFECT, rng)
    steps = solution_steps(problem, code)
    examples.append(
      ProcessExample(
        problem_id=problem.problem.id,
        question=problem.problem.question,
        steps=steps,
        first_error=first_wrong_step(problem, steps),
        difficulty=problem.difficulty,
      )
    )
  return examples


def write_process_set(path: str | os.PathLike, examples: Sequence[ProcessExample]) -> None:
  """JSONL, one example a line, written atomically."""
  files.write_lines(path, (json.dumps(e.to_record(), ensure_ascii=False) for e in examples))


def read_process_set(path: str | os.PathLike) -> list[ProcessExample]:
  """Every example of a JSONL process set; a bad line fails naming its file and line number
  (an evaluation set is used whole or not at all)."""
  return [
    ProcessExample.from_record(problems_lib.parse_row(where, raw), where)
    for _, where, raw in problems_lib.raw_rows(path)
    if raw.strip()
  ]
