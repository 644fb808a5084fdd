"""The training loop shared by the SFT and PPM trainers: resume, step, guard, log, checkpoint."""

from collections.abc import Callable, Sequence
import dataclasses
import logging
import math
import pathlib
import time
from typing import Any

from flax import nnx
import grain
import jax
from jax.sharding import Mesh
import numpy as np

from rstar_jax import hf
from rstar_jax.data import records
from rstar_jax.training import inputs
from rstar_jax.training import optim
from rstar_jax.training import step as step_lib
from rstar_jax.training.checkpoint import Checkpointer
from rstar_jax.training.config import TrainConfig
from rstar_jax.training.metrics import MetricsLogger
from rstar_jax.training.params import ModelParams
from rstar_jax.training.params import Params

Callback = Callable[[int, dict[str, float]], None]

STOPPED = "early_stop"  # Set to 1.0 in the metrics of the step where `EarlyStop` ended a run.


@dataclasses.dataclass(frozen=True)
class EarlyStop:
  """Ends training at the first check whose `check(step, model)` says the goal is reached: every
  `every` steps from step `start`. `check` returns (reached, metrics to log at that step), and
  must answer alike on every process of a multi-host run; `rule` describes the check, for the
  schedule a resumed run must share."""

  every: int
  start: int
  check: Callable[[int, nnx.Module], tuple[bool, dict[str, float]]]
  rule: str

  def __post_init__(self):
    if self.every < 1 or self.start < 0:
      raise ValueError(f"EarlyStop: every must be >= 1 and start >= 0, got {self}")

  def due(self, step: int) -> bool:
    return step >= self.start and step % self.every == 0


@dataclasses.dataclass(frozen=True)
class TrainResult:
  """What a finished (or already finished, when resumed) run produced."""

  model: nnx.Module  # The trained policy (SFT) or value model (PPM), on the run's mesh.
  step: int
  history: list[dict[str, float]]  # One entry per step: loss, grad_norm, lr, tokens_per_s, ...
  final_metrics: dict[str, float]
  data_stats: dict[str, int]  # What the overlong policy and the filters did.
  checkpoint_dir: pathlib.Path
  hf_dir: pathlib.Path | None


class NonFiniteLossError(FloatingPointError):
  """Raised when a step produced a NaN/Inf loss or gradient; earlier checkpoints are intact."""


@dataclasses.dataclass(frozen=True)
class Task:
  """What differs between trainers: the loss, its weight key and an optional evaluation."""

  name: str
  loss_fn: step_lib.LossFn
  weight_key: str
  summarize: Callable[[dict[str, float]], dict[str, float]]
  eval_batches: Sequence[inputs.HostBatch] = ()
  eval_every: int = 0  # 0: evaluate at the end only.


def _finite(metrics: dict[str, float]) -> bool:
  return math.isfinite(metrics["loss"]) and math.isfinite(metrics["grad_norm"])


@dataclasses.dataclass(frozen=True)
class Setup:
  """A model split for training, its optimizer state and the compiled train step."""

  mp: ModelParams
  params: Params
  opt_state: Any
  build: Callable[[Params], nnx.Module]
  train_step: Callable[..., Any]


def prepare(
  cfg: TrainConfig, model: nnx.Module, task: Task, *, total_steps: int, mesh: Mesh
) -> Setup:
  """Parameters on their shardings (a private copy), optimizer state and the jitted step."""
  mp = ModelParams(model)
  param_shardings = mp.shardings(mesh)
  # A private copy: the caller's model (e.g. the policy a PPM starts from) survives donation.
  params = jax.device_put(mp.flat(), param_shardings, may_alias=False)
  tx = optim.make_optimizer(cfg, total_steps)
  opt_shardings = step_lib.opt_state_shardings(tx, params)
  opt_state = jax.jit(tx.init, out_shardings=opt_shardings)(params)
  build = step_lib.model_builder(mp, cfg.remat, cfg.query_block)
  train_step = step_lib.make_train_step(
    task.loss_fn,
    task.weight_key,
    build,
    tx,
    param_shardings,
    opt_shardings,
    dense_grads=cfg.cpu_dense_grads and jax.default_backend() == "cpu",
  )
  return Setup(mp, params, opt_state, build, train_step)


