"""Evaluation harness: greedy pass@1, maj@k, best-of-N by a reward model, MCTS+PPM.

Sampled solutions are produced by the real search machinery with one candidate per step and
one rollout (a chain: policy step → code execution → next step … → answer), so every method
sees the same step format, sandbox and grader as the search. The k samples of a problem are
k independent runs with different seeds; maj@k, and best-of-k under each reward model, are
computed from the same k samples. MCTS+PPM is `search.evaluate.evaluate_problems` (N runs,
top-K majority).
"""

from collections.abc import Mapping, Sequence
import dataclasses
import hashlib
import logging
import os
import pathlib
from typing import Any

import numpy as np
import tqdm

from rstar_jax import domains
from rstar_jax.evaluation import multirun
from rstar_jax.evaluation import passk
from rstar_jax.evaluation import voting
from rstar_jax.evaluation.config import EvalConfig
from rstar_jax.runtime import files
from rstar_jax.search import expand as expand_lib
from rstar_jax.search import mcts
from rstar_jax.search import tree as tree_lib

GREEDY = "greedy"
MCTS_PPM = "mcts+ppm"


@dataclasses.dataclass(frozen=True)
class Sample:
  """One sampled solution; `answer` is None when it ended invalid (no answer, code error, …)."""

  text: str
  answer: str | None
  correct: bool


def _sample_of(tree: tree_lib.Tree) -> Sample:
  leaves = [n for n in tree.terminals() if not n.children]
  if not leaves:
    return Sample("", None, False)
  leaf = leaves[0]
  answer = leaf.answer if leaf.invalid is None else None
  return Sample(tree.solution(leaf), answer, bool(leaf.correct) and answer is not None)


