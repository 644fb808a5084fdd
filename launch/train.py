"""Shared body of the SFT / PPM training launchers."""

import dataclasses
import pathlib

from absl import flags
from ml_collections import ConfigDict

from launch import common
from rstar_jax import hf
from rstar_jax.runtime import mesh as mesh_lib
from rstar_jax.training import ppm
from rstar_jax.training import sft

DATA = flags.DEFINE_string("data", None, "Dataset directory (shards + manifest.json).")
INIT = flags.DEFINE_string("init", None, "HF folder of the model to start from.")
TOKENIZER = flags.DEFINE_string("tokenizer", None, "Tokenizer folder; default: --init.")
OUT = flags.DEFINE_string("out", None, "Output directory (checkpoints/, metrics, hf/).")


def train(kind: str, config: ConfigDict, **fixed) -> None:
  """Trains on the global mesh (every process of a multi-host run takes part)."""
  for flag in (DATA, INIT, OUT):
    if not flag.value:
      raise flags.ValidationError(f"--{flag.name} is required")
  config = common.typed_config(config)
  sync = common.init_processes()
  fn, section = (sft.train_sft, config.sft) if kind == "sft" else (ppm.train_ppm, config.ppm)
  cfg = dataclasses.replace(section, progress_bar=config.progress, **fixed)
  mesh = mesh_lib.global_mesh(config.mesh, config.train_devices, num_processes=sync.count)
  init = hf.load_model(
    hf.require_model_dir(INIT.value, "initial model"),
    dtype=config.train_param_dtype,
    compute_dtype=config.train_compute_dtype,
    mesh=mesh,
  )
  result = fn(
    cfg,
    data_dir=pathlib.Path(DATA.value),
    init=init,
    tokenizer=hf.load_tokenizer(TOKENIZER.value or INIT.value),
    out_dir=pathlib.Path(OUT.value),
    mesh=mesh,
  )
  if sync.is_leader:
    print(f"{kind}: {result.step} steps; final {result.final_metrics}; hf: {result.hf_dir}")
