"""Multi-step arithmetic word problems: the built-in world's problem generator.

A problem is a story about one quantity (someone's marbles, a shop's boxes, ...) that starts at a
value and goes through 2–6 operations (+, −, ×, exact ÷, percentages of round numbers); the
question asks for the final value. Difficulty is the number of operations. Every intermediate
value is a non-negative integer no larger than `GeneratorConfig.max_value`.

Splits are disjoint by construction: a question belongs to the held-out split iff a hash of its
text falls in the held-out bucket, so no seed or size can make a train question reappear in the
held-out set. Generation is deterministic in (split, seed, index).
"""

from collections.abc import Iterator
import dataclasses
import hashlib
import itertools
import random

from rstar_jax.data.problems import Problem

SPLITS = ("train", "heldout")
KINDS = ("add", "sub", "mul", "div", "pct_off", "pct_more")

_NAMES = (
  "Tom",
  "Mia",
  "Ravi",
  "Lena",
  "Omar",
  "Sofia",
  "Kenji",
  "Ana",
  "Ben",
  "Zara",
  "Luis",
  "Nora",
  "Ivan",
  "Priya",
  "Jack",
  "Emma",
  "Yusuf",
  "Chloe",
  "Diego",
  "Hana",
)
# (noun, variable name)
_ITEMS = (
  ("apples", "apples"),
  ("marbles", "marbles"),
  ("stickers", "stickers"),
  ("books", "books"),
  ("coins", "coins"),
  ("pencils", "pencils"),
  ("cookies", "cookies"),
  ("stamps", "stamps"),
  ("shells", "shells"),
  ("cards", "cards"),
  ("eggs", "eggs"),
  ("flowers", "flowers"),
  ("toy cars", "cars"),
  ("beads", "beads"),
  ("candles", "candles"),
  ("oranges", "oranges"),
  ("balloons", "balloons"),
  ("tickets", "tickets"),
  ("bottles of juice", "bottles"),
  ("boxes of tea", "boxes"),
)
_FRIENDS = ("a friend", "a neighbour", "a classmate", "a cousin", "the school", "a charity")
_OPENERS = (
  "{name} has {n} {item}.",
  "{name} starts with {n} {item}.",
  "There are {n} {item} in {name}'s bag.",
  "{name} owns {n} {item}.",
  "At first, {name} has {n} {item}.",
)
_QUESTIONS = (
  "How many {item} does {name} have now?",
  "How many {item} are left at the end?",
  "How many {item} does {name} end up with?",
  "What is the final number of {item}?",
)
_SENTENCES = {
  "add": (
    "Then {name} buys {n} more.",
    "{name} finds {n} more {item}.",
    "{friend} gives {name} {n} {item}.",
    "Later {name} gets another {n} {item}.",
  ),
  "sub": (
    "Then {name} gives {n} {item} to {friend}.",
    "{name} loses {n} of them.",
    "{name} sells {n} {item}.",
    "Next, {n} {item} are used up.",
  ),
  "mul": (
    "Then the number of {item} becomes {k} times as large.",
    "{name} ends up with {k} times as many {item} as before.",
    "After a trade, {name} has {k} times the {item} {name} had.",
  ),
  "div": (
    "{name} splits the {item} equally into {k} groups and keeps one group.",
    "{name} shares them equally among {k} people, keeping one share.",
    "Then {name} keeps only one {k_part} of the {item}.",
  ),
  "pct_off": (
    "{name} gives away {p}% of the {item}.",
    "Then {p}% of the {item} are lost.",
    "{name} sells {p}% of them.",
  ),
  "pct_more": (
    "The number of {item} grows by {p}%.",
    "{name} gets {p}% more {item}.",
    "Then {name} adds {p}% more {item}.",
  ),
}
_REASONS = {
  "add": "so add {o}",
  "sub": "so subtract {o}",
  "mul": "so multiply by {o}",
  "div": "so divide by {o}",
  "pct_off": "so subtract {o}%",
  "pct_more": "so add {o}%",
}
# How a division's sentence names its part ("keeps only one third").
PARTS = {2: "half", 3: "third", 4: "quarter", 5: "fifth"}
_PERCENTS = (10, 20, 25, 50, 75)
_MAX_MISSES = 10_000  # Consecutive rejected stories before the space counts as exhausted.


