"""Fields shared by every self-evolution config; each config file overrides what differs.

`launch/` turns the whole config into the typed `rstar_jax.evolution.config.RunConfig` before
anything runs (a bad field is an error naming it). Sections map one-to-one onto the library's
frozen configs: `problems` → `ProblemsConfig`, `bootstrap` → `BootstrapSource`, `world` →
`WorldConfig` (`teacher` → `TeacherConfig`, `bootstrap` → `BootstrapConfig`), `rounds` →
`RoundsConfig`, `search` → `SearchConfig` (the round plan sets mode / rollouts /
extra_rollouts / seed), `extract` → `ExtractConfig`, `engine` → `EngineConfig`, `scorer` →
`ScorerConfig`, `sft` → `SFTConfig`, `ppm` → `PPMConfig`, `eval` → `EvalConfig`. Every section
starts from the library defaults, so every field can be overridden on the command line.

The values are the paper's recipe (rStar-Math, Guan et al. 2025) and, where the paper is silent,
the official code's (github.com/microsoft/rStar, branch rStar-math: config/*.yaml, the train_SFT
and train_RM launches in README.md, train/rm.py); where the two disagree the paper wins, as noted.
"""

from collections.abc import Iterable
import dataclasses
import types
import typing

import ml_collections
from ml_collections import config_dict

from rstar_jax.evaluation.config import EvalConfig
from rstar_jax.evolution.config import PIPELINE_SET
from rstar_jax.evolution.plan import RoundsConfig
from rstar_jax.format import prompts
from rstar_jax.inference import EngineConfig
from rstar_jax.inference import ScorerConfig
from rstar_jax.search.config import SearchConfig
from rstar_jax.search.extract import ExtractConfig
from rstar_jax.training.config import PPMConfig
from rstar_jax.training.config import SFTConfig
from rstar_jax.world import BootstrapConfig
from rstar_jax.world import TeacherConfig


def library_defaults(cls: type, skip: Iterable[str] = ()) -> ml_collections.ConfigDict:
  """A section holding every field of the library dataclass `cls` at its default, so that each
  can be overridden on the command line (`None` defaults become typed placeholders)."""
  section = ml_collections.ConfigDict()
  hints = typing.get_type_hints(cls)
  for field in dataclasses.fields(cls):
    if field.name in skip:
      continue
    value = getattr(cls(), field.name)
    if value is None:
      value = config_dict.placeholder(_non_none(hints[field.name]))
    section[field.name] = value
  return section


def _non_none(hint: typing.Any) -> type:
  if typing.get_origin(hint) in (types.UnionType, typing.Union):
    return next(a for a in typing.get_args(hint) if a is not type(None))
  return hint


