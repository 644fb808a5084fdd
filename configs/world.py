"""The built-in world on CPU: the default of `python -m launch.self_evolve`.

A tiny Qwen2-architecture policy pre-trained on an imperfect teacher's solutions to generated
arithmetic word problems evolves over 4 rounds on 2 CPU cores (budgets scaled down from the
paper so the whole loop fits in about half an hour).

  --config=configs/world.py          the default run
  --config=configs/world.py:smoke    every stage on a handful of problems (CI end-to-end test)
"""

import ml_collections

from configs import common


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  c = common.base_config("world")
  c.engine_devices = 1  # Search and evaluation on one CPU device (no sharding overhead).
  c.train_devices = 1
  c.train_compute_dtype = "float32"

  c.world.num_train = 160
  c.world.num_heldout = 40

  c.rounds.bootstrap_rollouts = 4
  c.rounds.rollouts = 8
  c.rounds.extra_rollouts = (16,)  # A fresh tree of twice the budget for round 4's unsolved.
  c.rounds.sft_init = "previous"  # The tiny policy gains more from continued training.
  c.rounds.bootstrap_temperature = None  # Round 1 samples like the other rounds.
  c.rounds.bootstrap_max_code_errors = None
  c.sandbox_timeout_s = 10.0  # The world's programs are a few lines of arithmetic.

  c.search.num_candidates = 4
  c.search.temperature = 0.7  # The tiny policy was tuned with these, not the paper's settings.
  c.search.max_depth = 10
  c.search.step_max_tokens = 96
  c.search.batch_size = 64

  for section in (c.sft, c.ppm):
    # The optimiser the tiny models were tuned with (the paper's is in common.py).
    section.schedule = "cosine"
    section.weight_decay = 0.0
    section.adam_b2 = 0.95
    section.lr = 5e-4
    section.max_len = 512
    section.checkpoint_every = 20
    section.warmup_ratio = 0.1
  c.sft.batch_size = 16
  c.sft.epochs = 3.0
  c.sft.lr = 1e-4  # Gentle: a round's few hundred verified steps must not undo the bootstrap.
  c.ppm.batch_size = 32
  c.ppm.epochs = 2.0
  c.ppm.eval_fraction = 0.15

  c.eval.temperature = 0.7
  c.eval.greedy_mode = "stepwise"  # The tiny policy writes one step at a time.
  c.eval.num_candidates = 4
  c.eval.mcts_runs = 1
  c.eval.mcts_rollouts = 8
  c.eval.max_depth = 10
  c.eval.step_max_tokens = 96
  c.eval.batch_size = 40

  if arg == "smoke":
    c.name = "world_smoke"
    c.run_dir = "runs/world_smoke"
    c.world.num_train = 6
    c.world.num_heldout = 4
    c.world.bootstrap.num_teacher_problems = 64
    c.world.bootstrap.hidden_size = 64
    c.world.bootstrap.intermediate_size = 128
    c.world.bootstrap.num_layers = 2
    c.world.bootstrap.max_steps = 8
    c.world.bootstrap.eval_problems = 0
    c.rounds.num_rounds = 4
    c.rounds.bootstrap_rollouts = 2
    c.rounds.rollouts = 2
    c.rounds.extra_rollouts = (2,)
    c.search.num_candidates = 2
    c.search.max_depth = 6
    c.search.step_max_tokens = 48
    c.sft.batch_size = c.ppm.batch_size = 4
    c.sft.epochs = c.ppm.epochs = 1.0
    c.ppm.eval_fraction = 0.3
    c.eval.samples = 2
    c.eval.num_candidates = 2
    c.eval.mcts_rollouts = 2
    c.eval.max_depth = 6
    c.eval.step_max_tokens = 48
    c.viewer_problems = 2
    c.sandbox_workers = 2
  elif arg:
    raise ValueError(f"configs/world.py variants: '' or 'smoke', got {arg!r}")
  return c
