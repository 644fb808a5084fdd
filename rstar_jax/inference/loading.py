"""An `Engine` or `Scorer` straight from an HF folder, on a given mesh."""

import os

from jax.sharding import Mesh

from rstar_jax import hf
from rstar_jax.inference.config import EngineConfig
from rstar_jax.inference.config import ScorerConfig
from rstar_jax.inference.engine import Engine
from rstar_jax.inference.scorer import Scorer


def load_engine(
  policy_dir: str | os.PathLike,
  config: EngineConfig = EngineConfig(),
  *,
  tokenizer_dir: str | os.PathLike | None = None,
  dtype: str | None = None,
  mesh: Mesh | None = None,
) -> Engine:
  """The policy in `policy_dir` (tokenizer from the same folder unless `tokenizer_dir`)."""
  path = hf.require_model_dir(policy_dir, "policy")
  policy = hf.load_model(path, dtype=dtype, mesh=mesh)
  return Engine(policy, hf.load_tokenizer(tokenizer_dir or path), config, mesh=mesh)


def load_scorer(
  model_dir: str | os.PathLike,
  config: ScorerConfig = ScorerConfig(),
  *,
  tokenizer_dir: str | os.PathLike | None = None,
  dtype: str | None = None,
  mesh: Mesh | None = None,
) -> Scorer:
  """The reward model (PPM, ORM or PQM) in `model_dir`."""
  path = hf.require_model_dir(model_dir, "reward model")
  model = hf.load_model(path, dtype=dtype, mesh=mesh)
  return Scorer(model, hf.load_tokenizer(tokenizer_dir or path), config, mesh=mesh)
