"""Export: an orbax checkpoint of a trained policy or PPM becomes an HF folder transformers loads."""

from flax import nnx
import jax
import numpy as np
import pytest
from test_input_pipeline import pair_rows
from test_input_pipeline import sft_rows
from test_train_helpers import tiny_policy
from test_train_helpers import tiny_tokenizer
from test_train_helpers import write
import torch
import transformers

from rstar_jax import hf
from rstar_jax.runtime import mesh as mesh_lib
from rstar_jax.training import export
from rstar_jax.training.config import PPMConfig
from rstar_jax.training.config import SFTConfig
from rstar_jax.training.ppm import train_ppm
from rstar_jax.training.sft import train_sft

COMMON = dict(
  lr=3e-3,
  epochs=1,
  batch_size=4,
  max_len=128,
  warmup_steps=0,
  export_hf=False,
  progress_bar=False,
  checkpoint_every=1,
  async_checkpointing=False,
)


def _params(model) -> list[np.ndarray]:
  return [np.asarray(x) for x in jax.tree.leaves(nnx.state(model, nnx.Param))]


@pytest.fixture(scope="module")
def template(tmp_path_factory):
  """The untrained tiny policy as an HF folder: the structure the checkpoints are read into."""
  tok = tiny_tokenizer()
  path = tmp_path_factory.mktemp("template")
  hf.save_model(tiny_policy(len(tok), mesh_lib.single_device_mesh()), path, tokenizer=tok)
  return path


def test_policy_checkpoint_exports_to_a_folder_transformers_loads(tmp_path, template):
  tok = tiny_tokenizer()
  data = write(tmp_path / "sft", sft_rows(8), "sft")
  result = train_sft(
    SFTConfig(**COMMON), data_dir=data, init=str(template), tokenizer=tok, out_dir=tmp_path / "run"
  )
  out = export.export_checkpoint(result.checkpoint_dir, template, tmp_path / "exported")
  for ours, trained in zip(_params(hf.load_model(out)), _params(result.model)):
    np.testing.assert_array_equal(ours, trained)
  model = transformers.AutoModelForCausalLM.from_pretrained(out).eval()
  ids = transformers.AutoTokenizer.from_pretrained(out)(
    "x = 1\nprint(x)", return_tensors="pt"
  ).input_ids
  with torch.no_grad():
    assert torch.isfinite(model(ids).logits).all()
  # An earlier step is a different model.
  first = export.export_checkpoint(result.checkpoint_dir, template, tmp_path / "step1", step=1)
  assert any(
    not np.array_equal(a, b) for a, b in zip(_params(hf.load_model(first)), _params(result.model))
  )


@pytest.mark.slow
def test_ppm_checkpoint_exports_with_its_value_head(tmp_path, template):
  tok = tiny_tokenizer()
  data = write(tmp_path / "pairs", pair_rows(12), "ppm_pairs")
  result = train_ppm(
    PPMConfig(**COMMON, eval_fraction=0.0),
    data_dir=data,
    init=str(template),
    tokenizer=tok,
    out_dir=tmp_path / "run",
  )
  out = export.export_checkpoint(result.checkpoint_dir, template, tmp_path / "ppm", kind="ppm")
  model = transformers.AutoModelForTokenClassification.from_pretrained(out).eval()
  assert model.config.num_labels == 1
  for ours, trained in zip(_params(hf.load_model(out)), _params(result.model)):
    np.testing.assert_array_equal(ours, trained)
  with pytest.raises(ValueError, match="does not match"):
    export.export_checkpoint(result.checkpoint_dir, template, tmp_path / "bad", kind="policy")
  with pytest.raises(FileNotFoundError, match="step 99"):
    export.export_checkpoint(result.checkpoint_dir, template, tmp_path / "bad", step=99, kind="ppm")
