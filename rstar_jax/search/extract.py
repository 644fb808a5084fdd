"""Search trees → SFT examples and PPM preference pairs (DESIGN §1.3, docs/faithfulness.md).

The defaults are the rules of the official rStar-Math code; `ExtractConfig` names each one.

- Outcomes: only valid final answers count (a terminal leaf that is not invalid), correct or
  wrong. Invalid terminals (too many code errors, too deep, no answer, …) are neither, so they
  never make a negative and never make a problem medium (`extra_rm_file.search_all_traces`).
- Difficulty: easy (answers, all correct), medium (correct and wrong ones), hard (none correct).
- SFT: per problem, the top 2 correct trajectories by (mean Q, min Q); of those, the ones whose
  text contains "error" are dropped (`train/sample_sft_data.py`).
- PPM pairs (`extra_rm_file.search_all_traces`, mode "all", then `train/sample_rm_data.py`):
  breadth-first from the root over nodes with both a correct and a wrong descendant; at each,
  up to 2 children with a correct descendant (highest Q first) against up to 2 with a wrong one
  (lowest Q first), widened to 4 on one side when the other has a single candidate; a pair is
  kept when Q(pos) - Q(neg) >= 0.5, the greedy best path under pos has a higher mean Q than the
  greedy worst path under neg, and the two step texts are >= 20 character edits apart.
"""

import argparse
import collections
from collections.abc import Iterable, Iterator, Sequence
import contextlib
import dataclasses
import json
import logging
import os
import pathlib
from typing import Any, Literal

from rstar_jax import domains
from rstar_jax.data import records
from rstar_jax.data import schemas
from rstar_jax.data import shard_index
from rstar_jax.search import tree as tree_lib

EASY, MEDIUM, HARD = "easy", "medium", "hard"
# A chosen SFT trajectory whose text contains this (any case) is dropped: the official rule, which
# catches the error messages that failed code prints into its `<output>` block.
ERROR_WORD = "error"

SFTRule = Literal["official", "clean_first"]


@dataclasses.dataclass(frozen=True)
class ExtractConfig:
  """Which trajectories and step pairs become training data; the defaults are the official code's.

  `sft_rule`: 'official' takes the top `sft_per_problem` correct trajectories, then drops those
  containing "error"; 'clean_first' first drops trajectories with a code-error step, so a problem
  still gives `sft_per_problem` examples when it has them.
  `answer_pairs` adds the paper's final-answer pairs (the 2 best correct full trajectories
  against the 2 worst wrong ones by mean Q), which the official code does not build.
  `domain` renders the prompt every example and pair starts with (`domains.get(domain).prompt`).
  """

  sft_per_problem: int = 2
  sft_rule: SFTRule = "official"
  pairs_per_side: int = 2
  widened_side: int = 4  # One side's limit when the other side has a single candidate.
  min_step_margin: float = 0.5  # Q(pos) - Q(neg); pairs need a positive margin in any case.
  min_edit_distance: int = 20  # Character edits between the two step texts.
  path_filter: bool = True  # Best path under pos must beat the worst path under neg in mean Q.
  answer_pairs: bool = False
  domain: str = "math"

  def __post_init__(self):
    domains.get(self.domain)
    if self.sft_rule not in ("official", "clean_first"):
      raise ValueError(f"sft_rule must be official|clean_first, got {self.sft_rule!r}")
    if min(self.sft_per_problem, self.pairs_per_side, self.widened_side) < 1:
      raise ValueError(
        "sft_per_problem, pairs_per_side and widened_side must be >= 1, got "
        f"{self.sft_per_problem}, {self.pairs_per_side}, {self.widened_side}"
      )
    if self.min_edit_distance < 0:
      raise ValueError(f"min_edit_distance must be >= 0, got {self.min_edit_distance}")


def is_answer(node: tree_lib.Node) -> bool:
  """A valid final answer: a terminal leaf that is not invalid (`is_valid_final_answer_node`)."""
  return node.terminal and not node.children and node.parent is not None and node.invalid is None


def is_correct(node: tree_lib.Node) -> bool:
  return is_answer(node) and node.correct is True


def is_wrong(node: tree_lib.Node) -> bool:
  return is_answer(node) and node.correct is False


