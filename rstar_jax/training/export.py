"""Trained models → Hugging Face folders: from a (multi-host) run, or from any orbax checkpoint.

The trainers checkpoint flat parameter dicts; turning one back into a model needs the model's
structure, which any HF folder of the same architecture provides (`like`: e.g. the model the
training started from, or the trainer's own `hf/` export).
"""

import os
import pathlib
import shutil

import jax
import orbax.checkpoint as ocp

from rstar_jax import hf
from rstar_jax import models
from rstar_jax.runtime.sync import ProcessSync
from rstar_jax.training.params import ModelParams

KINDS = ("auto", "policy", "ppm")


def _template(like_dir: str | os.PathLike, kind: str):
  model = hf.load_model(like_dir)
  if kind == "ppm" and isinstance(model, models.Transformer):
    return models.ValueModel.from_policy(model)
  if kind == "policy" and isinstance(model, models.ValueModel):
    raise ValueError(f"{like_dir} holds a value model; a policy export needs a policy template")
  return model


def export_checkpoint(
  checkpoint_dir: str | os.PathLike,
  like_dir: str | os.PathLike,
  out_dir: str | os.PathLike,
  *,
  step: int | None = None,
  kind: str = "auto",
  tokenizer_dir: str | os.PathLike | None = None,
) -> pathlib.Path:
  """Writes step `step` (default: latest) of `checkpoint_dir` as an HF folder at `out_dir`.

  kind: 'policy', 'ppm' (a policy template gets the value head), or 'auto' (the template's).
  """
  if kind not in KINDS:
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
  checkpoint_dir = pathlib.Path(checkpoint_dir).absolute()
  if not checkpoint_dir.is_dir():
    raise FileNotFoundError(f"{checkpoint_dir}: no such checkpoint directory")
  model = _template(like_dir, kind)
  mp = ModelParams(model)
  live = mp.flat()
  manager = ocp.CheckpointManager(checkpoint_dir)
  try:
    step = step if step is not None else manager.latest_step()
    if step is None or step not in manager.all_steps():
      raise FileNotFoundError(
        f"{checkpoint_dir}: no checkpoint for step {step} (steps: {list(manager.all_steps())})"
      )
    meta = manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]
    saved = meta.get("fingerprint", {})
    ours = mp.fingerprint()
    if saved and saved != ours:
      diff = sorted(set(saved) ^ set(ours)) or sorted(k for k in ours if saved[k] != ours[k])
      raise ValueError(
        f"{checkpoint_dir}/{step} does not match the structure of {like_dir} "
        f"(kind={kind}); differing parameters: {diff[:6]}"
      )
    abstract = jax.tree.map(
      lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), live
    )
    params = manager.restore(
      step, args=ocp.args.Composite(params=ocp.args.StandardRestore(abstract))
    )["params"]
  finally:
    manager.close()
  out_dir = pathlib.Path(out_dir)
  hf.save_model(mp.merge(params), out_dir, tokenizer=hf.load_tokenizer(tokenizer_dir or like_dir))
  return out_dir


def save_from_all(model, path: pathlib.Path, tokenizer, sync: ProcessSync) -> pathlib.Path:
  """Writes `model` as an HF folder from a (possibly multi-host) run.

  Every process must take part in gathering the sharded parameters, but only the leader's
  folder is kept: the others write to a private scratch folder that is then removed.
  """
  target = path if sync.is_leader else path.with_name(f".{path.name}-scratch-p{sync.index}")
  hf.save_model(model, target, tokenizer=tokenizer)
  if not sync.is_leader:
    shutil.rmtree(target, ignore_errors=True)
  sync.barrier(f"{path}:saved")
  return path
