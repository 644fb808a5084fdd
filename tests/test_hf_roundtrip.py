"""HF -> rstar_jax -> save_model -> transformers round trips (policy and PPM), and load errors."""

import json
import os

from flax import nnx
import jax.numpy as jnp
import numpy as np
import pytest
from tiny_hf import make_tiny_hf_model
import torch
import transformers

from rstar_jax.hf import CheckpointError
from rstar_jax.hf import load_model
from rstar_jax.hf import save_model
from rstar_jax.hf import tokenizer_dir
from rstar_jax.models import ModelConfig
from rstar_jax.models import Transformer
from rstar_jax.models import ValueModel

TOKENS = np.random.RandomState(0).randint(0, 320, (2, 24))


def _torch_logits(model):
  with torch.no_grad():
    return model(torch.tensor(TOKENS)).logits.numpy()


@pytest.mark.parametrize(
  "family, kwargs",
  [
    ("qwen2", {}),
    (
      "phi3",
      dict(
        max_position_embeddings=512,
        original_max_position_embeddings=64,
        rope_scaling={
          "type": "longrope",
          "short_factor": [1.0 + 0.1 * i for i in range(8)],
          "long_factor": [2.0 + 0.3 * i for i in range(8)],
        },
      ),
    ),
    (
      "llama",
      dict(
        tie_embeddings=True,
        rope_scaling={
          "rope_type": "llama3",
          "factor": 8.0,
          "low_freq_factor": 1.0,
          "high_freq_factor": 4.0,
          "original_max_position_embeddings": 16,
        },
      ),
    ),
  ],
)
def test_policy_round_trip_sharded_files(tmp_path, family, kwargs):
  original = make_tiny_hf_model(tmp_path / "hf", family, **kwargs)
  model = load_model(tmp_path / "hf")
  save_model(model, tmp_path / "out", max_shard_bytes=60_000)
  assert os.path.exists(tmp_path / "out" / "model.safetensors.index.json")
  assert len([f for f in os.listdir(tmp_path / "out") if f.endswith(".safetensors")]) > 1
  reloaded = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "out").float().eval()
  np.testing.assert_allclose(_torch_logits(reloaded), _torch_logits(original), atol=1e-5, rtol=0)
  again = load_model(tmp_path / "out")
  np.testing.assert_allclose(
    np.asarray(again(jnp.asarray(TOKENS))), np.asarray(model(jnp.asarray(TOKENS))), atol=1e-6
  )


def test_ppm_exports_as_token_classification(tmp_path):
  make_tiny_hf_model(tmp_path / "hf", "qwen2")
  ppm = ValueModel.from_policy(load_model(tmp_path / "hf"), rngs=nnx.Rngs(3))
  ppm.score_bias[...] = jnp.asarray([0.25])
  save_model(ppm, tmp_path / "ppm")
  hf_ppm = (
    transformers.AutoModelForTokenClassification.from_pretrained(tmp_path / "ppm").float().eval()
  )
  assert hf_ppm.config.num_labels == 1
  ours = np.asarray(ppm(jnp.asarray(TOKENS)))
  np.testing.assert_allclose(_torch_logits(hf_ppm)[..., 0], ours, atol=1e-5, rtol=0)
  reloaded = load_model(tmp_path / "ppm")
  assert isinstance(reloaded, ValueModel)
  np.testing.assert_allclose(np.asarray(reloaded(jnp.asarray(TOKENS))), ours, atol=1e-6)


def test_ppm_from_policy_copies_backbone_and_drops_lm_head(tmp_path):
  make_tiny_hf_model(tmp_path, "qwen2")
  policy = load_model(tmp_path)
  ppm = ValueModel.from_policy(policy)
  assert not hasattr(ppm, "lm_head")
  np.testing.assert_array_equal(
    np.asarray(ppm.hidden_states(jnp.asarray(TOKENS))),
    np.asarray(policy.hidden_states(jnp.asarray(TOKENS))),
  )
  assert np.abs(np.asarray(ppm.score_kernel[...])).max() < 0.01  # small init