def difficulty(tree: tree_lib.Tree) -> str:
  if not any(is_correct(n) for n in tree.nodes):
    return HARD
  return MEDIUM if any(is_wrong(n) for n in tree.nodes) else EASY


def edit_distance(a: str, b: str, cap: int) -> int:
  """Levenshtein distance between the characters of `a` and `b`, or `cap` if it is >= `cap`.

  Cells more than `cap - 1` off the diagonal cost at least `cap`, so only a band of the table is
  computed (O(cap · len) rather than O(len²) for long steps), and dissimilar texts stop early.
  """
  if abs(len(a) - len(b)) >= cap:
    return cap
  prev = [min(j, cap) for j in range(len(b) + 1)]
  cur = [cap] * (len(b) + 1)
  for i in range(1, len(a) + 1):
    lo, hi = max(1, i - cap + 1), min(len(b), i + cap - 1)
    cur[lo - 1] = min(i, cap) if lo == 1 else cap
    for j in range(lo, hi + 1):
      substitute = prev[j - 1] + (a[i - 1] != b[j - 1])
      cur[j] = min(prev[j] + 1, cur[j - 1] + 1, substitute, cap)
    if min(cur[lo - 1 : hi + 1]) == cap:  # Every later cell derives from this row: all >= cap.
      return cap
    prev, cur = cur, prev
  return prev[-1]


@dataclasses.dataclass(frozen=True)
class Trajectory:
  """A root-to-terminal path; Q statistics are over its steps."""

  leaf: tree_lib.Node
  steps: tuple[tree_lib.Node, ...]

  @property
  def mean_q(self) -> float:
    return sum(n.q for n in self.steps) / len(self.steps)

  @property
  def min_q(self) -> float:
    return min(n.q for n in self.steps)

  @property
  def has_code_error(self) -> bool:
    return any(n.code_error for n in self.steps)

  @property
  def text(self) -> str:
    return "".join(n.text for n in self.steps)


def _depth_first(tree: tree_lib.Tree) -> Iterator[tree_lib.Node]:
  stack = [tree.root]
  while stack:
    node = stack.pop()
    yield node
    stack.extend(reversed(tree.children(node)))


def trajectories(tree: tree_lib.Tree) -> list[Trajectory]:
  """Every terminal's path, in depth-first order (the official order, which breaks Q ties)."""
  leaves = {n.index for n in tree.terminals()}
  return [Trajectory(n, tuple(tree.path(n))) for n in _depth_first(tree) if n.index in leaves]


def _best_first(trajs: Iterable[Trajectory]) -> list[Trajectory]:
  return sorted(trajs, key=lambda t: (t.mean_q, t.min_q), reverse=True)


def sft_trajectories(tree: tree_lib.Tree, cfg: ExtractConfig = ExtractConfig()) -> list[Trajectory]:
  correct = [t for t in trajectories(tree) if is_correct(t.leaf)]
  n = cfg.sft_per_problem
  if cfg.sft_rule == "clean_first":
    return _best_first(t for t in correct if not t.has_code_error)[:n]
  return [t for t in _best_first(correct)[:n] if ERROR_WORD not in t.text.lower()]


def sft_examples(
  tree: tree_lib.Tree, cfg: ExtractConfig = ExtractConfig()
) -> list[schemas.SFTExample]:
  prompt = domains.get(cfg.domain).prompt(tree.question)
  return [schemas.SFTExample(tree.problem_id, prompt, t.text) for t in sft_trajectories(tree, cfg)]


def outcomes_below(tree: tree_lib.Tree) -> dict[int, tuple[bool, bool]]:
  """Per node: (has a correct answer below, has a wrong one), itself included."""
  below: dict[int, tuple[bool, bool]] = {}
  for node in reversed(tree.nodes):  # Children always come after their parent.
    good, bad = is_correct(node), is_wrong(node)
    for c in node.children:
      good, bad = good or below[c][0], bad or below[c][1]
    below[node.index] = (good, bad)
  return below


