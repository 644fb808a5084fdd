"""Multi-step arithmetic word problems: the built-in world's problem generator.

A problem is a start quantity followed by 2-6 operations (+, -, x, exact /) told as a short story
about one subject and one kind of item; its difficulty is the number of operations. Every
intermediate value stays a non-negative integer no larger than `MAX_VALUE`. Splits are disjoint by
construction: a question belongs to the split its text hashes to, so the same question can never
be in two splits, whatever the seeds or sizes.
"""
from __future__ import annotations

import dataclasses
import hashlib
import random
from typing import Literal

MIN_OPS = 2
MAX_OPS = 6
MAX_VALUE = 999
Op = Literal["+", "-", "*", "/"]
Split = Literal["train", "heldout", "teacher"]
# Hash buckets (of 10) per split: held-out problems, evolution train problems and the problems
# whose teacher solutions pre-train the bootstrap policy never share a question.
_BUCKETS: dict[str, range] = {"heldout": range(0, 2), "train": range(2, 5), "teacher": range(5, 10)}


@dataclasses.dataclass(frozen=True)
class Subject:
  name: str
  pronoun: str  # subject pronoun: "she", "he", "it", "they"
  possessive: str  # "her", "his", "its", "their"
  verb_s: bool  # whether present-tense verbs take an -s ("she has" vs "they have")


@dataclasses.dataclass(frozen=True)
class Operation:
  op: Op
  operand: int
  sentence: str  # how the story tells it
  comment: str  # the reasoning comment of its solution step


@dataclasses.dataclass(frozen=True)
class WorldProblem:
  """One generated problem with the structure its solutions are written from."""
  id: str
  question: str
  item: str  # plural noun, also the solution's variable name
  start: int
  start_comment: str
  operations: tuple[Operation, ...]

  @property
  def difficulty(self) -> int:
    return len(self.operations)

  @property
  def answer(self) -> int:
    return apply_all(self.start, [(o.op, o.operand) for o in self.operations])


def apply(value: int, op: Op, operand: int) -> int:
  """One operation on integers; '/' is floor division as in the solutions' Python code."""
  if op == "+":
    return value + operand
  if op == "-":
    return value - operand
  if op == "*":
    return value * operand
  if op == "/":
    return value // operand
  raise ValueError(f"unknown operation {op!r}")


def apply_all(value: int, ops: list[tuple[Op, int]]) -> int:
  for op, operand in ops:
    value = apply(value, op, operand)
  return value


_PEOPLE = [("Mia", "she", "her"), ("Liam", "he", "his"), ("Ava", "she", "her"),
           ("Noah", "he", "his"), ("Zoe", "she", "her"), ("Omar", "he", "his"),
           ("Priya", "she", "her"), ("Kenji", "he", "his"), ("Lena", "she", "her"),
           ("Diego", "he", "his"), ("Sara", "she", "her"), ("Tom", "he", "his")]
_PLACES = ["the bakery", "the library", "the school", "the farm", "the toy shop", "the museum"]
_GROUPS = ["the twins", "the scouts", "the neighbours", "the students"]
_ITEMS = ["apples", "marbles", "stickers", "coins", "books", "cookies", "pencils", "stamps",
          "cards", "shells", "eggs", "balloons"]
_CONTAINERS = ["bags", "boxes", "jars", "baskets", "piles"]

# Sentence templates per operation: {S} subject, {p} pronoun, {pos} possessive, {n} operand,
# {m} operand - 1, {item}, {box} a container, {v} verb ending ("s" or "").
_PHRASES: dict[str, list[str]] = {
    "+": ["Then {p} buy{v} {n} more {item}.", "{S} get{v} {n} more {item} as a gift.",
          "After that, {p} find{v} {n} {item}.", "Next, {n} more {item} are added to {pos} collection.",
          "{S} then collect{v} another {n} {item}."],
    "-": ["Then {p} give{v} away {n} {item}.", "{S} lose{v} {n} {item}.",
          "After that, {n} {item} are used up.", "Next, {p} sell{v} {n} of the {item}.",
          "{S} then throw{v} away {n} broken {item}."],
    "*": ["Then the number of {item} grows to {n} times as many.",
          "{S} then multipl{y} {pos} {item} by {n}.",
          "After that, {p} end{v} up with {n} times as many {item}.",
          "Next, every one of {pos} {item} is matched by {m} more, so there are {n} times as many."],
    "/": ["Then {p} split{v} the {item} equally into {n} {box} and keep{v} one of them.",
          "{S} then share{v} the {item} equally with {m} friends and keep{v} one share.",
          "After that, only one {nth} of the {item} is kept.",
          "Next, {p} pack{v} the {item} into {n} equal {box} and keep{v} just one."],
}
_COMMENTS = {"+": "add the {n} {item} gained", "-": "subtract the {n} {item} lost",
             "*": "{n} times as many {item}", "/": "keep one of {n} equal parts of the {item}"}