def base_config(name: str) -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.name = name
  c.run_dir = f"runs/{name}"
  c.seed = 0
  c.domain = (
    "math"  # The problem domain (rstar_jax/domains): math, or code (configs/code_world.py).
  )
  # Device mesh 'data:D,fsdp:F,tensor:T' (omitted axes are 1; fsdp takes the devices left).
  c.mesh = ""
  c.train_devices = 0  # Training mesh over the first N devices (0: all; multi-host: all).
  # Search and evaluation mesh over this host's first `engine_devices` devices (0: all).
  c.engine_mesh = ""
  c.engine_devices = 0
  c.model_dtype = "float32"  # Parameter dtype of models loaded for search and evaluation.
  # Training precision: master weights in `param_dtype`, matmuls in `compute_dtype`.
  c.train_param_dtype = "float32"
  c.train_compute_dtype = "bfloat16"

  c.problems = ml_collections.ConfigDict()
  c.problems.train = ""  # JSONL of Problem records; '' = the built-in world's train split.
  c.problems.heldout = ""  # JSONL or a ../shared/data/benchmarks file; '' = world held-out.
  c.problems.max_train = 0  # 0: all.
  c.problems.max_heldout = 0
  # Evaluation sets the training problems are checked against before round 1 (contamination.md
  # in the run directory; a missing folder skips the report); word n-grams, 13 as GPT-3.
  c.problems.benchmarks_dir = "../shared/data/benchmarks"
  c.problems.contamination_ngram = 13
  c.problems.contamination_drop = 0.0  # 0: report only; t: drop training problems overlapping ≥ t.

  c.bootstrap = ml_collections.ConfigDict()
  # HF folder of the base policy every SFT starts from; '' = the world's pretrained one.
  c.bootstrap.policy = ""
  c.bootstrap.tokenizer = ""  # '' = the policy folder's tokenizer.
  # Round 1's sampler when it is another model (the paper: DeepSeek-Coder-V2-Instruct, README.md
  # "Bootstrapping round"), with its own tokenizer; '' = the base policy.
  c.bootstrap.search_policy = ""

  # The built-in world, built when no problems and bootstrap policy are configured.
  c.world = ml_collections.ConfigDict()
  c.world.seed = 0
  c.world.num_train = 64
  c.world.num_heldout = 48
  c.world.process_problems = 0  # Labelled solutions per process set (development, held-out).
  c.world.teacher_max_level = 0  # The teacher's problems go up to this level (0: every level),
  c.world.teacher_hard_share = 0.0  # but for this share of them, from the levels above.
  c.world.teacher = library_defaults(TeacherConfig)  # Error rates.
  c.world.bootstrap = library_defaults(BootstrapConfig)  # Model size and pre-training budget.

  c.rounds = library_defaults(RoundsConfig)
  c.rounds.num_rounds = 4
  # Paper §3.3: 8 rollouts in round 1 and 16 afterwards (the official sample_mcts.yaml and
  # sft_sample_mcts.yaml say `iterations: 48`; the maintainers confirm 8 for round 1 in
  # microsoft/rStar#26). Round 4's still-unsolved problems get new trees of 64, then 128 rollouts.
  c.rounds.bootstrap_rollouts = 8
  c.rounds.rollouts = 16
  c.rounds.ppm_from_round = 3
  c.rounds.extra_rollouts = (64, 128)  # Last round only, for problems still unsolved.
  c.rounds.baseline_rounds = (4,)  # Rounds that also train the ORM / PQM baselines.
  # 0: every round searches the whole training set, as the paper (one pool of 747k problems);
  # N: round k searches its own block of N of them (positions (k-1)N to kN-1).
  c.rounds.problems_per_round = 0
  # SFT of round k starts from 'base' (the bootstrap policy, as the paper) or 'previous'.
  c.rounds.sft_init = "base"
  # Round 1 searches (with `bootstrap.search_policy`, else the base policy) as
  # config/sample_mcts.yaml does: temperature 0.7 (line 6) and 2 consecutive code errors allowed
  # (line 7); rounds 2-4 use `search` below.
  c.rounds.bootstrap_temperature = 0.7
  c.rounds.bootstrap_max_code_errors = 2
  # Its 2-shot prompt (few_shot_path, prompt_path: mcts_prompt.json, num_few_shot: 2; lines 3,
  # 4, 20) and its stops, `<end_of_output>` included (line 11).
  c.rounds.bootstrap_prompt = "official_fewshot"
  c.rounds.bootstrap_stops = prompts.BOOTSTRAP_STOPS

  # The round plan sets mode, rollouts, extra_rollouts and seed. Sampling as the official search
  # of rounds 2-4 (config/sft_sample_mcts.yaml); round 1's differences are in `rounds` above.
  c.search = library_defaults(SearchConfig, skip=PIPELINE_SET["search"])
  c.search.num_candidates = 12  # n_generate_sample: 12 (both sampling configs, line 13).
  # max_depth: 16 (line 12) lets non-terminal steps reach depth 16; ours cuts a non-terminal
  # step AT max_depth, so the same tree depth is 17.
  c.search.max_depth = 17
  c.search.step_max_tokens = 2048  # max_tokens (line 17).
  c.search.temperature = 1.0  # sft_sample_mcts.yaml:6.
  c.search.c_puct = 2.0  # c_puct (sft_sample_mcts.yaml:23).
  c.search.max_code_errors = 1  # errors_threshold (sft_sample_mcts.yaml:7).
  c.search.extra_mode = "fresh"  # Paper §3.3, round 4: "additional MCTS with new random seeds".
  c.search.batch_size = 16

  # Which trajectories and step pairs become training data (official rules by default).
  c.extract = library_defaults(ExtractConfig, skip=PIPELINE_SET["extract"])

  c.engine = library_defaults(EngineConfig)  # Shape buckets and limits of the policy engine.
  c.scorer = library_defaults(ScorerConfig)  # Shape buckets and score squashing of the PPM.
  # Radix prefix caches: 8192 pages of 16 tokens each (131k tokens; 3.7 GiB for Qwen2.5-Math-1.5B
  # in bf16, 7.5 GiB for 7B, per model). 0 turns a cache off.
  c.engine.cache_pages = c.scorer.cache_pages = 8192

  # The pipeline sets each trainer's seed, progress bar and HF export. Optimisers as the official
  # launches (README.md: train_SFT lines 215-235, train_RM lines 246-266) with transformers'
  # defaults where they set nothing: AdamW betas (0.9, 0.999), eps 1e-8, gradient clip 1.0.
  c.sft = library_defaults(SFTConfig, skip=PIPELINE_SET["sft"])
  c.sft.lr = 7e-6  # README.md:229.
  c.sft.epochs = 2.0  # README.md:221.
  c.sft.batch_size = 128  # 8 GPUs x 4 per device (README.md:222) x 4 accumulated (:224).
  c.sft.grad_accum = 1
  c.sft.max_len = 2048  # model_max_length (train/train_SFT.py:70).
  c.sft.checkpoint_every = 200
  c.sft.schedule = "linear"  # README.md:232, decaying to 0.
  c.sft.warmup_ratio = 0.0  # README.md:231.
  c.sft.weight_decay = 0.1  # README.md:230.
  c.sft.adam_b2 = 0.999

  c.ppm = library_defaults(PPMConfig, skip=PIPELINE_SET["ppm"])
  c.ppm.lr = 7e-6  # README.md:255.
  c.ppm.epochs = 2.0  # README.md:252.
  c.ppm.batch_size = 512  # 8 processes x 16 per device (README.md:250) x 4 accumulated (:253).
  c.ppm.grad_accum = 1
  c.ppm.max_len = 2048  # README.md:264.
  c.ppm.checkpoint_every = 200
  c.ppm.schedule = "linear"  # transformers' default schedule, decaying to 0.
  c.ppm.warmup_ratio = 0.0
  c.ppm.weight_decay = 0.0
  c.ppm.adam_b2 = 0.999
  c.ppm.eval_fraction = 0.05  # train_test_split(test_size=0.05) (train/train_RM.py:89).
  c.ppm.head_dropout = 0.1  # summary_dropout_prob (train/rm.py:71).

  # MCTS+PPM as the paper's headline numbers: 64 independent runs ("64 trajectories"), each as
  # config/sft_eval_mcts.yaml, the answer a majority over the top 4 runs (run_example.sh:38).
  c.eval = library_defaults(EvalConfig, skip=PIPELINE_SET["eval"])
  c.eval.greedy = True
  c.eval.greedy_mode = "official"  # Greedy pass@1 as config/sft_eval_greedy.yaml decodes it.
  c.eval.samples = 8
  c.eval.temperature = 1.0  # sft_eval_mcts.yaml:6.
  c.eval.num_candidates = 32  # n_generate_sample (sft_eval_mcts.yaml:13).
  c.eval.mcts_runs = 64
  c.eval.mcts_rollouts = 12  # iterations (sft_eval_mcts.yaml:16).
  c.eval.top_k_runs = 4
  c.eval.max_depth = 17  # sft_eval_mcts.yaml:12's 16, counted as `search.max_depth` above.
  c.eval.step_max_tokens = 2048  # sft_eval_mcts.yaml:17.
  c.eval.batch_size = 16
  c.eval.seed = 1234

  c.sandbox_workers = 0  # 0: one per CPU core.
  c.sandbox_timeout_s = 30.0  # TIMEOUT_SECONDS (rstar_deepthink/tools/python_tool.py:15).
  c.viewer_problems = 3  # Tree pages written per round.
  c.progress = True
  return c