def _greedy_path(
  tree: tree_lib.Tree, node: tree_lib.Node, below: dict[int, tuple[bool, bool]], best: bool
) -> list[tree_lib.Node]:
  """`node`, then repeatedly the highest-Q child with a correct answer below (`best`) or the
  lowest-Q child with a wrong one, down to that answer (`build_partial_solution`)."""
  path = [node]
  while steps := [c for c in tree.children(path[-1]) if below[c.index][0 if best else 1]]:
    path.append(max(steps, key=lambda c: c.q) if best else min(steps, key=lambda c: c.q))
  return path


def _mean_q(path: Sequence[tree_lib.Node]) -> float:
  return sum(n.q for n in path) / len(path)


def _sides(
  chosen: list[tree_lib.Node], rejected: list[tree_lib.Node], cfg: ExtractConfig
) -> tuple[list[tree_lib.Node], list[tree_lib.Node]]:
  """Top candidates per side; a side facing a single candidate is widened."""
  pos, neg = chosen[: cfg.pairs_per_side], rejected[: cfg.pairs_per_side]
  if len(pos) == 1:
    neg = rejected[: cfg.widened_side]
  if len(neg) == 1:
    pos = chosen[: cfg.widened_side]
  return pos, neg


def step_pairs(tree: tree_lib.Tree, cfg: ExtractConfig = ExtractConfig()) -> list[schemas.PPMPair]:
  """Sibling steps sharing a prefix: `pos` leads to a correct answer, `neg` to a wrong one.

  A child with both kinds of descendant is a candidate on both sides, as in the official code
  (paired with itself it has no margin and is dropped, but it counts in `pos/neg_count`). Each
  pair carries the rest of both greedy paths (the official `chosen_steps` / `rejected_steps`),
  which turn it into a pair of complete solutions for the ORM baseline.
  """
  below = outcomes_below(tree)
  base = domains.get(cfg.domain).prompt(tree.question)
  pairs = []
  queue = collections.deque([tree.root])
  while queue:
    node = queue.popleft()
    children = tree.children(node)
    queue.extend(c for c in children if all(below[c.index]))
    pos, neg = _sides(
      sorted((c for c in children if below[c.index][0]), key=lambda c: -c.q),
      sorted((c for c in children if below[c.index][1]), key=lambda c: c.q),
      cfg,
    )
    if not pos or not neg:
      continue
    prompt = base + tree.solution(node)
    best = [_greedy_path(tree, p, below, best=True) for p in pos]
    worst = [_greedy_path(tree, n, below, best=False) for n in neg]
    for p, *p_rest in best:
      for n, *n_rest in worst:
        margin = p.q - n.q
        if margin <= 0 or margin < cfg.min_step_margin:
          continue
        if cfg.path_filter and not _mean_q([p, *p_rest]) > _mean_q([n, *n_rest]):
          continue
        if edit_distance(p.text, n.text, cfg.min_edit_distance) < cfg.min_edit_distance:
          continue
        pairs.append(
          schemas.PPMPair(
            tree.problem_id,
            prompt,
            p.text,
            n.text,
            pos_q=p.q,
            neg_q=n.q,
            pos_count=len(pos),
            neg_count=len(neg),
            pos_completion="".join(c.text for c in p_rest),
            neg_completion="".join(c.text for c in n_rest),
          )
        )
  return pairs


def answer_pairs(
  tree: tree_lib.Tree, cfg: ExtractConfig = ExtractConfig()
) -> list[schemas.PPMPair]:
  """The paper's final-answer pairs: the 2 best correct full trajectories (without code errors)
  against the 2 worst wrong ones, by mean Q; their prefix is the question alone."""
  trajs = trajectories(tree)
  k = cfg.pairs_per_side
  good = _best_first(t for t in trajs if is_correct(t.leaf) and not t.has_code_error)[:k]
  bad = _best_first(t for t in trajs if is_wrong(t.leaf))[::-1][:k]
  prompt = domains.get(cfg.domain).prompt(tree.question)
  return [
    schemas.PPMPair(
      tree.problem_id,
      prompt,
      g.text,
      b.text,
      pos_q=g.mean_q,
      neg_q=b.mean_q,
      pos_count=len(good),
      neg_count=len(bad),
      pos_completion="",
      neg_completion="",
    )
    for g in good
    for b in bad
  ]


