"""orbax checkpoints of parameters, optimizer state, data-iterator position and step.

Restores go onto the live arrays' concrete NamedShardings (abstract `eval_shape` targets under
`set_mesh` fail on this orbax version), after checking that the checkpoint was written for a model
with the same parameter names, shapes and dtypes. Beside the checkpoints, `schedule.json` records
what the saved data position and step count mean (batch size, epochs, learning-rate schedule,
dataset): a resume under other values would continue a different run, so it is refused.
"""

import json
import logging
import pathlib
from typing import Any

import jax
import orbax.checkpoint as ocp

from rstar_jax.data import records
from rstar_jax.runtime import files

SCHEDULE_FILE = "schedule.json"


class ResumeMismatchError(ValueError):
  """Checkpoints were written for another schedule or dataset than the run being resumed."""


def _abstract(tree: Any) -> Any:
  return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), tree)


def _mismatch(saved: dict[str, Any], live: dict[str, Any]) -> str:
  missing = sorted(set(live) - set(saved))
  extra = sorted(set(saved) - set(live))
  changed = [
    f"{k}: checkpoint {saved[k]} vs model {live[k]}"
    for k in sorted(set(saved) & set(live))
    if list(saved[k]) != list(live[k])
  ]
  parts = []
  if missing:
    parts.append(f"missing in checkpoint {missing[:5]}{'...' if len(missing) > 5 else ''}")
  if extra:
    parts.append(f"not in model {extra[:5]}{'...' if len(extra) > 5 else ''}")
  if changed:
    parts.append(f"shape/dtype differ: {changed[:5]}{'...' if len(changed) > 5 else ''}")
  return "; ".join(parts)


class Checkpointer:
  """Keeps the last `keep` checkpoints of a run under `directory`."""

  def __init__(
    self,
    directory: str | pathlib.Path,
    *,
    keep: int,
    async_save: bool,
    fingerprint: dict[str, Any],
    schedule: dict[str, Any],
  ):
    self.directory = pathlib.Path(directory).absolute()
    self.fingerprint = fingerprint
    self.schedule = json.loads(json.dumps(schedule))  # As it reads back from schedule.json.
    self._manager = ocp.CheckpointManager(
      self.directory,
      options=ocp.CheckpointManagerOptions(max_to_keep=keep, enable_async_checkpointing=async_save),
    )

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def resume_step(self) -> int:
    """The step to resume from (0: none yet), once the checkpoints are known to follow this run's
    schedule; a fresh run records its schedule before its first checkpoint."""
    step = self.latest_step() or 0
    path = self.directory / SCHEDULE_FILE
    if not step:
      if jax.process_index() == 0:
        files.write_json(path, self.schedule, sort_keys=True)
      return 0
    if not path.is_file():
      logging.warning("%s: missing, so resuming does not check the schedule (older run)", path)
      return step
    saved = records.decode(path.read_bytes(), where=str(path))
    changed = [
      f"{key}: {saved.get(key)!r} then, {self.schedule.get(key)!r} now"
      for key in sorted(set(saved) | set(self.schedule))
      if saved.get(key) != self.schedule.get(key)
    ]
    if changed:
      raise ResumeMismatchError(
        f"checkpoints in {self.directory} (step {step}) were written for another schedule or "
        f"dataset: {'; '.join(changed)}. Resume with the values they were written with, or "
        "train into a new output directory"
      )
    return step

  def save(
    self,
    step: int,
    params: Any,
    opt_state: Any,
    *,
    data_state: dict[str, Any],
    history: list[dict[str, float]],
  ) -> None:
    meta = {"step": step, "data": data_state, "fingerprint": self.fingerprint, "history": history}
    self._manager.save(
      step,
      args=ocp.args.Composite(
        params=ocp.args.StandardSave(params),
        opt_state=ocp.args.StandardSave(opt_state),
        meta=ocp.args.JsonSave(meta),
      ),
    )

  def restore(self, step: int, params: Any, opt_state: Any) -> tuple[Any, Any, dict[str, Any]]:
    """(params, opt_state, meta) of `step`, placed like the given live `params` / `opt_state`."""
    meta = self._manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]
    problem = _mismatch(meta["fingerprint"], self.fingerprint)
    if problem:
      raise ValueError(
        f"checkpoint {self.directory}/{step} was written for a different model "
        f"config than the one being trained: {problem}"
      )
    out = self._manager.restore(
      step,
      args=ocp.args.Composite(
        params=ocp.args.StandardRestore(_abstract(params)),
        opt_state=ocp.args.StandardRestore(_abstract(opt_state)),
      ),
    )
    return out["params"], out["opt_state"], meta

  def close(self) -> None:
    self._manager.wait_until_finished()
    self._manager.close()
