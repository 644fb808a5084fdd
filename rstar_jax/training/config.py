"""Frozen training configs for the SFT and PPM trainers.

`batch_size` is the global number of examples (SFT) or pairs (PPM) per optimizer step, summed over
hosts and over the `grad_accum` micro-batches, so changing the mesh or the accumulation never
changes the optimisation problem.
"""

import dataclasses
from typing import Literal

from rstar_jax.format import prompts

Schedule = Literal["cosine", "linear", "constant"]
Overlong = Literal["truncate", "drop"]
Objective = Literal["bt", "orm", "pqm"]
PairWeighting = Literal["official", "uniform"]


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """Settings shared by both trainers (optimizer, schedule, input, checkpoints, logging)."""

  lr: float = 7e-6
  epochs: float = 2.0
  max_steps: int | None = None  # Stops early (the schedule still spans `epochs`).
  batch_size: int = 128
  grad_accum: int = 1
  max_len: int = 2048
  overlong: Overlong = "truncate"
  warmup_steps: int = 0
  warmup_ratio: float = 0.0  # Used when `warmup_steps` is 0.
  schedule: Schedule = "cosine"
  end_lr_ratio: float = 0.0
  weight_decay: float = 0.0
  adam_b1: float = 0.9
  adam_b2: float = 0.95
  adam_eps: float = 1e-8
  clip_norm: float | None = 1.0
  seed: int = 0
  # Precision is the model's: ModelConfig(param_dtype='float32', compute_dtype='bfloat16') trains
  # fp32 master weights with bf16 matmuls. `remat` forces the model's per-layer remat on.
  remat: bool = False
  # Queries per block of the causal attention (`models.attention.attend_in_blocks`): the backward
  # pass holds one block's fp32 scores, not the whole sequence's; 0: all at once. At 256 tokens or
  # fewer the sequence attends whole: blocks of 128 there cost more time and memory than they save
  # (docs/benchmarks.md, "PPM training memory").
  query_block: int = 256
  cpu_dense_grads: bool = True  # On CPU, faster matmul backward passes (dense_grads.py).
  bucket_multiple: int = 64  # Padded length = smallest multiple of this >= the batch's longest.
  # > 1: each run of this many shuffled batches is dealt out again by length (HF Trainer's
  # `group_by_length`), so batches pad less; 0: plain shuffled batches, as the official trainer.
  group_by_length: int = 0
  checkpoint_every: int = 500
  keep_checkpoints: int = 3
  async_checkpointing: bool = True
  log_every: int = 1
  export_hf: bool = True
  progress_bar: bool = True

  def __post_init__(self):
    if self.batch_size <= 0 or self.grad_accum <= 0:
      raise ValueError(
        f"batch_size and grad_accum must be positive, got {self.batch_size}, {self.grad_accum}"
      )
    if self.batch_size % self.grad_accum:
      raise ValueError(
        f"batch_size={self.batch_size} is not divisible by grad_accum={self.grad_accum}"
      )
    if self.query_block < 0:
      raise ValueError(
        f"query_block must be >= 0 (0: attention all at once), got {self.query_block}"
      )
    if self.overlong not in ("truncate", "drop"):
      raise ValueError(f"overlong must be 'truncate' or 'drop', got {self.overlong!r}")
    if self.schedule not in ("cosine", "linear", "constant"):
      raise ValueError(f"schedule must be cosine|linear|constant, got {self.schedule!r}")
    if self.max_len < 2 or self.bucket_multiple <= 0:
      raise ValueError(f"bad max_len={self.max_len} / bucket_multiple={self.bucket_multiple}")
    if self.group_by_length < 0:
      raise ValueError(f"group_by_length must be >= 0, got {self.group_by_length}")

  @property
  def groups_by_length(self) -> bool:
    return self.group_by_length > 1

  @property
  def micro_batch_size(self) -> int:
    return self.batch_size // self.grad_accum


@dataclasses.dataclass(frozen=True)
class SFTConfig(TrainConfig):
  """Policy SFT: next-token cross-entropy on response tokens only."""

  append_eos: bool = True  # Teaches the policy to stop after the answer step.
  loss_chunk: int = 512  # Tokens per chunk of the fused logits + cross-entropy.


@dataclasses.dataclass(frozen=True)
class PPMConfig(TrainConfig):
  """PPM training: Bradley-Terry pairs ('bt'), outcome pairs ('orm') or Q regression ('pqm').

  'orm' scores complete solutions: each side followed by its `pos_completion` / `neg_completion`
  when the pair has them, keeping only pairs whose two sides then contain `terminal_marker`;
  'pqm' regresses the raw score of each side onto its `pos_q` / `neg_q`.
  `pair_weighting` 'official' weights each pair's loss by 1 / (pos_count · neg_count) of its node
  (1 / (pos_count + neg_count) when one is 0; 1 for pairs without counts), as `train/rm.py`
  does, so a node counts about once however many pairs it gave; 'uniform' weights all pairs 1.
  """

  objective: Objective = "bt"
  eval_fraction: float = 0.1  # Held-out pairs, split by problem id.
  eval_every: int = 0  # 0: evaluate only at the end.
  terminal_marker: str = prompts.END_OF_ANSWER
  pair_weighting: PairWeighting = "official"
  # Dropout on the head's input in training steps only (the official ValueHead's 0.1).
  head_dropout: float = 0.1

  def __post_init__(self):
    super().__post_init__()
    if self.objective not in ("bt", "orm", "pqm"):
      raise ValueError(f"objective must be bt|orm|pqm, got {self.objective!r}")
    if self.pair_weighting not in ("official", "uniform"):
      raise ValueError(f"pair_weighting must be official|uniform, got {self.pair_weighting!r}")
    if not 0.0 <= self.eval_fraction < 1.0:
      raise ValueError(f"eval_fraction must be in [0, 1), got {self.eval_fraction}")
    if not 0.0 <= self.head_dropout < 1.0:
      raise ValueError(f"head_dropout must be in [0, 1), got {self.head_dropout}")