def sample_solutions(
  problems: Sequence,
  engine: expand_lib.EngineLike,
  pool: expand_lib.PoolLike,
  cfg: EvalConfig,
  *,
  num: int,
  temperature: float,
  progress: bool = True,
  desc: str = "sample",
) -> list[list[Sample]]:
  """`num` independent solutions per problem (run r uses seed `cfg.seed + r`)."""
  out: list[list[Sample]] = [[] for _ in problems]
  total = num * -(-len(problems) // cfg.batch_size)
  with tqdm.tqdm(total=total, desc=desc, unit="batch", disable=not progress) as bar:
    for run in range(num):
      search_cfg = cfg.chain_search(temperature, cfg.seed + run)
      for lo in range(0, len(problems), cfg.batch_size):
        batch = problems[lo : lo + cfg.batch_size]
        trees = [tree_lib.Tree(p.id, p.question, p.answer) for p in batch]
        mcts.search_trees(trees, engine, None, pool, search_cfg, runs=[run] * len(trees))
        for i, tree in enumerate(trees):
          out[lo + i].append(_sample_of(tree))
        bar.update(1)
  return out


def best_of(samples: Sequence[Sample], scores: Sequence[float]) -> Sample | None:
  """The answered sample with the highest reward-model score."""
  answered = [(s, v) for s, v in zip(samples, scores) if s.answer is not None]
  return max(answered, key=lambda sv: sv[1])[0] if answered else None


def evaluate_policy(
  problems: Sequence,
  engine: expand_lib.EngineLike,
  pool: expand_lib.PoolLike,
  scorers: Mapping[str, expand_lib.ScorerLike],
  cfg: EvalConfig,
  *,
  out_dir: str | os.PathLike | None = None,
  progress: bool = True,
) -> dict[str, Any]:
  """Runs every enabled method on `problems` (each needs a gold answer); returns the report.

  `scorers` maps a reward-model name ('ppm', 'orm', 'pqm', …) to its scorer: each gives a
  best-of-N method, and 'ppm' also drives MCTS+PPM. The report holds `accuracy` per method and
  each problem's answers; with `out_dir`, `report.json` and the MCTS trees are written there.
  """
  unlabelled = [p.id for p in problems if p.answer is None]
  if unlabelled:
    logging.warning(
      "evaluation skips %d problems without a gold answer: %s",
      len(unlabelled),
      ", ".join(unlabelled[:10]),
    )
  problems = [p for p in problems if p.answer is not None]
  if not problems:
    raise ValueError("evaluation needs problems with gold answers; none given")
  domain = domains.get(cfg.domain)
  for p in problems:
    domain.check_problem(p)
  per_problem = [problem_row(p) for p in problems]

  def graded(answers: Sequence[str | None], golds: Sequence[str]) -> list[bool]:
    """Accuracy's judgement with the domain's grader `cfg.grading`, one batch."""
    return domain.grade(answers, golds, pool, grader=cfg.grading)

  def record(method: str, answers: Sequence[str | None], rows=per_problem, texts=()) -> None:
    """Each row's answer under `method` and its grade; with `texts`, the solutions too."""
    for i, (row, answer, correct) in enumerate(
      zip(rows, answers, graded(answers, [r["gold"] for r in rows]))
    ):
      row["answers"][method] = {"answer": answer, "correct": correct}
      if texts:
        row["answers"][method]["text"] = texts[i]

  if cfg.greedy:
    greedy = sample_solutions(
      problems, engine, pool, cfg, num=1, temperature=0.0, progress=progress, desc="eval[greedy]"
    )
    # Greedy keeps its solutions: the report's reading of why a round's policy fails.
    record(GREEDY, [s[0].answer for s in greedy], texts=[s[0].text for s in greedy])
  if cfg.samples:
    sampled, rows = _subset(problems, per_problem, cfg.sample_problems)
    samples = sample_solutions(
      sampled,
      engine,
      pool,
      cfg,
      num=cfg.samples,
      temperature=cfg.temperature,
      progress=progress,
      desc=f"eval[sample x{cfg.samples}]",
    )
    k = cfg.samples
    sampled_golds = [p.answer for p in sampled]
    right = graded(
      [s.answer for row in samples for s in row], [g for g in sampled_golds for _ in range(k)]
    )
    right_rows = [right[i * k : (i + 1) * k] for i in range(len(samples))]
    for row, oks in zip(rows, right_rows):
      row["samples_correct"] = sum(oks)
    record(
      f"pass@{k}",
      [
        next((s.answer for s, ok in zip(row, oks) if ok), row[0].answer)
        for row, oks in zip(samples, right_rows)
      ],
      rows,
    )
    record(
      f"maj@{k}",
      [
        voting.majority([s.answer for s in row], g, domain, pool)
        for g, row in zip(sampled_golds, samples)
      ],
      rows,
    )
    texts = [domain.prompt(p.question) + s.text for p, row in zip(sampled, samples) for s in row]
    for name, scorer in scorers.items():
      scores = np.asarray(scorer.score(texts), dtype=np.float32).reshape(len(sampled), -1)
      picks = [best_of(row, row_scores) for row, row_scores in zip(samples, scores)]
      record(f"best_of_{k}[{name}]", [s.answer if s else None for s in picks], rows)
  if cfg.mcts_runs and "ppm" in scorers:
    tree_dir = pathlib.Path(out_dir) / "mcts" if out_dir is not None else None
    searched, rows = _subset(problems, per_problem, cfg.mcts_problems)
    summary = multirun.evaluate_problems(
      searched,
      engine,
      scorers["ppm"],
      pool,
      cfg.mcts_search(),
      out_dir=tree_dir,
      progress=progress,
      grader=cfg.grading,
    )
    record(MCTS_PPM, [r.answer for r in summary.results], rows)
  report = make_report(per_problem, dataclasses.asdict(cfg))
  if out_dir is not None:
    files.write_json(pathlib.Path(out_dir) / "report.json", report)
  return report


def problem_row(problem, answers: dict[str, Any] | None = None) -> dict[str, Any]:
  """A report's row of one problem (`make_report` reads these): id, gold, level where it has
  one, and `answers` per method."""
  row = {"id": problem.id, "gold": problem.answer, "answers": dict(answers or {})}
  return {**row, "level": problem.level} if problem.level else row


def fixed_subset(ids: Sequence[str], size: int) -> set[str]:
  """`size` of `ids` (all when `size` is 0 or larger), the same whatever their order or host
  share: the ids with the smallest hash."""
  if not size or size >= len(ids):
    return set(ids)
  return set(sorted(ids, key=lambda i: hashlib.sha256(i.encode("utf-8")).digest())[:size])


def _subset(problems: Sequence, rows: Sequence[dict[str, Any]], size: int) -> tuple[list, list]:
  """The problems of `fixed_subset(…, size)` and their report rows, in order."""
  chosen = fixed_subset([p.id for p in problems], size)
  return [p for p in problems if p.id in chosen], [r for r in rows if r["id"] in chosen]


def _accuracies(rows: Sequence[dict[str, Any]]) -> tuple[dict[str, float], dict[str, int]]:
  """Accuracy and problem count per method, each over the rows that ran it."""
  methods = list(dict.fromkeys(m for r in rows for m in r["answers"]))
  counts = {m: sum(m in r["answers"] for r in rows) for m in methods}
  accuracy = {
    m: sum(r["answers"][m]["correct"] for r in rows if m in r["answers"]) / counts[m]
    for m in methods
  }
  return accuracy, counts


def make_report(per_problem: Sequence[dict[str, Any]], config: dict[str, Any]) -> dict[str, Any]:
  """Accuracy per method (and per level, where problems have one) over `per_problem` rows
  (also merges the shares of several hosts)."""
  accuracy, sizes = _accuracies(per_problem)
  levels = sorted({r["level"] for r in per_problem if "level" in r}, key=_level_key)
  by_level = {}
  for level in levels:
    level_accuracy, level_sizes = _accuracies([r for r in per_problem if r.get("level") == level])
    by_level[level] = {"accuracy": level_accuracy, "num_problems": level_sizes}
  counts = [r["samples_correct"] for r in per_problem if "samples_correct" in r]
  samples = config.get("samples", 0)
  return {
    "num_problems": len(per_problem),
    "accuracy": accuracy,
    "num_problems_by_method": sizes,
    "by_level": by_level,
    # The unbiased estimator from the k samples (at k = samples it equals `pass@k` above).
    # Over the problems that were sampled (`EvalConfig.sample_problems`).
    "pass_at_k": passk.mean_pass_at_k(counts, samples) if counts else {},
    "config": config,
    "problems": list(per_problem),
  }


def _level_key(level: str) -> tuple[int, float | str]:
  """Numeric levels in numeric order ('2' < '10'), then the others by name."""
  try:
    return 0, float(level)
  except ValueError:
    return 1, level