def ppm_pairs(tree: tree_lib.Tree, cfg: ExtractConfig = ExtractConfig()) -> list[schemas.PPMPair]:
  if difficulty(tree) != MEDIUM:
    return []
  return step_pairs(tree, cfg) + (answer_pairs(tree, cfg) if cfg.answer_pairs else [])


@dataclasses.dataclass(frozen=True)
class ExtractSummary:
  problems: int
  difficulty: dict[str, int]
  sft_examples: int
  ppm_pairs: int

  def to_dict(self) -> dict[str, Any]:
    return dataclasses.asdict(self)


def extract(
  trees: Iterable[tree_lib.Tree],
  sft_dir: str | os.PathLike | None,
  ppm_dir: str | os.PathLike | None,
  cfg: ExtractConfig = ExtractConfig(),
) -> ExtractSummary:
  """Writes the SFT and PPM datasets (either may be skipped with None); returns the counts.

  `trees` may be a stream (`iter_trees`): each tree's examples and pairs are written as it comes,
  so only one tree and a shard's worth of records per dataset are held at a time.
  """
  counts = collections.Counter({EASY: 0, MEDIUM: 0, HARD: 0})
  written = collections.Counter({schemas.SFTExample: 0, schemas.PPMPair: 0})
  outputs = ((sft_dir, schemas.SFTExample), (ppm_dir, schemas.PPMPair))
  with contextlib.ExitStack() as stack:
    writers = {
      kind: stack.enter_context(records.DatasetWriter(directory, schema=kind.SCHEMA))
      for directory, kind in outputs
      if directory is not None
    }
    for tree in trees:
      counts[difficulty(tree)] += 1
      for kind, examples in (
        (schemas.SFTExample, sft_examples(tree, cfg)),
        (schemas.PPMPair, ppm_pairs(tree, cfg)),
      ):
        written[kind] += len(examples)
        if kind in writers:
          for example in examples:
            writers[kind].write(example.to_record())
    problems = sum(counts.values())
    for writer in writers.values():
      writer.close({"difficulty": dict(counts), "problems": problems})
  return ExtractSummary(
    problems, dict(counts), written[schemas.SFTExample], written[schemas.PPMPair]
  )


def iter_trees(tree_dir: str | os.PathLike) -> Iterator[tree_lib.Tree]:
  """Every tree of a search output directory (`run_search`'s `trees/` shards), one per problem
  and run, read one shard at a time: a tree written again (two processes that raced on one
  directory) is kept once. Only the keys seen so far are remembered, not the trees."""
  paths = records.shard_paths(pathlib.Path(tree_dir))
  if not paths:
    raise FileNotFoundError(f"{tree_dir}: no tree shards (*{records.SHARD_SUFFIX})")
  return _unique_trees(paths)


def _unique_trees(paths: Sequence[pathlib.Path]) -> Iterator[tree_lib.Tree]:
  seen: set[shard_index.Key] = set()
  for path in paths:
    for i, record in enumerate(records.read_shard(path)):
      key = shard_index.record_key(record)
      if key in seen:
        logging.warning("%s record %d: a second tree for %s; the first is kept", path, i, key)
        continue
      seen.add(key)
      yield tree_lib.Tree.from_dict(record)


def load_trees(tree_dir: str | os.PathLike) -> list[tree_lib.Tree]:
  """`iter_trees`, all at once: for small sets (evaluation trees, the viewer, tests)."""
  return list(iter_trees(tree_dir))


def main(argv: Sequence[str] | None = None) -> ExtractSummary:
  parser = argparse.ArgumentParser(description="Search trees → SFT and PPM datasets.")
  parser.add_argument("--trees", required=True, help="Directory of tree shards (trees/).")
  parser.add_argument("--sft_out", default=None, help="SFT dataset directory to write.")
  parser.add_argument("--ppm_out", default=None, help="PPM pair dataset directory to write.")
  parser.add_argument("--domain", default="math", choices=domains.names(), help="Their domain.")
  args = parser.parse_args(argv)
  cfg = ExtractConfig(domain=args.domain)
  return extract(iter_trees(args.trees), args.sft_out, args.ppm_out, cfg)


if __name__ == "__main__":
  print(json.dumps(main().to_dict()))
