"""The self-evolution schedule (DESIGN §1.4): what each round searches with and trains.

| round | policy            | value signal                 | budget                      |
| 1     | bootstrap         | terminal-guided              | `bootstrap_rollouts`        |
| 2     | SLM of round 1    | terminal-guided              | `rollouts`                  |
| 3     | SLM of round 2    | PPM of round 2               | `rollouts`                  |
| 4     | SLM of round 3    | PPM of round 3               | `rollouts` + extra for unsolved |
"""
import dataclasses


@dataclasses.dataclass(frozen=True)
class RoundPlan:
  """One round. `policy_round` / `ppm_round` name the round whose models it uses (0 = bootstrap,
  None = no PPM)."""
  index: int
  search_mode: str
  rollouts: int
  extra_rollouts: tuple[int, ...]
  policy_round: int
  ppm_round: int | None
  train_baselines: bool

  @property
  def stages(self) -> tuple[str, ...]:
    names = ("search", "extract", "train_sft", "train_ppm")
    names += ("train_baselines",) if self.train_baselines else ()
    return names + ("evaluate",)


def make_plan(*, num_rounds: int, bootstrap_rollouts: int, rollouts: int,
              ppm_from_round: int, extra_rollouts: tuple[int, ...],
              baseline_rounds: tuple[int, ...]) -> list[RoundPlan]:
  """Rounds 1..num_rounds; the last round gets the extra rollouts for unsolved problems."""
  if num_rounds < 1:
    raise ValueError(f"num_rounds must be >= 1, got {num_rounds}")
  if ppm_from_round < 2:
    raise ValueError(f"ppm_from_round must be >= 2 (round 1 has no PPM yet), got "
                     f"{ppm_from_round}")
  if min(bootstrap_rollouts, rollouts) < 1:
    raise ValueError("rollout budgets must be >= 1")
  bad = [r for r in baseline_rounds if not 1 <= r <= num_rounds]
  if bad:
    raise ValueError(f"baseline_rounds {bad} outside rounds 1..{num_rounds}")
  plans = []
  for k in range(1, num_rounds + 1):
    use_ppm = k >= ppm_from_round
    plans.append(RoundPlan(
        index=k, search_mode="ppm" if use_ppm else "terminal",
        rollouts=bootstrap_rollouts if k == 1 else rollouts,
        extra_rollouts=tuple(extra_rollouts) if k == num_rounds else (),
        policy_round=k - 1, ppm_round=k - 1 if use_ppm else None,
        train_baselines=k in baseline_rounds))
  return plans
