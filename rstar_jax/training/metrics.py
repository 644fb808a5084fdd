"""Training metrics to TensorBoard event files, a JSONL log and a console progress bar.

Only process 0 writes, so multi-host runs produce one log.
"""

import json
import pathlib

import jax
import tqdm


class MetricsLogger:
  """Appends one JSON line and one TensorBoard scalar set per logged step."""

  def __init__(
    self,
    out_dir: str | pathlib.Path,
    *,
    total_steps: int,
    start_step: int,
    progress_bar: bool,
    name: str,
  ):
    self._enabled = jax.process_index() == 0
    if not self._enabled:
      return
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # Open for the logger's lifetime; `close()` closes it.
    self._jsonl = open(out / "metrics.jsonl", "a", encoding="utf-8")  # noqa: SIM115
    # Only a training run should pay for tensorboardX, which imports torch where it is installed.
    from tensorboardX import SummaryWriter  # local import: torch takes seconds to import

    self._tb = SummaryWriter(str(out / "tensorboard"))
    self._bar = tqdm.tqdm(
      total=total_steps, initial=start_step, desc=name, dynamic_ncols=True, disable=not progress_bar
    )

  def log(self, step: int, metrics: dict[str, float]) -> None:
    if not self._enabled:
      return
    self._jsonl.write(json.dumps({"step": step, **metrics}) + "\n")
    self._jsonl.flush()
    for key, value in metrics.items():
      self._tb.add_scalar(key, value, step)
    self._bar.set_postfix(
      {k: f"{v:.4g}" for k, v in metrics.items() if k in ("loss", "acc", "eval_acc", "lr")},
      refresh=False,
    )

  def advance(self, steps: int = 1) -> None:
    if self._enabled:
      self._bar.update(steps)

  def close(self) -> None:
    if self._enabled:
      self._bar.close()
      self._tb.close()
      self._jsonl.close()
