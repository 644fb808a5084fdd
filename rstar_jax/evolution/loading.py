"""Loads the policy engine and reward-model scorers from HF folders, on a given mesh."""
from collections.abc import Mapping
import os
import pathlib
from typing import Any

import jax
from jax.sharding import Mesh

from rstar_jax.runtime import mesh as mesh_lib


def local_mesh(flag: str = "", num_devices: int = 0) -> Mesh:
  """A mesh over this host's devices (search and evaluation never span hosts)."""
  devices = jax.local_devices()
  return mesh_lib.make_mesh(flag, devices=devices[:num_devices or len(devices)])


def _require_model_dir(path: str | os.PathLike, what: str) -> pathlib.Path:
  path = pathlib.Path(path)
  if not (path / "config.json").is_file():
    raise FileNotFoundError(f"{what} {path}: not an HF model folder (no config.json)")
  return path


def load_for_training(path: str | os.PathLike, config, mesh: Mesh):
  """The model a trainer starts from, in the config's training precision, on `mesh`."""
  from rstar_jax import hf  # pylint: disable=g-import-not-at-top
  return hf.load_model(_require_model_dir(path, "initial model"), dtype=config.train_param_dtype,
                       compute_dtype=config.train_compute_dtype, mesh=mesh)


def save_from_all(model, path: pathlib.Path, tok, sync) -> pathlib.Path:
  """Writes `model` as an HF folder from a (possibly multi-host) run.

  Every process must take part in gathering the sharded parameters, but only the leader's
  folder is kept: the others write to a private scratch folder that is then removed.
  """
  import shutil  # pylint: disable=g-import-not-at-top

  from rstar_jax import hf  # pylint: disable=g-import-not-at-top
  target = path if sync.is_leader else path.with_name(f".{path.name}-scratch-p{sync.index}")
  hf.save_model(model, target, tokenizer=tok)
  if not sync.is_leader:
    shutil.rmtree(target, ignore_errors=True)
  sync.barrier(f"{path}:saved")
  return path


def tokenizer(path: str | os.PathLike):
  from rstar_jax import hf  # pylint: disable=g-import-not-at-top
  return hf.load_tokenizer(path)


def engine_config(section: Mapping[str, Any] | None):
  from rstar_jax import inference  # pylint: disable=g-import-not-at-top
  from rstar_jax.evolution import settings  # pylint: disable=g-import-not-at-top
  return settings.to_dataclass(inference.EngineConfig, section, "engine")


def load_engine(policy_dir: str | os.PathLike, *, tokenizer_dir: str | os.PathLike | None = None,
                engine: Mapping[str, Any] | None = None, dtype: str | None = None,
                mesh: Mesh | None = None):
  """An `inference.Engine` for the policy in `policy_dir` (tokenizer from the same folder)."""
  from rstar_jax import hf  # pylint: disable=g-import-not-at-top
  from rstar_jax import inference  # pylint: disable=g-import-not-at-top
  path = _require_model_dir(policy_dir, "policy")
  policy = hf.load_model(path, dtype=dtype, mesh=mesh)
  return inference.Engine(policy, tokenizer(tokenizer_dir or path), engine_config(engine),
                          mesh=mesh)


def load_scorer(model_dir: str | os.PathLike, *, tokenizer_dir: str | os.PathLike | None = None,
                engine: Mapping[str, Any] | None = None, dtype: str | None = None,
                mesh: Mesh | None = None):
  """An `inference.Scorer` for the reward model (PPM, ORM or PQM) in `model_dir`."""
  from rstar_jax import hf  # pylint: disable=g-import-not-at-top
  from rstar_jax import inference  # pylint: disable=g-import-not-at-top
  path = _require_model_dir(model_dir, "reward model")
  model = hf.load_model(path, dtype=dtype, mesh=mesh)
  return inference.Scorer(model, tokenizer(tokenizer_dir or path), engine_config(engine),
                          mesh=mesh)


PROBLEM_FIELDS = frozenset({"id", "question", "answer"})


def load_problem_file(path: str | os.PathLike, limit: int = 0) -> list:
  """Problems from a JSONL file: `Problem` records (id, question, answer) as they are, anything
  else through the benchmark loaders (../shared/data/benchmarks formats); `limit` 0 keeps all."""
  import json  # pylint: disable=g-import-not-at-top

  from rstar_jax.data import benchmarks  # pylint: disable=g-import-not-at-top
  from rstar_jax.data import problems  # pylint: disable=g-import-not-at-top
  path = pathlib.Path(path)
  if not path.is_file():
    raise FileNotFoundError(f"problem file {path} does not exist")
  with open(path, encoding="utf-8") as f:
    first = next((line for line in f if line.strip()), None)
  if first is None:
    raise ValueError(f"{path}: no problems (empty file)")
  try:
    keys = set(json.loads(first))
  except (json.JSONDecodeError, TypeError) as e:
    raise ValueError(f"{path} line 1: not a JSON object ({e})") from e
  loaded = (problems.load_problems(path) if PROBLEM_FIELDS <= keys
            else benchmarks.load_benchmark(path))
  return list(loaded[:limit] if limit else loaded)


def evaluate_models(config, problems: list, policy: pathlib.Path,
                    reward_models: Mapping[str, pathlib.Path], out: pathlib.Path) -> dict:
  """Runs the config's `eval` methods for a policy and reward-model folders; writes the report."""
  from rstar_jax.evaluation import harness as evaluation  # pylint: disable=g-import-not-at-top
  from rstar_jax.evolution import settings  # pylint: disable=g-import-not-at-top
  mesh = local_mesh(config.get("engine_mesh", ""), config.get("engine_devices", 0))
  kwargs = dict(engine=config.engine, dtype=config.model_dtype, mesh=mesh)
  engine = load_engine(policy, **kwargs)
  scorers = {name: load_scorer(path, tokenizer_dir=policy, **kwargs)
             for name, path in reward_models.items()}
  cfg = settings.to_dataclass(evaluation.EvalConfig, config.eval, "eval")
  from rstar_jax.sandbox import SandboxPool  # pylint: disable=g-import-not-at-top
  with SandboxPool(num_workers=config.sandbox_workers or None) as pool:
    return evaluation.evaluate_policy(problems, engine, pool, scorers, cfg, out_dir=out,
                                      progress=config.progress)