@dataclasses.dataclass(frozen=True)
class Op:
  """One operation of a story: `kind` in KINDS and its operand (amount, factor or percent)."""

  kind: str
  operand: int

  def apply(self, value: int) -> int:
    """The exact integer result (the generator only builds exact operations)."""
    if self.kind == "add":
      return value + self.operand
    if self.kind == "sub":
      return value - self.operand
    if self.kind == "mul":
      return value * self.operand
    if self.kind == "div":
      return value // self.operand
    if self.kind == "pct_off":
      return value - value * self.operand // 100
    if self.kind == "pct_more":
      return value + value * self.operand // 100
    raise ValueError(f"unknown operation kind {self.kind!r}")

  def code(self, var: str) -> str:
    """The Python line of this operation on variable `var`."""
    o = self.operand
    lines = {
      "add": f"{var} = {var} + {o}",
      "sub": f"{var} = {var} - {o}",
      "mul": f"{var} = {var} * {o}",
      "div": f"{var} = {var} // {o}",
      "pct_off": f"{var} = {var} - {var} * {o} // 100",
      "pct_more": f"{var} = {var} + {var} * {o} // 100",
    }
    if self.kind not in lines:
      raise ValueError(f"unknown operation kind {self.kind!r}")
    return lines[self.kind]

  def reason(self) -> str:
    """What to do, as a solution step's comment says it (`so subtract 50%`)."""
    return _REASONS[self.kind].format(o=self.operand)


@dataclasses.dataclass(frozen=True)
class WorldProblem:
  """A generated problem with the structure its reference and teacher solutions are built from."""

  problem: Problem
  name: str
  item: str
  var: str
  start: int
  ops: tuple[Op, ...]
  # The story's sentences: the opener, then one per operation (the question not included).
  # Solution steps quote them, so each step reads its own sentence of the problem.
  sentences: tuple[str, ...]

  @property
  def difficulty(self) -> int:
    return len(self.ops)

  @property
  def values(self) -> tuple[int, ...]:
    """The quantity after each operation (values[0] is the start)."""
    out = [self.start]
    for op in self.ops:
      out.append(op.apply(out[-1]))
    return tuple(out)


@dataclasses.dataclass(frozen=True)
class GeneratorConfig:
  """Sizes of the generated stories."""

  min_ops: int = 2
  max_ops: int = 6
  max_start: int = 60
  max_amount: int = 40
  max_value: int = 2000
  heldout_buckets: int = 5  # One hash bucket in this many is held out.

  def __post_init__(self):
    if not 1 <= self.min_ops <= self.max_ops:
      raise ValueError(f"need 1 <= min_ops <= max_ops, got {self.min_ops}, {self.max_ops}")
    if self.max_start < 2 or self.max_amount < 1 or self.max_value < self.max_start:
      raise ValueError(f"bad sizes in {self}")
    if self.heldout_buckets < 2:
      raise ValueError(f"heldout_buckets must be >= 2, got {self.heldout_buckets}")


def question_split(question: str, cfg: GeneratorConfig = GeneratorConfig()) -> str:
  """'heldout' or 'train': the split a question belongs to, from a hash of its text."""
  digest = hashlib.sha256(" ".join(question.split()).lower().encode("utf-8")).digest()
  return "heldout" if int.from_bytes(digest[:8], "big") % cfg.heldout_buckets == 0 else "train"


