"""Search budgets and modes (DESIGN §1.2); defaults are the official rStar-Math values."""

import dataclasses
import itertools
from typing import Literal

from rstar_jax import domains
from rstar_jax.format import prompts

Mode = Literal["terminal", "ppm", "eval"]
MODES = ("terminal", "ppm", "eval")
ExtraMode = Literal["fresh", "continue"]
EXTRA_MODES = ("fresh", "continue")


@dataclasses.dataclass(frozen=True)
class SearchConfig:
  """How one batch of problems is searched.

  mode: 'terminal' — Q from terminal rewards only (rounds 1–2); 'ppm' — new non-terminal children
    start at W = PPM score, N = 1 (rounds 3–4); 'eval' — no gold answer, terminals are scored by
    the PPM and each run returns its best-scored answer.
  rollouts: rollouts per problem (per run in eval mode).
  num_candidates: steps sampled per expansion (before dedup).
  max_depth: a non-terminal node at this depth is terminal-invalid.
  max_code_errors: this many consecutive erroring steps make a node terminal-invalid.
  extra_rollouts: round 4's further stages for a problem still unsolved after the previous one,
    each the total rollouts of its stage (the paper's "64, then 128 rollouts in total").
  extra_mode: 'fresh' (the paper: "additional MCTS with new random seeds") searches each stage
    on a new tree with a new random stream, and the last tree replaces the earlier ones: those
    hold no correct answer, and the official extraction draws nothing from such a tree (SFT
    takes correct trajectories, PPM pairs need a correct and a wrong answer below a node), so
    keeping them would change no dataset. 'continue' grows the same tree to each stage's total
    with a new random stream; its budgets must then grow.
  batch_size: problems whose trees advance together (one policy call per depth level).
  num_runs, top_k: evaluation — independent runs per problem, majority over the top-k runs.
  beam_width: step-level beam search — partial solutions kept per depth.
  domain: the problem domain (`domains.get`): step rule, program of a step, grader, votes.
  stops: generation of one step ends at any of these (the official greedy evaluation stops only
    at `<end_of_code>` and `<end_of_answer>`, so its first step is the whole program).
  answer_step_only: when an expansion yields an answer step, keep only the first one and drop
    the other candidates (the official rule); False keeps the distinct non-answer steps too.
  """

  mode: Mode = "terminal"
  rollouts: int = 16
  num_candidates: int = 8
  max_depth: int = 16
  step_max_tokens: int = 2048
  temperature: float = 0.7
  top_p: float = 1.0
  top_k: int = 0
  c_puct: float = 2.0
  max_code_errors: int = 1
  extra_rollouts: tuple[int, ...] = ()
  extra_mode: ExtraMode = "fresh"
  batch_size: int = 16
  seed: int = 0
  num_runs: int = 1
  top_k_runs: int = 4
  beam_width: int = 4
  answer_step_only: bool = True
  stops: tuple[str, ...] = prompts.STEP_STOPS
  domain: str = "math"

  def __post_init__(self):
    domains.get(self.domain)  # Refuses an unknown name, listing the registered ones.
    if self.mode not in MODES:
      raise ValueError(f"SearchConfig.mode must be one of {MODES}, got {self.mode!r}")
    for name in (
      "rollouts",
      "num_candidates",
      "max_depth",
      "step_max_tokens",
      "max_code_errors",
      "batch_size",
      "num_runs",
      "top_k_runs",
      "beam_width",
    ):
      if getattr(self, name) < 1:
        raise ValueError(f"SearchConfig.{name} must be >= 1, got {getattr(self, name)}")
    if any(r < 1 for r in self.extra_rollouts):
      raise ValueError(f"SearchConfig.extra_rollouts must be positive, got {self.extra_rollouts}")
    if self.extra_mode not in EXTRA_MODES:
      raise ValueError(
        f"SearchConfig.extra_mode must be one of {EXTRA_MODES}, got {self.extra_mode!r}"
      )
    totals = (self.rollouts, *self.extra_rollouts)
    if self.extra_mode == "continue" and any(b <= a for a, b in itertools.pairwise(totals)):
      raise ValueError(
        f"SearchConfig.extra_rollouts {self.extra_rollouts} are totals: with extra_mode "
        f"'continue' each must exceed the one before (rollouts {self.rollouts} first)"
      )
    if self.temperature < 0 or not 0 < self.top_p <= 1 or self.c_puct < 0:
      raise ValueError("SearchConfig needs temperature >= 0, 0 < top_p <= 1 and c_puct >= 0")