# What the saved step and data position mean: the order of the examples and the learning rate
# of every step. `grad_accum`, `max_steps` and the mesh may change between runs: they split or
# cut the same sequence of global batches.
SCHEDULE_FIELDS = (
  "batch_size",
  "epochs",
  "seed",
  "lr",
  "schedule",
  "warmup_steps",
  "warmup_ratio",
  "end_lr_ratio",
)


def schedule_fingerprint(
  cfg: TrainConfig, task: Task, *, data_dir: pathlib.Path, examples: int, total_steps: int
) -> dict[str, Any]:
  """The values a resumed run must share with the checkpoints it resumes (`schedule.json`)."""
  num_records = records.read_manifest(data_dir)["num_records"]
  digest = records.dataset_digest(data_dir)
  return {
    "task": task.name,
    **{name: getattr(cfg, name) for name in SCHEDULE_FIELDS},
    # Only when on, so the checkpoints of plain runs from before the field still resume.
    **({"group_by_length": cfg.group_by_length} if cfg.groups_by_length else {}),
    "dataset": f"{num_records} records, sha256 {digest[:16]}",
    "examples": examples,
    "total_steps": total_steps,
  }


def run(
  cfg: TrainConfig,
  model: nnx.Module,
  task: Task,
  *,
  stream: grain.MapDataset,
  total_steps: int,
  run_schedule: dict[str, Any],
  out_dir: pathlib.Path,
  mesh: Mesh,
  callbacks: Sequence[Callback] = (),
  stop: EarlyStop | None = None,
) -> tuple[nnx.Module, int, list[dict[str, float]]]:
  """Trains `model` over `stream`, resuming from the latest checkpoint under `out_dir` when it
  was written for the same `run_schedule` (`schedule_fingerprint`). With `stop`, training ends
  at the first check that reaches its goal; that step is checkpointed, and a resumed run returns
  it as it would a finished one. Returns the model, the last step trained and the history."""
  if stop is not None:
    run_schedule = {**run_schedule, "early_stop": stop.rule}
  setup = prepare(cfg, model, task, total_steps=total_steps, mesh=mesh)
  mp, params, opt_state, train_step = setup.mp, setup.params, setup.opt_state, setup.train_step
  schedule = optim.make_schedule(cfg, total_steps)
  eval_step = step_lib.make_eval_step(task.loss_fn, task.weight_key, setup.build)

  def evaluate(params: Params) -> dict[str, float]:
    sums: dict[str, float] = {}
    for host in task.eval_batches:
      out = jax.device_get(eval_step(params, inputs.to_global(host, mesh)))
      for k, v in out.items():
        sums[k] = sums.get(k, 0.0) + float(v)
    return {f"eval_{k}": v for k, v in task.summarize(sums).items()}

  ckpt = Checkpointer(
    out_dir / "checkpoints",
    keep=cfg.keep_checkpoints,
    async_save=cfg.async_checkpointing,
    fingerprint=mp.fingerprint(),
    schedule=run_schedule,
  )
  it = iter(stream)
  n_steps = len(stream)
  history: list[dict[str, float]] = []
  try:
    start = ckpt.resume_step()
    if start:
      params, opt_state, meta = ckpt.restore(start, params, opt_state)
      it.set_state(meta["data"])
      history = meta["history"]
      logging.info("%s: resumed from %s/%d", task.name, ckpt.directory, start)
  except BaseException:  # A refused resume leaves no checkpoint manager open.
    ckpt.close()
    raise
  logger = MetricsLogger(
    out_dir, total_steps=n_steps, start_step=start, progress_bar=cfg.progress_bar, name=task.name
  )
  stopped = bool(history and history[-1].get(STOPPED))
  last = start if stopped else n_steps
  try:
    host = next(it) if start < last else None
    tick = time.perf_counter()
    for step in range(start + 1, last + 1):
      tokens = int(host["mask"].sum()) * jax.process_count()
      params, opt_state, out = train_step(params, opt_state, inputs.to_global(host, mesh))
      data_state = it.get_state()
      host = next(it) if step < n_steps else None  # Overlaps with the step running on device.
      raw = {k: float(v) for k, v in jax.device_get(out).items()}
      if not _finite(raw):
        good = ckpt.latest_step()
        kept = (
          f"the last good checkpoint {ckpt.directory}/{good} is intact"
          if good
          else "no checkpoint had been written yet"
        )
        raise NonFiniteLossError(
          f"{task.name}: non-finite loss or gradient at step {step} (loss={raw['loss']}, "
          f"grad_norm={raw['grad_norm']}); training stopped, {kept}"
        )
      now = time.perf_counter()
      metrics = {
        "loss": raw["loss"],
        "grad_norm": raw["grad_norm"],
        "lr": float(schedule(step - 1)),
        "tokens_per_s": tokens / (now - tick),
        **task.summarize(raw),
      }
      tick = now
      if task.eval_batches and task.eval_every and step % task.eval_every == 0:
        metrics.update(evaluate(params))
      if stop is not None and stop.due(step):
        stopped, checked = stop.check(step, mp.merge(params))
        metrics.update(checked, **({STOPPED: 1.0} if stopped else {}))
      history.append({"step": step, **metrics})
      if step % cfg.log_every == 0 or step == n_steps or stopped:
        logger.log(step, metrics)
      logger.advance()
      for callback in callbacks:
        callback(step, metrics)
      if step % cfg.checkpoint_every == 0 or step == n_steps or stopped:
        ckpt.save(step, params, opt_state, data_state=data_state, history=history)
      if stopped:
        last = step
        logging.info("%s: stopped early at step %d of %d (%s)", task.name, step, n_steps, stop.rule)
        break
    if task.eval_batches:
      final = evaluate(params)
      logger.log(last, final)
      if history:
        history[-1].update(final)
  finally:
    logger.close()
    ckpt.close()
  return mp.merge(params), last, history


