"""The built-in world on CPU: the default of `python -m launch.self_evolve`.

A tiny Qwen2-architecture policy pre-trained on an imperfect teacher's solutions to generated
arithmetic word problems evolves over 4 rounds on 2 CPU cores (budgets scaled down from the
paper so the whole loop fits in about half an hour).

  --config=configs/world.py          the default run
  --config=configs/world.py:smoke    every stage and trainer on a handful of problems (CI test)
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
  c.rounds.bootstrap_prompt = "plain"  # The world's policy was pre-trained on the plain prompt.
  c.rounds.bootstrap_stops = ()
  c.sandbox_timeout_s = 10.0  # The world's programs are a few lines of arithmetic.
  # The world's model: 4096 pages of 16 tokens are 128 MiB per model, a whole round's trees.
  c.engine.cache_pages = c.scorer.cache_pages = 4096

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
    # Every stage of the loop, each trainer on real records, in a few minutes: two rounds (the
    # bootstrap round, then a PPM-augmented one with the extra rollouts and the ORM / PQM
    # baselines) on 8 problems. The bootstrap policy memorises the teacher's right and wrong
    # solutions of the training problems in a minute of pre-training (`rehearse_train`), so the
    # trees hold both kinds of answers; its held-out numbers mean nothing.
    c.name = "world_smoke"
    c.run_dir = "runs/world_smoke"
    c.world.num_train = 8
    c.world.num_heldout = 4
    c.world.bootstrap.num_teacher_problems = 8
    c.world.bootstrap.rehearse_train = 8
    c.world.bootstrap.hidden_size = 64
    c.world.bootstrap.intermediate_size = 128
    c.world.bootstrap.num_layers = 2
    c.world.bootstrap.batch_size = 8
    c.world.bootstrap.max_len = 384
    c.world.bootstrap.lr = 1e-2
    c.world.bootstrap.epochs = 100.0
    c.world.bootstrap.max_steps = 200
    c.world.bootstrap.eval_problems = 0
    c.rounds.num_rounds = 2
    c.rounds.ppm_from_round = 2
    c.rounds.baseline_rounds = (2,)
    c.rounds.bootstrap_rollouts = 8
    c.rounds.rollouts = 6
    c.rounds.extra_rollouts = (4,)
    c.search.num_candidates = 3
    c.search.step_max_tokens = 48  # The teacher's longest step is 42 tokens.
    # The paper's final-answer pairs as well: the memorised steps are too alike for the official
    # step pairs alone (edit distance, Q margin) to feed the PPM every round.
    c.extract.answer_pairs = True
    c.sft.batch_size = c.ppm.batch_size = 4
    c.sft.checkpoint_every = c.ppm.checkpoint_every = 1  # A kill inside training resumes.
    c.sft.epochs = 1.0
    c.ppm.epochs = 2.0
    c.ppm.eval_fraction = 0.25
    c.eval.samples = 2
    c.eval.num_candidates = 2
    c.eval.mcts_rollouts = 2
    c.eval.step_max_tokens = 48
    c.viewer_problems = 2
    c.sandbox_workers = 2
  elif arg:
    raise ValueError(f"configs/world.py variants: '' or 'smoke', got {arg!r}")
  return c
