"""Small list functions verified by unit tests: the code world's task generator.

A task asks for a function `name(xs: list[int])` defined by a pipeline of stages over the list
(keep the numbers greater than k, multiply each by k, sort, keep the first k, ...), optionally
ended by a reducer (sum, count, largest, ...). It is posed HumanEval style, as a signature and a
docstring with two examples, and graded by hidden unit tests. Difficulty is the number of stages;
every stage matters (leaving any one out changes some test's result) and the order of stages
matters. Expected values come from the reference implementation here, never from the sandbox.

Splits are disjoint by function: a task is held out iff a hash of its function's results on a
fixed set of probe lists falls in the held-out bucket, so neither the same pipeline nor an
equivalent one (×2 then ×3, ×3 then ×2) can be in both splits, whatever the seed or size.
Generation is deterministic in (split, seed, index).
"""

from collections.abc import Callable, Iterator, Sequence
import dataclasses
import hashlib
import json
import random
import textwrap

from rstar_jax.data.problems import Problem
from rstar_jax.domains import code as code_domain
from rstar_jax.world import generator

SPLITS = ("train", "heldout")
_MAX_MISSES = 10_000  # Consecutive rejected tasks before the space counts as exhausted.

_Fn = Callable[[list[int], int], list[int] | int]


@dataclasses.dataclass(frozen=True)
class _Kind:
  """A stage kind: its phrase in the docstring (fields `k`, `n`: `k` numbers, `them` in
  reducers), the expression the teacher writes (fields `s`: the list, `v`: an element, `k`) and
  its reference implementation."""

  phrase: str
  code: str
  fn: _Fn
  reducer: bool = False
  has_operand: bool = True


def _transform(phrase: str, code: str, fn: _Fn, has_operand: bool = True) -> _Kind:
  return _Kind(phrase, code, fn, reducer=False, has_operand=has_operand)


def _reducer(phrase: str, code: str, fn: _Fn) -> _Kind:
  return _Kind(phrase, code, fn, reducer=True, has_operand=False)


