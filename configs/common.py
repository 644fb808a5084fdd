"""Fields shared by every self-evolution config; each config file overrides what differs.

Sections map one-to-one onto the library's frozen configs: `search` → `SearchConfig` (the
round plan sets mode / rollouts / extra_rollouts), `sft` → `SFTConfig`, `ppm` → `PPMConfig`,
`eval` → `EvalConfig`, `engine` → the inference engine's config.
"""
import ml_collections


def base_config(name: str) -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.name = name
  c.run_dir = f"runs/{name}"
  c.seed = 0
  # Device mesh 'data:D,fsdp:F,tensor:T' (omitted axes are 1; fsdp takes the devices left).
  c.mesh = ""
  c.model_dtype = "float32"  # Parameter dtype of models loaded for search and evaluation.
  # Training precision: master weights in `param_dtype`, matmuls in `compute_dtype`.
  c.train_param_dtype = "float32"
  c.train_compute_dtype = "bfloat16"

  c.problems = ml_collections.ConfigDict()
  c.problems.train = ""  # JSONL of Problem records; '' = the built-in world's train split.
  c.problems.heldout = ""  # JSONL or a ../shared/data/benchmarks file; '' = world held-out.
  c.problems.max_train = 0  # 0: all.
  c.problems.max_heldout = 0

  c.bootstrap = ml_collections.ConfigDict()
  c.bootstrap.policy = ""  # HF folder of the round-1 policy; '' = the world's pretrained one.
  c.bootstrap.tokenizer = ""  # '' = the policy folder's tokenizer.

  c.rounds = ml_collections.ConfigDict()
  c.rounds.num_rounds = 4
  c.rounds.bootstrap_rollouts = 8
  c.rounds.rollouts = 16
  c.rounds.ppm_from_round = 3
  c.rounds.extra_rollouts = (64, 128)  # Last round only, for problems still unsolved.
  c.rounds.baseline_rounds = (4,)  # Rounds that also train the ORM / PQM baselines.
  # SFT of round k starts from 'base' (the bootstrap policy, as the paper) or 'previous'.
  c.rounds.sft_init = "base"

  c.search = ml_collections.ConfigDict()
  c.search.num_candidates = 8
  c.search.max_depth = 16
  c.search.step_max_tokens = 2048
  c.search.temperature = 0.7
  c.search.c_puct = 2.0
  c.search.max_code_errors = 1
  c.search.batch_size = 16

  c.engine = ml_collections.ConfigDict()  # Passed to the inference engine's config as is.

  c.sft = ml_collections.ConfigDict()
  c.sft.lr = 7e-6
  c.sft.epochs = 2.0
  c.sft.batch_size = 128
  c.sft.grad_accum = 1
  c.sft.max_len = 2048
  c.sft.checkpoint_every = 200
  c.sft.warmup_ratio = 0.03

  c.ppm = ml_collections.ConfigDict()
  c.ppm.lr = 7e-6
  c.ppm.epochs = 2.0
  c.ppm.batch_size = 512
  c.ppm.grad_accum = 1
  c.ppm.max_len = 2048
  c.ppm.checkpoint_every = 200
  c.ppm.warmup_ratio = 0.03
  c.ppm.eval_fraction = 0.05

  c.eval = ml_collections.ConfigDict()
  c.eval.greedy = True
  c.eval.samples = 8
  c.eval.temperature = 0.7
  c.eval.num_candidates = 8
  c.eval.mcts_runs = 4
  c.eval.mcts_rollouts = 16
  c.eval.top_k_runs = 4
  c.eval.max_depth = 16
  c.eval.step_max_tokens = 2048
  c.eval.batch_size = 16
  c.eval.seed = 1234

  c.sandbox_workers = 0  # 0: one per CPU core.
  c.viewer_problems = 3  # Tree pages written per round.
  c.progress = True
  return c