def final_metrics(history: list[dict[str, float]]) -> dict[str, float]:
  return {k: v for k, v in history[-1].items() if k != "step"} if history else {}


def host_layout(cfg: TrainConfig, mesh: Mesh) -> inputs.Layout:
  layout = inputs.Layout(cfg.batch_size, cfg.grad_accum, jax.process_index(), jax.process_count())
  inputs.check_layout(layout, mesh)
  return layout


def train_stream(
  cfg: TrainConfig,
  make_batch: inputs.Batcher,
  lengths: np.ndarray,
  layout: inputs.Layout,
) -> tuple[grain.MapDataset, int]:
  """`inputs.train_stream` over examples of padded `lengths`, with the trainer config's epochs,
  seed, step cap and length grouping: the one place a trainer's settings become its stream."""
  return inputs.train_stream(
    len(lengths),
    make_batch,
    layout=layout,
    epochs=cfg.epochs,
    seed=cfg.seed,
    max_steps=cfg.max_steps,
    lengths=lengths,
    group_by_length=cfg.group_by_length,
  )


def marked_tokenizer(tokenizer: Any, name: str) -> Any:
  """The tokenizer with every step marker as a special token (added, as the official trainer
  does, where it lacks them); the model's vocabulary must then grow to it (`grow_vocab`)."""
  tokenizer, added = hf.with_step_markers(tokenizer)
  if added:
    logging.info("%s: step markers added to the tokenizer as special tokens %s", name, added)
  return tokenizer


def load_init(init: Any, mesh: Mesh) -> nnx.Module:
  """A model object as is, or an HF folder loaded onto the mesh."""
  if isinstance(init, (str, pathlib.Path)):
    return hf.load_model(str(init), mesh=mesh)
  return init


def export(
  model: nnx.Module, out_dir: pathlib.Path, tokenizer: Any, cfg: TrainConfig
) -> pathlib.Path | None:
  if not cfg.export_hf:
    return None
  path = out_dir / "hf"
  hf.save_model(model, str(path), tokenizer=tokenizer)
  return path


def stats_dict(stats: Any) -> dict[str, int]:
  return {k: int(v) for k, v in dataclasses.asdict(stats).items()}


def pad_id(tokenizer: Any) -> int:
  pid = getattr(tokenizer, "pad_token_id", None)
  if pid is None:
    pid = getattr(tokenizer, "eos_token_id", None)
  return int(pid) if pid is not None else 0