_KINDS: dict[str, _Kind] = {
  "gt": _transform(
    "keep the numbers greater than {k}",
    "[{v} for {v} in {s} if {v} > {k}]",
    lambda xs, k: [x for x in xs if x > k],
  ),
  "ge": _transform(
    "keep the numbers that are at least {k}",
    "[{v} for {v} in {s} if {v} >= {k}]",
    lambda xs, k: [x for x in xs if x >= k],
  ),
  "lt": _transform(
    "keep the numbers less than {k}",
    "[{v} for {v} in {s} if {v} < {k}]",
    lambda xs, k: [x for x in xs if x < k],
  ),
  "le": _transform(
    "keep the numbers that are at most {k}",
    "[{v} for {v} in {s} if {v} <= {k}]",
    lambda xs, k: [x for x in xs if x <= k],
  ),
  "mult": _transform(
    "keep the multiples of {k}",
    "[{v} for {v} in {s} if {v} % {k} == 0]",
    lambda xs, k: [x for x in xs if x % k == 0],
  ),
  "nonmult": _transform(
    "drop the multiples of {k}",
    "[{v} for {v} in {s} if {v} % {k} != 0]",
    lambda xs, k: [x for x in xs if x % k != 0],
  ),
  "mul": _transform(
    "multiply each number by {k}", "[{v} * {k} for {v} in {s}]", lambda xs, k: [x * k for x in xs]
  ),
  "add": _transform(
    "add {k} to each number", "[{v} + {k} for {v} in {s}]", lambda xs, k: [x + k for x in xs]
  ),
  "sub": _transform(
    "subtract {k} from each number", "[{v} - {k} for {v} in {s}]", lambda xs, k: [x - k for x in xs]
  ),
  "take": _transform("keep the first {n}", "{s}[:{k}]", lambda xs, k: xs[:k]),
  "drop": _transform("drop the first {n}", "{s}[{k}:]", lambda xs, k: xs[k:]),
  "reverse": _transform("reverse the order", "{s}[::-1]", lambda xs, k: xs[::-1], False),
  "sort": _transform(
    "sort the numbers in increasing order", "sorted({s})", lambda xs, k: sorted(xs), False
  ),
  "sort_desc": _transform(
    "sort the numbers in decreasing order",
    "sorted({s}, reverse=True)",
    lambda xs, k: sorted(xs, reverse=True),
    False,
  ),
  "dedup": _transform(
    "keep only the first occurrence of each number",
    "list(dict.fromkeys({s}))",
    lambda xs, k: list(dict.fromkeys(xs)),
    False,
  ),
  "dedup_sorted": _transform(
    "keep the distinct numbers in increasing order",
    "sorted(set({s}))",
    lambda xs, k: sorted(set(xs)),
    False,
  ),
  "cumsum": _transform(
    "replace each number by the running sum up to it",
    "[sum({s}[:i + 1]) for i in range(len({s}))]",
    lambda xs, k: [sum(xs[: i + 1]) for i in range(len(xs))],
    False,
  ),
  "cumsum_before": _transform(
    "replace each number by the sum of the numbers before it",
    "[sum({s}[:i]) for i in range(len({s}))]",
    lambda xs, k: [sum(xs[:i]) for i in range(len(xs))],
    False,
  ),
  "sum": _reducer("return the sum of {them}", "sum({s})", lambda xs, k: sum(xs)),
  "len": _reducer("return the count of {them}", "len({s})", lambda xs, k: len(xs)),
  "max": _reducer(
    "return the largest of {them} (0 if there are none)",
    "max({s}, default=0)",
    lambda xs, k: max(xs, default=0),
  ),
  "min": _reducer(
    "return the smallest of {them} (0 if there are none)",
    "min({s}, default=0)",
    lambda xs, k: min(xs, default=0),
  ),
  "first": _reducer(
    "return the first of {them} (0 if there are none)",
    "{s}[0] if {s} else 0",
    lambda xs, k: xs[0] if xs else 0,
  ),
  "last": _reducer(
    "return the last of {them} (0 if there are none)",
    "{s}[-1] if {s} else 0",
    lambda xs, k: xs[-1] if xs else 0,
  ),
}
KINDS = tuple(_KINDS)
TRANSFORMS = tuple(k for k in KINDS if not _KINDS[k].reducer)
REDUCERS = tuple(k for k in KINDS if _KINDS[k].reducer)
THRESHOLDS = ("gt", "ge", "lt", "le")
RETURN_LIST = "return the resulting list"  # The phrase of a pipeline without a reducer.

# Names carry no hint of the function, so the policy must read the signature to call it right.
_NAMES = (
  "solve",
  "compute",
  "process",
  "transform",
  "crunch",
  "tally",
  "digest",
  "evaluate",
  "refine",
  "churn",
  "reshape",
  "calc",
  "run_pipeline",
  "apply_rules",
  "work_out",
  "outcome",
)


@dataclasses.dataclass(frozen=True)
class Stage:
  """One stage of a pipeline: `kind` in KINDS and its constant (None for kinds without one)."""

  kind: str
  operand: int | None = None

  def __post_init__(self):
    if self.kind not in _KINDS:
      raise ValueError(f"unknown stage kind {self.kind!r}")
    if (self.operand is not None) != _KINDS[self.kind].has_operand:
      raise ValueError(f"stage {self.kind!r} got operand {self.operand!r}")

  @property
  def reducer(self) -> bool:
    return _KINDS[self.kind].reducer

  @property
  def has_operand(self) -> bool:
    return _KINDS[self.kind].has_operand

  def apply(self, xs: list[int]) -> list[int] | int:
    """The reference result (plain Python, independent of the sandbox)."""
    return _KINDS[self.kind].fn(list(xs), self.operand or 0)

  def phrase(self, first: bool = False) -> str:
    """What the stage does, as the docstring and the teacher's step comment say it; `first`:
    a reducer that reads the input itself (no stage before it)."""
    them = "the numbers" if first else "them"
    n = "number" if self.operand == 1 else f"{self.operand} numbers"
    return _KINDS[self.kind].phrase.format(k=self.operand, n=n, them=them)

  def expression(self, source: str) -> str:
    """The Python expression of this stage applied to the list named `source`."""
    element = "x" if source == "xs" else "y"
    return _KINDS[self.kind].code.format(s=source, v=element, k=self.operand)

  def key(self) -> str:
    return self.kind if self.operand is None else f"{self.kind}:{self.operand}"