_STARTS = ["{S} ha{vs} {n} {item}.", "{S} start{v} with {n} {item}.",
           "At first, {S} own{v} {n} {item}.", "In the beginning {S} ha{vs} {n} {item}."]
_QUESTIONS = ["How many {item} {does} {S} have now?", "How many {item} are left at the end?",
              "What is the final number of {item}?", "How many {item} {does} {S} have in the end?"]
_NTH = {2: "half", 3: "third", 4: "quarter", 5: "fifth", 6: "sixth"}


def _subject(rng: random.Random) -> Subject:
  kind = rng.random()
  if kind < 0.7:
    name, pronoun, possessive = rng.choice(_PEOPLE)
    return Subject(name, pronoun, possessive, True)
  if kind < 0.85:
    return Subject(rng.choice(_PLACES), "it", "its", True)
  return Subject(rng.choice(_GROUPS), "they", "their", False)


def _feasible(value: int, rng: random.Random) -> list[tuple[Op, int]]:
  """One candidate operand per operation that keeps the value integral and in range."""
  options: list[tuple[Op, int]] = [("+", rng.randint(2, 40))]
  if value >= 3:
    options.append(("-", rng.randint(2, min(value - 1, 40))))
  factors = [f for f in range(2, 6) if 1 <= value and value * f <= MAX_VALUE]
  if factors:
    options.append(("*", rng.choice(factors)))
  divisors = [d for d in range(2, 7) if value % d == 0 and value >= d]
  if divisors:
    options.append(("/", rng.choice(divisors)))
  return [o for o in options if 0 <= apply(value, *o) <= MAX_VALUE]


def _fill(template: str, s: Subject, item: str, n: int, rng: random.Random) -> str:
  text = template.format(
      S=s.name, p=s.pronoun, pos=s.possessive, n=n, m=n - 1, item=item, v="s" if s.verb_s else "",
      vs="s" if s.verb_s else "ve", y="ies" if s.verb_s else "y", does="does" if s.verb_s else "do",
      box=rng.choice(_CONTAINERS), nth=_NTH.get(n, f"{n}th"))
  return text[0].upper() + text[1:]


def make_problem(rng: random.Random, num_ops: int, problem_id: str = "") -> WorldProblem:
  """A random problem with exactly `num_ops` operations."""
  if not MIN_OPS <= num_ops <= MAX_OPS:
    raise ValueError(f"num_ops must be in [{MIN_OPS}, {MAX_OPS}], got {num_ops}")
  s, item = _subject(rng), rng.choice(_ITEMS)
  value = start = rng.randint(6, 60)
  sentences = [_fill(rng.choice(_STARTS), s, item, value, rng)]
  operations = []
  for _ in range(num_ops):
    op, n = rng.choice(_feasible(value, rng))
    sentence = _fill(rng.choice(_PHRASES[op]), s, item, n, rng)
    operations.append(Operation(op, n, sentence, _COMMENTS[op].format(n=n, item=item)))
    sentences.append(sentence)
    value = apply(value, op, n)
  sentences.append(_fill(rng.choice(_QUESTIONS), s, item, value, rng))
  return WorldProblem(problem_id, " ".join(sentences), item, start, f"{item} at the start",
                      tuple(operations))


def split_of(question: str) -> Split:
  """The split a question belongs to, from a hash of its text (disjoint by construction)."""
  bucket = int(hashlib.sha256(question.encode("utf-8")).hexdigest(), 16) % 10
  return next(name for name, r in _BUCKETS.items() if bucket in r)  # type: ignore[return-value]


def generate(split: Split, count: int, *, seed: int) -> list[WorldProblem]:
  """`count` distinct problems of one split, difficulties cycling through 2..6 (deterministic)."""
  if split not in _BUCKETS:
    raise ValueError(f"split must be one of {list(_BUCKETS)}, got {split!r}")
  if count < 0:
    raise ValueError(f"count must be >= 0, got {count}")
  rng = random.Random(f"rstar-world:{seed}:{split}")
  out, seen = [], set()
  while len(out) < count:
    num_ops = MIN_OPS + len(out) % (MAX_OPS - MIN_OPS + 1)
    problem = make_problem(rng, num_ops, f"world-{split}-{seed}-{len(out):05d}")
    if problem.question not in seen and split_of(problem.question) == split:
      seen.add(problem.question)
      out.append(problem)
  return out
