"""The round driver: runs the preparation stages and rounds 1..K, one checkpointed stage at a time.

A stage runs only when its marker is missing; when it returns, every process meets at a barrier
and the leader writes the marker with the stage's summary. A killed run restarted with the same
run directory therefore skips the finished stages and re-enters the interrupted one, whose own
resumability (search shards, orbax checkpoints) continues inside it.
"""

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from rstar_jax.evolution.layout import RunLayout
from rstar_jax.evolution.plan import RoundPlan
from rstar_jax.runtime import stages as stages_lib
from rstar_jax.runtime.sync import ProcessSync

PREPARE_STAGES = ("prepare",)


class Stages(Protocol):
  """The work of each stage; each method returns a JSON-serialisable summary."""

  def prepare(self) -> dict[str, Any]: ...

  def search(self, plan: RoundPlan) -> dict[str, Any]: ...

  def extract(self, plan: RoundPlan) -> dict[str, Any]: ...

  def train_sft(self, plan: RoundPlan) -> dict[str, Any]: ...

  def train_ppm(self, plan: RoundPlan) -> dict[str, Any]: ...

  def train_baselines(self, plan: RoundPlan) -> dict[str, Any]: ...

  def evaluate(self, plan: RoundPlan) -> dict[str, Any]: ...


def run_stage(
  layout: RunLayout,
  round_index: int,
  name: str,
  fn: Callable[[], dict[str, Any]],
  sync: ProcessSync,
) -> dict[str, Any]:
  """Runs `fn` unless the stage's marker exists; returns the stage summary either way."""
  return stages_lib.run_stage(
    layout.marker(round_index, name), fn, sync, label=f"round {round_index}: {name}"
  )


def run_rounds(
  stages: Stages,
  plans: Sequence[RoundPlan],
  layout: RunLayout,
  sync: ProcessSync = ProcessSync(),
  on_round: Callable[[int, dict[int, dict[str, dict[str, Any]]]], None] | None = None,
) -> dict[int, dict[str, dict[str, Any]]]:
  """Runs (or resumes) every stage; returns {round: {stage: summary}} with round 0 = prepare.

  `on_round(k, results)` is called after each round with the results so far (e.g. to refresh
  the report).
  """
  results = {
    0: {name: run_stage(layout, 0, name, getattr(stages, name), sync) for name in PREPARE_STAGES}
  }
  for plan in plans:
    results[plan.index] = {}
    for name in plan.stages:
      method = getattr(stages, name)
      results[plan.index][name] = run_stage(
        layout, plan.index, name, lambda m=method, p=plan: m(p), sync
      )
    if on_round is not None:
      on_round(plan.index, results)
  return results