def _feasible_ops(value: int, rng: random.Random, cfg: GeneratorConfig) -> list[Op]:
  """One candidate operation of each kind that keeps the value a bounded non-negative integer."""
  ops = []
  if value + 1 <= cfg.max_value:
    ops.append(Op("add", rng.randint(1, min(cfg.max_amount, cfg.max_value - value))))
  if value >= 2:
    ops.append(Op("sub", rng.randint(1, min(cfg.max_amount, value - 1))))
  factors = [k for k in (2, 3, 4, 5) if value * k <= cfg.max_value]
  if factors and value >= 1:
    ops.append(Op("mul", rng.choice(factors)))
  divisors = [k for k in (2, 3, 4, 5) if value % k == 0 and value // k >= 1]
  if divisors:
    ops.append(Op("div", rng.choice(divisors)))
  percents = [p for p in _PERCENTS if value * p % 100 == 0 and value > 0]
  if percents:
    ops.append(Op("pct_off", rng.choice(percents)))
    grow = [p for p in percents if value + value * p // 100 <= cfg.max_value]
    if grow:
      ops.append(Op("pct_more", rng.choice(grow)))
  return ops


def _sentence(op: Op, rng: random.Random, name: str, item: str) -> str:
  template = rng.choice(_SENTENCES[op.kind])
  text = template.format(
    name=name,
    item=item,
    n=op.operand,
    k=op.operand,
    p=op.operand,
    k_part=PARTS.get(op.operand, ""),
    friend=rng.choice(_FRIENDS),
  )
  return text[0].upper() + text[1:]


def _story(rng: random.Random, num_ops: int, cfg: GeneratorConfig) -> WorldProblem:
  name = rng.choice(_NAMES)
  item, var = rng.choice(_ITEMS)
  start = rng.randint(2, cfg.max_start)
  value, ops = start, []
  for _ in range(num_ops):
    candidates = _feasible_ops(value, rng, cfg)
    # Prefer kinds not used yet, so stories mix operations.
    fresh = [op for op in candidates if op.kind not in {o.kind for o in ops}]
    op = rng.choice(fresh or candidates)
    ops.append(op)
    value = op.apply(value)
  sentences = [rng.choice(_OPENERS).format(name=name, n=start, item=item)]
  sentences += [_sentence(op, rng, name, item) for op in ops]
  question = " ".join(sentences + [rng.choice(_QUESTIONS).format(name=name, item=item)])
  return WorldProblem(
    Problem(id="", question=question, answer=str(value)),
    name=name,
    item=item,
    var=var,
    start=start,
    ops=tuple(ops),
    sentences=tuple(sentences),
  )


def iter_problems(
  split: str, seed: int, cfg: GeneratorConfig = GeneratorConfig()
) -> Iterator[WorldProblem]:
  """Endless deterministic stream of distinct problems of `split`, difficulties cycling
  min_ops..max_ops; ids are `world-{split}-{seed}-{index}`."""
  if split not in SPLITS:
    raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
  rng = random.Random(f"rstar-world/{seed}")  # One stream for both splits: same seed, same world.
  seen: set[str] = set()
  index = misses = 0
  spans = cfg.max_ops - cfg.min_ops + 1
  while True:
    story = _story(rng, cfg.min_ops + index % spans, cfg)
    q = story.problem.question
    if q in seen or question_split(q, cfg) != split:
      misses += 1
      if misses > _MAX_MISSES:
        raise ValueError(
          f"{cfg} yields no new {split} problem after {index}; the configured "
          "story space is too small for the requested count"
        )
      continue
    misses = 0
    seen.add(q)
    problem = Problem(
      id=f"world-{split}-{seed}-{index}",
      question=q,
      answer=story.problem.answer,
      level=str(story.difficulty),
    )
    yield dataclasses.replace(story, problem=problem)
    index += 1


def generate(
  split: str, count: int, seed: int = 0, cfg: GeneratorConfig = GeneratorConfig(), *, skip: int = 0
) -> list[WorldProblem]:
  """Problems `skip .. skip+count-1` of the split's stream."""
  return take(iter_problems(split, seed, cfg), count, skip)


def problems_by_id(split: str, count: int, seed: int = 0) -> dict[str, WorldProblem]:
  """`generate(split, count, seed)` by problem id: the world's values behind a split's file."""
  return {p.problem.id: p for p in generate(split, count, seed)}


def take(stream: Iterator, count: int, skip: int = 0) -> list:
  """Items `skip .. skip+count-1` of a world's problem stream."""
  if count < 0 or skip < 0:
    raise ValueError(f"count and skip must be non-negative, got {count}, {skip}")
  return list(itertools.islice(stream, skip, skip + count))
