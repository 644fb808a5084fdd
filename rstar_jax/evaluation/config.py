"""What an evaluation runs, and the one place its budgets become search configs."""

import dataclasses
from typing import Literal

from rstar_jax import domains
from rstar_jax.format import prompts
from rstar_jax.search.config import SearchConfig

# The official greedy `max_depth: 2` lets non-terminal steps reach depth 2 (a node is cut when
# deeper than it); `SearchConfig.max_depth` cuts a non-terminal step AT its value, hence 3.
OFFICIAL_GREEDY_DEPTH = 3


@dataclasses.dataclass(frozen=True)
class EvalConfig:
  """Which methods run and with what budgets.

  samples: k of maj@k and N of best-of-N (0 disables both).
  sample_problems: the k-sample methods on this many of the problems only (0: all), a fixed
    subset like `mcts_problems`'s.
  mcts_runs / mcts_rollouts / top_k_runs: MCTS+PPM budget (mcts_runs 0 disables it).
  mcts_problems: MCTS+PPM on this many of the problems only (0: all), a fixed subset drawn by a
    hash of each id, so every round and seed of a run compares on the same problems.
  greedy_mode: 'stepwise' decodes greedy pass@1 step by step like the search; 'official' as the
    official greedy evaluation (config/sft_eval_greedy.yaml): the whole program in one step up to
    `<end_of_code>`, then the answer, 4096 tokens per step, 3 consecutive code errors allowed.
  grading: how accuracy judges answers: 'strict' (the search reward's grader) or, in math,
    'lenient' (as the official rStar `math_equal`, for accuracies comparable with the paper's).
  domain: the problem domain (`domains.get`); its graders are the choices of `grading`.
  """

  greedy: bool = True
  greedy_mode: Literal["stepwise", "official"] = "stepwise"
  samples: int = 8
  sample_problems: int = 0
  temperature: float = 0.7
  num_candidates: int = 4
  mcts_runs: int = 1
  mcts_rollouts: int = 8
  top_k_runs: int = 4
  mcts_problems: int = 0
  max_depth: int = 16
  step_max_tokens: int = 2048
  batch_size: int = 16
  seed: int = 1234
  grading: str = "strict"
  domain: str = "math"

  def __post_init__(self):
    names = domains.get(self.domain).graders
    if self.grading not in names:
      raise ValueError(
        f"grading must be one of {'|'.join(names)} in domain {self.domain!r}, got {self.grading!r}"
      )
    if self.greedy_mode not in ("stepwise", "official"):
      raise ValueError(f"greedy_mode must be stepwise|official, got {self.greedy_mode!r}")
    if min(self.samples, self.mcts_runs, self.mcts_problems, self.sample_problems) < 0:
      raise ValueError("EvalConfig.samples, mcts_runs, mcts_problems, sample_problems must be >= 0")
    if (
      min(
        self.mcts_rollouts,
        self.top_k_runs,
        self.max_depth,
        self.step_max_tokens,
        self.batch_size,
        self.num_candidates,
      )
      < 1
    ):
      raise ValueError(f"EvalConfig budgets must be >= 1: {self}")

  def chain_search(self, temperature: float, seed: int) -> SearchConfig:
    """One sampled solution as a search: one candidate per step, one rollout, no reward model.

    At temperature 0 (greedy pass@1) with `greedy_mode='official'` the official greedy decoding.
    """
    if temperature == 0 and self.greedy_mode == "official":
      return SearchConfig(
        mode="terminal",
        rollouts=1,
        num_candidates=1,
        max_depth=OFFICIAL_GREEDY_DEPTH,
        step_max_tokens=4096,  # max_tokens.
        temperature=0.0,
        max_code_errors=3,  # errors_threshold.
        stops=(prompts.END_OF_CODE, prompts.END_OF_ANSWER),  # stop.
        batch_size=self.batch_size,
        seed=seed,
        domain=self.domain,
      )
    return SearchConfig(
      mode="terminal",
      rollouts=1,
      num_candidates=1,
      max_depth=self.max_depth,
      step_max_tokens=self.step_max_tokens,
      temperature=temperature,
      batch_size=self.batch_size,
      seed=seed,
      domain=self.domain,
    )

  def mcts_search(self) -> SearchConfig:
    """MCTS+PPM: `mcts_runs` PPM-guided searches per problem, top-K voting over them."""
    return SearchConfig(
      mode="eval",
      rollouts=self.mcts_rollouts,
      num_candidates=self.num_candidates,
      max_depth=self.max_depth,
      step_max_tokens=self.step_max_tokens,
      temperature=self.temperature,
      batch_size=self.batch_size,
      seed=self.seed,
      num_runs=self.mcts_runs,
      top_k_runs=self.top_k_runs,
      domain=self.domain,
    )
