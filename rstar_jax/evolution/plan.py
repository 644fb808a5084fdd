"""The self-evolution schedule (DESIGN §1.4): what each round searches with and trains.

| round | policy            | value signal                 | budget                      |
| 1     | bootstrap search  | terminal-guided              | `bootstrap_rollouts`        |
| 2     | SLM of round 1    | terminal-guided              | `rollouts`                  |
| 3     | SLM of round 2    | PPM of round 2               | `rollouts`                  |
| 4     | SLM of round 3    | PPM of round 3               | `rollouts` + extra for unsolved |

Round 1's sampler may be another model than the base policy every SFT starts from (the paper:
DeepSeek-Coder-V2-Instruct searches, Qwen2.5-Math-7B is trained), with its own prompt and stops.
"""

import dataclasses
from typing import Literal

from rstar_jax.format import fewshot


@dataclasses.dataclass(frozen=True)
class RoundPlan:
  """One round. `policy_round` / `ppm_round` name the round whose models it uses (0 = bootstrap,
  None = no PPM); `temperature` / `max_code_errors` / `stops` override the search's when set;
  `prompt` is the style the sampling model sees (`fewshot.STYLES`); `greedy_eval_only`: the
  round's evaluation runs greedy pass@1 alone."""

  index: int
  search_mode: str
  rollouts: int
  extra_rollouts: tuple[int, ...]
  policy_round: int
  ppm_round: int | None
  train_baselines: bool
  greedy_eval_only: bool = False
  temperature: float | None = None
  max_code_errors: int | None = None
  stops: tuple[str, ...] | None = None
  prompt: str = fewshot.PLAIN

  @property
  def stages(self) -> tuple[str, ...]:
    names = ("search", "extract", "train_sft", "train_ppm")
    names += ("train_baselines",) if self.train_baselines else ()
    return names + ("evaluate",)


@dataclasses.dataclass(frozen=True)
class RoundsConfig:
  """The schedule's budgets. `extra_rollouts` go to the last round's still-unsolved problems;
  `baseline_rounds` also train the ORM / PQM baselines; round k's SFT starts from the bootstrap
  policy (`sft_init='base'`, as the paper) or from round k-1's policy ('previous'). Round 1
  searches with a model new to the step format, which the official code samples differently
  (`bootstrap_temperature`, `bootstrap_max_code_errors`; None: the search's), prompts with two
  worked examples (`bootstrap_prompt`: 'official_fewshot', or 'plain' as later rounds) and stops
  also at `<end_of_output>` (`bootstrap_stops`; (): the search's). `greedy_eval_only_rounds`
  evaluate greedy pass@1 alone (the sampled methods and MCTS+PPM cost many times more), so a
  small budget can still follow the policy every round and compare every method at the end.
  `problems_per_round` N > 0 gives round k the k-th block of N training problems (positions
  (k-1)N to kN-1 of the file or world split) instead of every one: the paper searches one pool
  far larger than a round can exhaust, while a pool small enough to search every round on a
  laptop is mostly solved by round 3 and re-searching it teaches little (docs/faithfulness.md)."""

  num_rounds: int = 4
  bootstrap_rollouts: int = 8
  rollouts: int = 16
  ppm_from_round: int = 3
  extra_rollouts: tuple[int, ...] = (64, 128)
  baseline_rounds: tuple[int, ...] = (4,)
  greedy_eval_only_rounds: tuple[int, ...] = ()
  sft_init: Literal["base", "previous"] = "base"
  bootstrap_temperature: float | None = None
  bootstrap_max_code_errors: int | None = None
  bootstrap_prompt: Literal["plain", "official_fewshot"] = fewshot.PLAIN
  bootstrap_stops: tuple[str, ...] = ()
  problems_per_round: int = 0

  def __post_init__(self):
    if self.num_rounds < 1:
      raise ValueError(f"rounds.num_rounds must be >= 1, got {self.num_rounds}")
    if self.ppm_from_round < 2:
      raise ValueError(
        f"rounds.ppm_from_round must be >= 2 (round 1 has no PPM yet), got {self.ppm_from_round}"
      )
    if min(self.bootstrap_rollouts, self.rollouts, *self.extra_rollouts) < 1:
      raise ValueError("rounds: rollout budgets must be >= 1")
    for field in ("baseline_rounds", "greedy_eval_only_rounds"):
      bad = [r for r in getattr(self, field) if not 1 <= r <= self.num_rounds]
      if bad:
        raise ValueError(f"rounds.{field} {bad} outside rounds 1..{self.num_rounds}")
    if self.sft_init not in ("base", "previous"):
      raise ValueError(f"rounds.sft_init must be 'base' or 'previous', got {self.sft_init!r}")
    if self.bootstrap_prompt not in fewshot.STYLES:
      raise ValueError(
        f"rounds.bootstrap_prompt must be one of {fewshot.STYLES}, got {self.bootstrap_prompt!r}"
      )
    if not all(isinstance(s, str) and s for s in self.bootstrap_stops):
      raise ValueError(f"rounds.bootstrap_stops must be non-empty strings: {self.bootstrap_stops}")
    if self.problems_per_round < 0:
      raise ValueError(f"rounds.problems_per_round must be >= 0, got {self.problems_per_round}")

  @property
  def problems_needed(self) -> int:
    """Training problems the rounds' blocks cover (0: every round searches all of them)."""
    return self.problems_per_round * self.num_rounds

  def search_block(self, k: int) -> tuple[int, int] | None:
    """Round k's problems as [start, stop) positions of the training set; None: all of them."""
    n = self.problems_per_round
    return ((k - 1) * n, k * n) if n else None


def make_plan(cfg: RoundsConfig) -> list[RoundPlan]:
  """Rounds 1..num_rounds; the last round gets the extra rollouts for unsolved problems."""
  plans = []
  for k in range(1, cfg.num_rounds + 1):
    use_ppm = k >= cfg.ppm_from_round
    plans.append(
      RoundPlan(
        index=k,
        search_mode="ppm" if use_ppm else "terminal",
        rollouts=cfg.bootstrap_rollouts if k == 1 else cfg.rollouts,
        extra_rollouts=cfg.extra_rollouts if k == cfg.num_rounds else (),
        policy_round=k - 1,
        ppm_round=k - 1 if use_ppm else None,
        train_baselines=k in cfg.baseline_rounds,
        greedy_eval_only=k in cfg.greedy_eval_only_rounds,
        temperature=cfg.bootstrap_temperature if k == 1 else None,
        max_code_errors=cfg.bootstrap_max_code_errors if k == 1 else None,
        stops=(cfg.bootstrap_stops or None) if k == 1 else None,
        prompt=cfg.bootstrap_prompt if k == 1 else fewshot.PLAIN,
      )
    )
  return plans
