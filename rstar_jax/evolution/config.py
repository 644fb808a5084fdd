"""The typed, frozen configuration of a self-evolution run.

`launch/` builds it once from an ml_collections config (configs/*.py), naming any bad field;
the library below never sees a ConfigDict. Sections are the library's own configs: the round
plan sets `search.mode`, `search.rollouts`, `search.extra_rollouts` and `search.seed` per round,
and the pipeline sets the trainers' `seed`, `progress_bar` and `export_hf`.
"""

import dataclasses

from rstar_jax import hf
from rstar_jax import inference
from rstar_jax.data import contamination
from rstar_jax.evaluation.config import EvalConfig
from rstar_jax.evolution.plan import RoundsConfig
from rstar_jax.inference import EngineConfig
from rstar_jax.inference import ScorerConfig
from rstar_jax.models.config import DTYPES
from rstar_jax.runtime import mesh as mesh_lib
from rstar_jax.sandbox import Limits
from rstar_jax.sandbox import SandboxPool
from rstar_jax.search.config import SearchConfig
from rstar_jax.search.extract import ExtractConfig
from rstar_jax.training.config import PPMConfig
from rstar_jax.training.config import SFTConfig
from rstar_jax.world.config import WorldConfig

_TRAINER_SET = {
  "seed": "seed (round k trains with seed + k)",
  "progress_bar": "progress",
  "export_hf": "nothing: the pipeline exports every trained model",
}
# Fields of a section that the run sets itself, each with the field a user sets instead.
PIPELINE_SET: dict[str, dict[str, str]] = {
  "search": {
    "mode": "rounds.ppm_from_round",
    "rollouts": "rounds.rollouts / rounds.bootstrap_rollouts",
    "extra_rollouts": "rounds.extra_rollouts",
    "seed": "seed",
    "domain": "domain",
  },
  "extract": {"domain": "domain"},
  "eval": {"domain": "domain"},
  "world": {"domain": "domain"},
  "sft": _TRAINER_SET,
  "ppm": _TRAINER_SET,
}


@dataclasses.dataclass(frozen=True)
class ProblemsConfig:
  """JSONL problem files ('' = the built-in world's split); `max_*` 0 keeps all.

  benchmarks_dir: evaluation sets (`*.jsonl`, as ../shared/data/benchmarks) the training problems
    are checked against before round 1 (`data.contamination`); '' or a missing folder: no report.
  contamination_ngram: the n of the word n-gram overlap (13, as GPT-3's decontamination).
  contamination_drop: 0 reports only; t > 0 also leaves out of every round's search the training
    problems containing at least a fraction t of some evaluation problem's n-grams.
  """

  train: str = ""
  heldout: str = ""
  max_train: int = 0
  max_heldout: int = 0
  benchmarks_dir: str = ""
  contamination_ngram: int = contamination.NGRAM
  contamination_drop: float = 0.0

  def __post_init__(self):
    if self.contamination_ngram < 1:
      raise ValueError(f"contamination_ngram must be >= 1, got {self.contamination_ngram}")
    if not 0 <= self.contamination_drop <= 1:
      raise ValueError(f"contamination_drop must be in [0, 1], got {self.contamination_drop}")
    if self.contamination_drop and not self.benchmarks_dir:
      raise ValueError("contamination_drop needs benchmarks_dir (the sets to decontaminate for)")


@dataclasses.dataclass(frozen=True)
class BootstrapSource:
  """The models a run starts from, as HF folders.

  policy: the base policy ('' = the world's pretrained one): every round's SFT starts from it
    (`rounds.sft_init='base'`) and round 1 searches with it unless `search_policy` is set.
  tokenizer: the base policy's tokenizer ('' = the policy folder's); the trainers add the step
    markers to it.
  search_policy: round 1's sampler when another model than the base searches (the paper:
    DeepSeek-Coder-V2-Instruct; here a causal LM of a supported family), loaded with its own
    folder's tokenizer ('' = the base policy).
  """

  policy: str = ""
  tokenizer: str = ""
  search_policy: str = ""


