"""Search trees → SFT examples and PPM preference pairs (DESIGN §1.3).

- Difficulty: easy (every terminal correct), medium (mixed), hard (none correct).
- SFT: per problem, the top 2 correct trajectories without code errors by mean step Q (ties:
  higher min Q).
- PPM pairs (medium problems only): at every node, up to 2 children with a correct descendant
  (highest Q first) against up to 2 children with a wrong descendant (lowest Q first), sharing
  the prefix; plus the 2 best correct full trajectories (no code errors) against the 2 worst
  wrong ones.
"""

import argparse
import collections
from collections.abc import Iterable, Sequence
import dataclasses
import json
import os
import pathlib
from typing import Any

from rstar_jax.data import records
from rstar_jax.data import schemas
from rstar_jax.format import prompts
from rstar_jax.search import tree as tree_lib

EASY, MEDIUM, HARD = "easy", "medium", "hard"
PAIRS_PER_SIDE = 2
SFT_PER_PROBLEM = 2


def difficulty(tree: tree_lib.Tree) -> str:
  outcomes = [bool(n.correct) for n in tree.terminals()]
  if outcomes and all(outcomes):
    return EASY
  return MEDIUM if any(outcomes) else HARD


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
  def correct(self) -> bool:
    return bool(self.leaf.correct)

  @property
  def has_code_error(self) -> bool:
    return any(n.code_error for n in self.steps)

  @property
  def text(self) -> str:
    return "".join(n.text for n in self.steps)


def trajectories(tree: tree_lib.Tree) -> list[Trajectory]:
  return [Trajectory(leaf, tuple(tree.path(leaf))) for leaf in tree.terminals()]


def _best_first(trajs: Iterable[Trajectory]) -> list[Trajectory]:
  return sorted(trajs, key=lambda t: (t.mean_q, t.min_q), reverse=True)


def sft_trajectories(tree: tree_lib.Tree) -> list[Trajectory]:
  clean = [t for t in trajectories(tree) if t.correct and not t.has_code_error]
  return _best_first(clean)[:SFT_PER_PROBLEM]


def sft_examples(tree: tree_lib.Tree) -> list[schemas.SFTExample]:
  prompt = prompts.policy_prompt(tree.question)
  return [schemas.SFTExample(tree.problem_id, prompt, t.text) for t in sft_trajectories(tree)]


def _outcomes_below(tree: tree_lib.Tree) -> dict[int, tuple[bool, bool]]:
  """Per node: (has a correct terminal descendant, has a wrong one), itself included."""
  below: dict[int, tuple[bool, bool]] = {}
  for node in reversed(tree.nodes):  # children always come after their parent
    good = bool(node.terminal and not node.children and node.correct)
    bad = bool(node.terminal and not node.children and not node.correct)
    for c in node.children:
      good, bad = good or below[c][0], bad or below[c][1]
    below[node.index] = (good, bad)
  return below


def step_pairs(tree: tree_lib.Tree) -> list[schemas.PPMPair]:
  """Pairs of sibling steps: a positive leads to a correct answer and has a higher Q."""
  below = _outcomes_below(tree)
  base = prompts.policy_prompt(tree.question)
  pairs = []
  for node in tree.nodes:
    children = tree.children(node)
    pos = sorted((c for c in children if below[c.index][0]), key=lambda c: -c.q)[:PAIRS_PER_SIDE]
    chosen = {c.index for c in pos}
    neg = sorted(
      (c for c in children if below[c.index][1] and c.index not in chosen), key=lambda c: c.q
    )[:PAIRS_PER_SIDE]
    if not pos or not neg:
      continue
    prompt = base + tree.solution(node)
    pairs += [
      schemas.PPMPair(tree.problem_id, prompt, p.text, n.text, p.q, n.q)
      for p in pos
      for n in neg
      if p.q > n.q
    ]
  return pairs


def answer_pairs(tree: tree_lib.Tree) -> list[schemas.PPMPair]:
  """The 2 best correct full trajectories against the 2 worst wrong ones (by mean Q).

  As for SFT, correct trajectories with code errors are not used as positives.
  """
  trajs = trajectories(tree)
  good = _best_first(t for t in trajs if t.correct and not t.has_code_error)[:PAIRS_PER_SIDE]
  bad = _best_first(t for t in trajs if not t.correct)[::-1][:PAIRS_PER_SIDE]
  prompt = prompts.policy_prompt(tree.question)
  return [
    schemas.PPMPair(tree.problem_id, prompt, g.text, b.text, g.mean_q, b.mean_q)
    for g in good
    for b in bad
  ]


def ppm_pairs(tree: tree_lib.Tree) -> list[schemas.PPMPair]:
  if difficulty(tree) != MEDIUM:
    return []
  return step_pairs(tree) + answer_pairs(tree)


@dataclasses.dataclass(frozen=True)
class ExtractSummary:
  problems: int
  difficulty: dict[str, int]
  sft_examples: int
  ppm_pairs: int

  def to_dict(self) -> dict[str, Any]:
    return dataclasses.asdict(self)


def extract(
  trees: Sequence[tree_lib.Tree],
  sft_dir: str | os.PathLike | None,
  ppm_dir: str | os.PathLike | None,
) -> ExtractSummary:
  """Writes the SFT and PPM datasets (either may be skipped with None); returns the counts."""
  counts = collections.Counter({EASY: 0, MEDIUM: 0, HARD: 0})
  counts.update(difficulty(t) for t in trees)
  sft = [e for t in trees for e in sft_examples(t)]
  pairs = [p for t in trees for p in ppm_pairs(t)]
  extra = {"difficulty": dict(counts), "problems": len(trees)}
  for directory, examples, kind in (
    (sft_dir, sft, schemas.SFTExample),
    (ppm_dir, pairs, schemas.PPMPair),
  ):
    if directory is not None:
      records.write_dataset(
        directory, [e.to_record() for e in examples], schema=kind.SCHEMA, manifest_extra=extra
      )
  return ExtractSummary(len(trees), dict(counts), len(sft), len(pairs))


def load_trees(tree_dir: str | os.PathLike) -> list[tree_lib.Tree]:
  """Every tree record of a search output directory (`run_search`'s `trees/` shards)."""
  paths = records.shard_paths(pathlib.Path(tree_dir))
  if not paths:
    raise FileNotFoundError(f"{tree_dir}: no tree shards (*{records.SHARD_SUFFIX})")
  return [tree_lib.Tree.from_dict(r) for p in paths for r in records.read_shard(p)]


def main(argv: Sequence[str] | None = None) -> ExtractSummary:
  parser = argparse.ArgumentParser(description="Search trees → SFT and PPM datasets.")
  parser.add_argument("--trees", required=True, help="Directory of tree shards (trees/).")
  parser.add_argument("--sft_out", default=None, help="SFT dataset directory to write.")
  parser.add_argument("--ppm_out", default=None, help="PPM pair dataset directory to write.")
  args = parser.parse_args(argv)
  return extract(load_trees(args.trees), args.sft_out, args.ppm_out)


if __name__ == "__main__":
  print(json.dumps(main().to_dict()))
