"""Shared body of the SFT / PPM training launchers."""
import pathlib

from absl import flags

from launch import common
from rstar_jax.evolution import loading
from rstar_jax.evolution import settings
from rstar_jax.runtime import mesh as mesh_lib
from rstar_jax.training.config import PPMConfig
from rstar_jax.training.config import SFTConfig

DATA = flags.DEFINE_string("data", None, "Dataset directory (shards + manifest.json).")
INIT = flags.DEFINE_string("init", None, "HF folder of the model to start from.")
TOKENIZER = flags.DEFINE_string("tokenizer", None, "Tokenizer folder; default: --init.")
OUT = flags.DEFINE_string("out", None, "Output directory (checkpoints/, metrics, hf/).")


def train(kind: str, config, **fixed) -> None:
  """Trains on the global mesh (every process of a multi-host run takes part)."""
  from rstar_jax.training import ppm  # pylint: disable=g-import-not-at-top
  from rstar_jax.training import sft  # pylint: disable=g-import-not-at-top
  for flag in (DATA, INIT, OUT):
    if not flag.value:
      raise flags.ValidationError(f"--{flag.name} is required")
  sync = common.init_processes()
  cls, fn, section = ((SFTConfig, sft.train_sft, config.sft) if kind == "sft" else
                      (PPMConfig, ppm.train_ppm, config.ppm))
  cfg = settings.to_dataclass(cls, section, kind, progress_bar=config.progress, **fixed)
  mesh = mesh_lib.make_mesh(config.mesh)
  result = fn(cfg, data_dir=pathlib.Path(DATA.value),
              init=loading.load_for_training(INIT.value, config, mesh),
              tokenizer=loading.tokenizer(TOKENIZER.value or INIT.value),
              out_dir=pathlib.Path(OUT.value), mesh=mesh)
  if sync.is_leader:
    print(f"{kind}: {result.step} steps; final {result.final_metrics}; hf: {result.hf_dir}")
