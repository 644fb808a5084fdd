"""AdamW with warmup then cosine/linear/constant decay, global-norm clipping and decay masking."""

import jax
import optax

from rstar_jax.training.config import TrainConfig


def warmup_steps(cfg: TrainConfig, total_steps: int) -> int:
  return cfg.warmup_steps or round(cfg.warmup_ratio * total_steps)


def make_schedule(cfg: TrainConfig, total_steps: int) -> optax.Schedule:
  """Linear warmup from 0 to `lr`, then decay to `end_lr_ratio * lr` at `total_steps`."""
  warm = min(warmup_steps(cfg, total_steps), max(total_steps - 1, 0))
  decay = max(total_steps - warm, 1)
  end = cfg.lr * cfg.end_lr_ratio
  if cfg.schedule == "cosine":
    tail = optax.cosine_decay_schedule(cfg.lr, decay, alpha=cfg.end_lr_ratio)
  elif cfg.schedule == "linear":
    tail = optax.linear_schedule(cfg.lr, end, decay)
  else:
    tail = optax.constant_schedule(cfg.lr)
  if warm == 0:
    return tail
  return optax.join_schedules([optax.linear_schedule(0.0, cfg.lr, warm), tail], [warm])


def _decay_mask(params):
  """Weight decay on matrices only: norms' scales and biases are not shrunk (official recipe)."""
  return jax.tree.map(lambda p: p.ndim >= 2, params)


def make_optimizer(cfg: TrainConfig, total_steps: int) -> optax.GradientTransformation:
  adamw = optax.adamw(
    make_schedule(cfg, total_steps),
    b1=cfg.adam_b1,
    b2=cfg.adam_b2,
    eps=cfg.adam_eps,
    weight_decay=cfg.weight_decay,
    mask=_decay_mask,
  )
  if cfg.clip_norm is None:
    return adamw
  return optax.chain(optax.clip_by_global_norm(cfg.clip_norm), adamw)