def run_pipeline(stages: Sequence[Stage], xs: Sequence[int]) -> list[int] | int:
  """The reference function of a pipeline: stages in order (a reducer, if any, is last)."""
  value: list[int] | int = list(xs)
  for stage in stages:
    assert isinstance(value, list), "a reducer must be the last stage"
    value = stage.apply(value)
  return value


@dataclasses.dataclass(frozen=True)
class CodeWorldTask:
  """A generated task with the pipeline its reference and teacher solutions are built from."""

  problem: Problem
  task: code_domain.CodeTask
  stages: tuple[Stage, ...]
  # The input lists of the visible tests, then of the hidden ones (in `check` order).
  inputs: tuple[tuple[int, ...], ...]

  @property
  def difficulty(self) -> int:
    return len(self.stages)

  @property
  def entry_point(self) -> str:
    return self.task.entry_point

  @property
  def returns_list(self) -> bool:
    return not self.stages[-1].reducer

  @property
  def structure(self) -> str:
    """The canonical form of the pipeline (`gt:3|mul:2|sum`)."""
    return "|".join(s.key() for s in self.stages)

  def reference(self, xs: Sequence[int]) -> list[int] | int:
    return run_pipeline(self.stages, xs)


@dataclasses.dataclass(frozen=True)
class CodeGeneratorConfig:
  """Sizes of the generated tasks."""

  min_stages: int = 1
  max_stages: int = 5
  min_element: int = -6  # Inputs' elements lie in [min_element, max_element].
  max_element: int = 15
  max_length: int = 8  # Longest input list.
  hidden_tests: int = 8
  reducer_rate: float = 0.6  # Share of tasks that end in a reducer (the rest return a list).
  max_abs: int = 10_000  # Largest absolute value of any expected result.
  heldout_buckets: int = 5  # One hash bucket in this many is held out.

  def __post_init__(self):
    if not 1 <= self.min_stages <= self.max_stages:
      raise ValueError(
        f"need 1 <= min_stages <= max_stages, got {self.min_stages}, {self.max_stages}"
      )
    if self.max_element - self.min_element < 8 or self.min_element >= 0 or self.max_length < 6:
      raise ValueError(f"elements must span negatives and >= 9 values, lists >= 6 long: {self}")
    if self.hidden_tests < 4 or not 0 <= self.reducer_rate <= 1 or self.max_abs < 100:
      raise ValueError(f"bad sizes in {self}")
    if self.heldout_buckets < 2:
      raise ValueError(f"heldout_buckets must be >= 2, got {self.heldout_buckets}")


def _probes() -> list[list[int]]:
  """Fixed inputs that tell functions apart; the split of a function is a hash of its results."""
  rng = random.Random("rstar-code-world/probes")
  out = [[], [0], [-3], [7], [2, 2, 2], [5, -5, 5, 0]]
  for _ in range(40):
    out.append([rng.randint(-12, 25) for _ in range(rng.randint(1, 10))])
  return out


_PROBES = _probes()


def function_split(
  stages: Sequence[Stage], cfg: CodeGeneratorConfig = CodeGeneratorConfig()
) -> str:
  """'heldout' or 'train': the split of the function a pipeline computes, from a hash of its
  results on fixed probes (equivalent pipelines share a split)."""
  results = json.dumps([run_pipeline(stages, xs) for xs in _PROBES], separators=(",", ":"))
  digest = hashlib.sha256(results.encode("utf-8")).digest()
  return "heldout" if int.from_bytes(digest[:8], "big") % cfg.heldout_buckets == 0 else "train"