@dataclasses.dataclass(frozen=True)
class RunConfig:
  """One run: where it writes, its devices and precisions, and every stage's settings.

  mesh: the training mesh, 'data:D,fsdp:F,tensor:T' over `train_devices` devices (0: all).
  engine_mesh: the search / evaluation mesh over this host's first `engine_devices` (0: all).
  model_dtype: parameter dtype of models loaded for search and evaluation.
  train_param_dtype / train_compute_dtype: master weights and matmul precision in training.
  domain: the problem domain (`domains.get`) of every section: the run sets `search.domain`,
    `extract.domain`, `eval.domain` and `world.domain` to it.
  """

  name: str = "run"
  run_dir: str = "runs/run"
  domain: str = "math"
  seed: int = 0
  mesh: str = ""
  train_devices: int = 0
  engine_mesh: str = ""
  engine_devices: int = 0
  model_dtype: str = "float32"
  train_param_dtype: str = "float32"
  train_compute_dtype: str = "bfloat16"
  problems: ProblemsConfig = ProblemsConfig()
  bootstrap: BootstrapSource = BootstrapSource()
  world: WorldConfig = WorldConfig()
  rounds: RoundsConfig = RoundsConfig()
  search: SearchConfig = SearchConfig()
  extract: ExtractConfig = ExtractConfig()
  engine: EngineConfig = EngineConfig()
  scorer: ScorerConfig = ScorerConfig()
  sft: SFTConfig = SFTConfig()
  ppm: PPMConfig = PPMConfig()
  eval: EvalConfig = EvalConfig()
  sandbox_workers: int = 0  # 0: one per CPU core.
  sandbox_timeout_s: float = Limits().timeout_s  # Wall-clock limit of one step's program.
  viewer_problems: int = 3  # Tree pages written per round.
  progress: bool = True

  def __post_init__(self):
    if not self.run_dir:
      raise ValueError("run_dir must not be empty")
    if self.domain != "math" and self.rounds.bootstrap_prompt != "plain":
      raise ValueError(
        f"rounds.bootstrap_prompt={self.rounds.bootstrap_prompt!r} shows math worked examples; "
        f"domain {self.domain!r} needs 'plain'"
      )
    for section in ("search", "extract", "eval", "world"):
      value = dataclasses.replace(getattr(self, section), domain=self.domain)
      object.__setattr__(self, section, value)  # One domain for the whole run (PIPELINE_SET).
    for name in ("model_dtype", "train_param_dtype", "train_compute_dtype"):
      if getattr(self, name) not in DTYPES:
        raise ValueError(f"{name}={getattr(self, name)!r}; expected one of {sorted(DTYPES)}")
    for name in ("mesh", "engine_mesh"):
      mesh_lib.parse_mesh_shape(getattr(self, name))
    if self.sandbox_timeout_s <= 0:
      raise ValueError(f"sandbox_timeout_s must be positive, got {self.sandbox_timeout_s}")
    for name in ("train_devices", "engine_devices", "sandbox_workers", "viewer_problems"):
      if getattr(self, name) < 0:
        raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
    own = {
      "bootstrap.policy": self.bootstrap.policy,
      "problems.train": self.problems.train,
      "problems.heldout": self.problems.heldout,
    }
    missing = [name for name, value in own.items() if not value]
    if len(missing) < len(own) and missing:
      raise ValueError(
        f"{', '.join(missing)} not set: a run on your own problems and policy needs all of "
        f"{', '.join(own)} (leave all three empty for the built-in world)"
      )

  def sandbox_pool(self) -> SandboxPool:
    """A sandbox pool with the run's workers and time-out (a context manager)."""
    return SandboxPool(
      num_workers=self.sandbox_workers or None, limits=Limits(timeout_s=self.sandbox_timeout_s)
    )

  def local_mesh(self):
    """The mesh search and evaluation run on: this host's first `engine_devices`."""
    return mesh_lib.local_mesh(self.engine_mesh, self.engine_devices)

  def load_policy(self, path, mesh=None, tokenizer_dir=None) -> inference.Engine:
    """The policy in HF folder `path` on `mesh`, with the run's engine settings and dtype
    (tokenizer from `path` unless `tokenizer_dir`)."""
    return inference.load_engine(
      path, self.engine, tokenizer_dir=tokenizer_dir, dtype=self.model_dtype, mesh=mesh
    )

  def load_reward_model(self, path, mesh, tokenizer_fallback) -> inference.Scorer:
    """The reward model (PPM, ORM or PQM) in HF folder `path` on `mesh`, as the run scores;
    its own export's tokenizer, else `tokenizer_fallback`'s (the policy's vocabulary)."""
    return inference.load_scorer(
      path,
      self.scorer,
      tokenizer_dir=hf.tokenizer_dir(path, tokenizer_fallback),
      dtype=self.model_dtype,
      mesh=mesh,
    )

  @property
  def builtin_world(self) -> bool:
    """True when the run builds and uses the built-in world (no problems or policy given)."""
    return not self.bootstrap.policy
