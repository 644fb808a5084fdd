"""N independent searches per problem, top-K majority over their answers (DESIGN §1.2).

Each run (MCTS in 'eval' mode, or step-level beam search) returns the answer of its terminal
with the highest PPM score; the final answer is the majority (answers grouped by the domain: up
to equivalence in math) among the K runs with the highest scores (ties: higher summed score).
"""

from collections.abc import Sequence
import dataclasses
import os
import pathlib
import time
from typing import Any, Literal

import tqdm

from rstar_jax import domains
from rstar_jax.data import records
from rstar_jax.evaluation import voting
from rstar_jax.search import beam as beam_lib
from rstar_jax.search import expand as expand_lib
from rstar_jax.search import mcts
from rstar_jax.search import tree as tree_lib
from rstar_jax.search.config import SearchConfig

Method = Literal["mcts", "beam"]


@dataclasses.dataclass(frozen=True)
class RunAnswer:
  answer: str | None
  score: float


@dataclasses.dataclass(frozen=True)
class EvalResult:
  problem_id: str
  answer: str | None
  correct: bool | None
  runs: tuple[RunAnswer, ...]


@dataclasses.dataclass(frozen=True)
class EvalSummary:
  results: tuple[EvalResult, ...]
  wall_s: float
  stats: dict[str, float]

  @property
  def accuracy(self) -> float | None:
    graded = [r.correct for r in self.results if r.correct is not None]
    return sum(graded) / len(graded) if graded else None

  def to_dict(self) -> dict[str, Any]:
    return {**dataclasses.asdict(self), "accuracy": self.accuracy}


def best_answer(tree: tree_lib.Tree) -> RunAnswer:
  """The answer of the valid terminal with the highest PPM score (None if there is none)."""
  valid = [n for n in tree.terminals() if n.invalid is None and n.ppm is not None]
  if not valid:
    return RunAnswer(None, float("-inf"))
  best = max(valid, key=lambda n: n.ppm)
  return RunAnswer(best.answer, best.ppm)


def top_k_majority(
  runs: Sequence[RunAnswer],
  k: int,
  gold: str | None,
  domain: domains.Domain,
  pool: expand_lib.PoolLike,
) -> str | None:
  """Majority over the k best-scored runs with an answer (ties: higher summed score)."""
  top = sorted((r for r in runs if r.answer is not None), key=lambda r: -r.score)[:k]
  return voting.majority([r.answer for r in top], gold, domain, pool, [r.score for r in top])


def evaluate_problems(
  problems: Sequence,
  engine: expand_lib.EngineLike,
  scorer: expand_lib.ScorerLike,
  pool: expand_lib.PoolLike,
  cfg: SearchConfig,
  *,
  method: Method = "mcts",
  out_dir: str | os.PathLike | None = None,
  progress: bool = True,
  grader: str = "strict",
) -> EvalSummary:
  """Answers every problem with `cfg.num_runs` searches; grades against `answer` when present,
  with the domain's grader named `grader` (math: 'strict' or 'lenient', see `grading.grader`).

  With `out_dir`, every run's tree is written (shards under `out_dir/trees`, field `run`).
  """
  if method not in ("mcts", "beam"):
    raise ValueError(f"method must be 'mcts' or 'beam', got {method!r}")
  if method == "mcts" and cfg.mode != "eval":
    cfg = dataclasses.replace(cfg, mode="eval")
  domain = domains.get(cfg.domain)
  store = (
    records.ShardSequence(pathlib.Path(out_dir) / "trees", "trees") if out_dir is not None else None
  )
  stats = expand_lib.SearchStats()
  results = []
  start = time.perf_counter()
  for lo in tqdm.trange(
    0, len(problems), cfg.batch_size, desc=f"evaluate[{method}]", disable=not progress
  ):
    batch = problems[lo : lo + cfg.batch_size]
    trees = [tree_lib.Tree(p.id, p.question, p.answer) for p in batch for _ in range(cfg.num_runs)]
    runs = [r for _ in batch for r in range(cfg.num_runs)]
    search = mcts.search_trees if method == "mcts" else beam_lib.beam_search_trees
    search(trees, engine, scorer, pool, cfg, runs=runs, stats=stats)
    per_run = [
      tuple(best_answer(t) for t in trees[i * cfg.num_runs : (i + 1) * cfg.num_runs])
      for i in range(len(batch))
    ]
    answers = [
      top_k_majority(answered, cfg.top_k_runs, p.answer, domain, pool)
      for p, answered in zip(batch, per_run)
    ]
    graded = [(a, p.answer) for a, p in zip(answers, batch) if p.answer is not None]
    verdicts = iter(domain.grade(*zip(*graded), pool, grader=grader) if graded else ())
    for problem, answer, answered in zip(batch, answers, per_run):
      correct = next(verdicts) if problem.answer is not None else None
      results.append(EvalResult(problem.id, answer, correct, answered))
    if store is not None:
      store.append([{**t.to_dict(), "run": r, "method": method} for t, r in zip(trees, runs)])
  return EvalSummary(tuple(results), time.perf_counter() - start, stats.to_dict())