def _operand(kind: str, rng: random.Random, cfg: CodeGeneratorConfig) -> int | None:
  if kind in THRESHOLDS:
    return rng.randint(cfg.min_element // 2, cfg.max_element * 2 // 3)
  if kind in ("mult", "nonmult", "mul"):
    return rng.randint(2, 5)
  if kind in ("add", "sub"):
    return rng.randint(1, 9)
  if kind in ("take", "drop"):
    return rng.randint(1, 4)
  return None


def _pipeline(rng: random.Random, num_stages: int, cfg: CodeGeneratorConfig) -> tuple[Stage, ...]:
  reduced = rng.random() < cfg.reducer_rate
  stages = []
  for _ in range(num_stages - reduced):
    # Prefer kinds not used yet, so pipelines mix operations.
    fresh = [k for k in TRANSFORMS if k not in {s.kind for s in stages}]
    kind = rng.choice(fresh or TRANSFORMS)
    stages.append(Stage(kind, _operand(kind, rng, cfg)))
  if reduced:
    stages.append(Stage(rng.choice(REDUCERS)))
  return tuple(stages)


def _random_list(
  rng: random.Random, length: int, cfg: CodeGeneratorConfig, edges: Sequence[int]
) -> tuple[int, ...]:
  """Elements uniform in range, with the pipeline's thresholds mixed in: a test that never
  meets `x == k` cannot tell `>` from `>=`."""
  return tuple(
    rng.choice(edges)
    if edges and rng.random() < 0.2
    else rng.randint(cfg.min_element, cfg.max_element)
    for _ in range(length)
  )


def _inputs(
  rng: random.Random, stages: Sequence[Stage], cfg: CodeGeneratorConfig
) -> list[tuple[int, ...]]:
  """Two visible example lists, then the hidden ones: edge cases (empty, one element,
  duplicates, negatives) and random lists."""
  thresholds = [s.operand for s in stages if s.kind in THRESHOLDS and s.operand is not None]
  edges = sorted({k + d for k in thresholds for d in (-1, 0, 1)})
  visible = [_random_list(rng, rng.randint(4, 6), cfg, edges) for _ in range(2)]
  distinct = rng.sample(range(cfg.min_element, cfg.max_element + 1), 4)
  duplicates = [*distinct, *rng.choices(distinct, k=3)]
  rng.shuffle(duplicates)
  negatives = [
    *(rng.randint(cfg.min_element, -1) for _ in range(3)),
    *_random_list(rng, 3, cfg, edges),
  ]
  rng.shuffle(negatives)
  hidden = [
    (),
    (rng.randint(cfg.min_element, cfg.max_element),),
    tuple(duplicates),
    tuple(negatives),
  ]
  while len(hidden) < cfg.hidden_tests:
    hidden.append(_random_list(rng, rng.randint(1, cfg.max_length), cfg, edges))
  return visible + hidden


def _bounded(value: list[int] | int, cfg: CodeGeneratorConfig) -> bool:
  values = value if isinstance(value, list) else [value]
  return all(abs(v) <= cfg.max_abs for v in values)


def _acceptable(
  stages: tuple[Stage, ...], inputs: list[tuple[int, ...]], cfg: CodeGeneratorConfig
) -> bool:
  """Whether the tests pin the function down: distinct inputs, bounded and varied results
  (examples neither equal nor empty), and every stage needed (leaving one out changes some
  result)."""
  results = [run_pipeline(stages, xs) for xs in inputs]
  if len(set(inputs)) < len(inputs) or not all(_bounded(r, cfg) for r in results):
    return False
  keys = [json.dumps(r) for r in results]
  if [] in results[:2] or keys[0] == keys[1] or len(set(keys)) <= len(keys) // 2:
    return False
  for i in range(len(stages)):
    without = stages[:i] + stages[i + 1 :]
    if all(run_pipeline(without, xs) == r for xs, r in zip(inputs, results)):
      return False
  return True


def _sentence(stages: Sequence[Stage]) -> str:
  phrases = [s.phrase(first=i == 0) for i, s in enumerate(stages)]
  if not stages[-1].reducer:
    phrases.append(RETURN_LIST)
  text = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + ", then " + phrases[-1]
  return text[0].upper() + text[1:] + "."


def _call(name: str, xs: Sequence[int]) -> str:
  return f"{name}({list(xs)!r})"


def _prompt(name: str, stages: Sequence[Stage], examples: Sequence[code_domain.TestCase]) -> str:
  returns = "int" if stages[-1].reducer else "list[int]"
  doc = textwrap.fill(
    _sentence(stages), width=88, initial_indent='    """', subsequent_indent="    "
  )
  lines = [f"def {name}(xs: list[int]) -> {returns}:", doc, ""]
  for case in examples:
    lines += [f"    >>> {case.call}", f"    {case.expected}"]
  lines.append('    """')
  return "\n".join(lines)


def _check(cases: Sequence[code_domain.TestCase], name: str) -> str:
  """The hidden tests, HumanEval style: `check(candidate)` asserts each case."""
  lines = ["def check(candidate):"]
  for case in cases:
    call = "candidate" + case.call[len(name) :]
    lines.append(f"    assert {call} == {case.expected}")
  return "\n".join(lines) + "\n"


def _task(rng: random.Random, num_stages: int, cfg: CodeGeneratorConfig) -> CodeWorldTask | None:
  """One candidate task, or None when its tests would not pin the function down."""
  stages = _pipeline(rng, num_stages, cfg)
  inputs = _inputs(rng, stages, cfg)
  if not _acceptable(stages, inputs, cfg):
    return None
  name = rng.choice(_NAMES)
  cases = [code_domain.TestCase(_call(name, xs), repr(run_pipeline(stages, xs))) for xs in inputs]
  # The examples are checked again with the hidden cases, as HumanEval's `check` does.
  task = code_domain.CodeTask(
    entry_point=name,
    prompt=_prompt(name, stages, cases[:2]),
    visible=tuple(cases[:2]),
    hidden=_check(cases, name),
  )
  return CodeWorldTask(task.to_problem(""), task, stages, tuple(inputs))


def iter_problems(
  split: str, seed: int, cfg: CodeGeneratorConfig = CodeGeneratorConfig()
) -> Iterator[CodeWorldTask]:
  """Endless deterministic stream of distinct tasks of `split`, difficulties cycling
  min_stages..max_stages; ids are `code-{split}-{seed}-{index:05d}`."""
  if split not in SPLITS:
    raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
  rng = random.Random(f"rstar-code-world/{seed}")  # One stream for both splits.
  seen: set[str] = set()
  index = misses = 0
  spans = cfg.max_stages - cfg.min_stages + 1
  while True:
    task = _task(rng, cfg.min_stages + index % spans, cfg)
    if task is None or task.task.prompt in seen or function_split(task.stages, cfg) != split:
      misses += 1
      if misses > _MAX_MISSES:
        raise ValueError(
          f"{cfg} yields no new {split} task after {index}; the configured "
          "task space is too small for the requested count"
        )
      continue
    misses = 0
    seen.add(task.task.prompt)
    problem = task.task.to_problem(f"code-{split}-{seed}-{index:05d}")
    yield dataclasses.replace(
      task, problem=dataclasses.replace(problem, level=str(task.difficulty))
    )
    index += 1


def generate(
  split: str,
  count: int,
  seed: int = 0,
  cfg: CodeGeneratorConfig = CodeGeneratorConfig(),
  *,
  skip: int = 0,
) -> list[CodeWorldTask]:
  """Tasks `skip .. skip+count-1` of the split's stream (difficulties balanced: they cycle)."""
  return generator.take(iter_problems(split, seed, cfg), count, skip)