def test_tokenizer_files_are_written(tmp_path):
  tokenizers = pytest.importorskip("tokenizers")
  tok = tokenizers.Tokenizer(
    tokenizers.models.WordLevel({"[UNK]": 0, "a": 1, "b": 2}, unk_token="[UNK]")
  )
  tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
  fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]")
  model = Transformer(
    ModelConfig(
      vocab_size=8, hidden_size=16, intermediate_size=32, num_heads=2, num_kv_heads=1, head_dim=8
    ),
    rngs=nnx.Rngs(0),
  )
  save_model(model, tmp_path / "with", tokenizer=fast)
  assert transformers.AutoTokenizer.from_pretrained(tmp_path / "with")("a b")["input_ids"] == [1, 2]
  # A model's own export's tokenizer is preferred; one saved without falls back.
  save_model(model, tmp_path / "without")
  assert tokenizer_dir(tmp_path / "with", tmp_path / "other") == tmp_path / "with"
  assert tokenizer_dir(tmp_path / "without", tmp_path / "with") == tmp_path / "with"


# ---- errors name the file and the tensor ----


def _corrupt(tmp_path, edit):
  make_tiny_hf_model(tmp_path, "qwen2")
  edit(tmp_path)
  return tmp_path


def test_unknown_architecture(tmp_path):
  def edit(p):
    cfg = json.loads((p / "config.json").read_text())
    cfg["model_type"] = "mamba"
    (p / "config.json").write_text(json.dumps(cfg))

  with pytest.raises(ValueError, match=r"config\.json.*unknown model_type 'mamba'"):
    load_model(_corrupt(tmp_path, edit))


def test_unknown_head_architecture(tmp_path):
  def edit(p):
    cfg = json.loads((p / "config.json").read_text())
    cfg["architectures"] = ["Qwen2ForSequenceClassification"]
    (p / "config.json").write_text(json.dumps(cfg))

  with pytest.raises(
    CheckpointError, match=r"config\.json: architecture 'Qwen2ForSequenceClassification' is not"
  ):
    load_model(_corrupt(tmp_path, edit))


def _rewrite(p, transform):
  from rstar_jax.hf.safetensors_io import SafetensorsFile
  from rstar_jax.hf.safetensors_io import TensorToWrite
  from rstar_jax.hf.safetensors_io import write_safetensors

  f = SafetensorsFile(str(p / "model.safetensors"))
  tensors = {n: np.array(f.get(n)) for n in f.names}
  del f
  transform(tensors)
  write_safetensors(
    str(p / "model.safetensors"),
    [TensorToWrite(n, a.shape, a.dtype, lambda a=a: a) for n, a in tensors.items()],
  )


def test_missing_tensor(tmp_path):
  path = _corrupt(
    tmp_path, lambda p: _rewrite(p, lambda t: t.pop("model.layers.1.mlp.up_proj.weight"))
  )
  with pytest.raises(
    CheckpointError, match=r"missing tensors \['model\.layers\.1\.mlp\.up_proj\.weight'\]"
  ):
    load_model(path)


def test_wrong_shape(tmp_path):
  def shrink(t):
    t["model.layers.0.self_attn.k_proj.weight"] = t["model.layers.0.self_attn.k_proj.weight"][:-1]

  path = _corrupt(tmp_path, lambda p: _rewrite(p, shrink))
  with pytest.raises(
    CheckpointError,
    match=r"model\.safetensors: tensor 'model\.layers\.0\.self_attn\.k_proj\.weight' "
    r"has shape \(31, 64\), the config expects \(32, 64\)",
  ):
    load_model(path)


def test_unexpected_tensor(tmp_path):
  path = _corrupt(
    tmp_path, lambda p: _rewrite(p, lambda t: t.update(extra=np.zeros(3, np.float32)))
  )
  with pytest.raises(CheckpointError, match=r"unexpected tensors \['extra'\]"):
    load_model(path)


def test_truncated_file(tmp_path):
  def truncate(p):
    f = p / "model.safetensors"
    f.write_bytes(f.read_bytes()[:-1000])

  with pytest.raises(
    CheckpointError,
    match=r"model\.safetensors: tensor '.*' ends at byte \d+ but the file has "
    r"\d+ bytes \(truncated file\?\)",
  ):
    load_model(_corrupt(tmp_path, truncate))


def test_unsupported_dtype(tmp_path):
  def to_int(t):
    t["model.norm.weight"] = t["model.norm.weight"].astype(np.int8)

  from rstar_jax.hf import safetensors_io

  safetensors_io._NAMES[np.dtype(np.int8)] = "I8"
  try:
    path = _corrupt(tmp_path, lambda p: _rewrite(p, to_int))
  finally:
    del safetensors_io._NAMES[np.dtype(np.int8)]
  with pytest.raises(CheckpointError, match=r"tensor 'model\.norm\.weight' has dtype I8"):
    load_model(path)
