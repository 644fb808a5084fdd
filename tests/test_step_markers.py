"""A base model's tokenizer without the step markers: markers added, vocabulary grown, exported."""

import json

from flax import nnx
import jax
import jax.numpy as jnp
from jax.sharding import PartitionSpec as P
import numpy as np
import pytest
from test_input_pipeline import sft_rows
from test_train_helpers import tiny_policy
from test_train_helpers import tiny_tokenizer
from test_train_helpers import write
from tiny_hf import make_tiny_hf_model
import tokenizers
import torch
import transformers

from rstar_jax import hf
from rstar_jax.format import prompts
from rstar_jax.models import ModelConfig
from rstar_jax.models import Transformer
from rstar_jax.models import ValueModel
from rstar_jax.models import param_shardings
from rstar_jax.models.vocab import grow_vocab
from rstar_jax.runtime.mesh import make_mesh
from rstar_jax.runtime.mesh import single_device_mesh
from rstar_jax.training.config import SFTConfig
from rstar_jax.training.sft import train_sft

TEXT = prompts.policy_prompt("What is 3 plus 5?") + (
  "<code>\nx = 3 + 5\n<end_of_step>print(x)<end_of_code><output>8<end_of_output>"
  "<answer>\\boxed{8}<end_of_answer>"
)  # Every marker.


def bare_tokenizer() -> transformers.PreTrainedTokenizerFast:
  """A byte-level BPE whose one special token is Qwen2.5's pad and eos, as a base model's."""
  tok = tokenizers.Tokenizer(tokenizers.models.BPE())
  tok.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
  tok.decoder = tokenizers.decoders.ByteLevel()
  trainer = tokenizers.trainers.BpeTrainer(
    vocab_size=300,
    special_tokens=["<|endoftext|>"],
    initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet(),
  )
  tok.train_from_iterator([TEXT] * 10, trainer)
  return transformers.PreTrainedTokenizerFast(
    tokenizer_object=tok, pad_token="<|endoftext|>", eos_token="<|endoftext|>"
  )


def test_missing_markers_become_single_special_tokens():
  bare = bare_tokenizer()
  tok, added = hf.with_step_markers(bare)
  assert added == tuple(range(len(bare), len(bare) + len(prompts.STEP_MARKERS)))
  assert len(tok) == len(bare) + len(prompts.STEP_MARKERS)
  for marker, token_id in zip(prompts.STEP_MARKERS, added):
    assert tok.encode(marker) == [token_id]
    assert token_id in tok.all_special_ids
  ids = tok.encode(TEXT)
  assert all(i in ids for i in tok.convert_tokens_to_ids(["<|user|>", "<code>", "<end_of_step>"]))
  assert tok.decode(ids) == TEXT
  assert len(bare.encode("<code>")) > 1, "the caller's tokenizer must be left as it was"


def test_markers_already_present_change_nothing():
  for tok in (tiny_tokenizer(), hf.with_step_markers(bare_tokenizer())[0]):
    assert hf.with_step_markers(tok) == (tok, ())
  model = Transformer(ModelConfig(vocab_size=320), rngs=nnx.Rngs(0))
  # Markers that land in a padded vocabulary (Qwen's) need no resize.
  assert grow_vocab(model, 320) is model and grow_vocab(model, 300) is model


def _logits(model, tokens):
  return np.asarray(model(jnp.asarray(tokens)))


def _vocab_rows(model) -> dict[tuple, np.ndarray]:
  """Every parameter with a vocabulary axis, as (vocab, hidden) rows."""
  return {
    path: np.moveaxis(np.asarray(v[...]), v.get_metadata()["logical_axes"].index("vocab"), 0)
    for path, v in nnx.to_flat_state(nnx.state(model, nnx.Param))
    if "vocab" in v.get_metadata()["logical_axes"]
  }


@pytest.mark.parametrize("tie", [False, True])
def test_grown_model_keeps_old_logits_and_round_trips(tmp_path, tie):
  bare = bare_tokenizer()
  make_tiny_hf_model(tmp_path / "base", vocab_size=len(bare), tie_embeddings=tie)
  model = hf.load_model(tmp_path / "base")
  tok, added = hf.with_step_markers(bare)
  old = np.asarray(bare.encode(TEXT))[None]
  before = _logits(model, old)

  grown = grow_vocab(model, len(tok), rngs=nnx.Rngs(3))
  assert grown.config.vocab_size == len(tok) and grown.config.tie_embeddings == tie
  # The old tokens' paths are bit-identical; the LM head's matmul over a wider vocabulary may
  # round differently (XLA picks its blocking by shape), hence logits to float32 rounding only.
  np.testing.assert_array_equal(grown.hidden_states(old), model.hidden_states(old))
  np.testing.assert_allclose(_logits(grown, old)[..., : len(bare)], before, atol=2e-6, rtol=0)
  rows, grown_rows = _vocab_rows(model), _vocab_rows(grown)
  assert rows.keys() == grown_rows.keys() and len(rows) == (1 if tie else 2)
  for path, new in grown_rows.items():
    np.testing.assert_array_equal(new[: len(bare)], rows[path])
    added_rows = new[len(bare) :]  # transformers 4.45.2's resize: normal(0, initializer_range).
    assert added_rows.shape == (len(added), model.config.hidden_size)
    assert abs(added_rows.mean()) < 0.004 and 0.018 < added_rows.std() < 0.022, path

  hf.save_model(grown, tmp_path / "grown", tokenizer=tok)
  assert json.loads((tmp_path / "grown" / "config.json").read_text())["vocab_size"] == len(tok)
  # Read as the files say: AutoTokenizer would swap in Qwen2's pre-tokenizer (config.json).
  saved_tok = transformers.PreTrainedTokenizerFast.from_pretrained(tmp_path / "grown")
  tokens = np.asarray(saved_tok.encode(TEXT))[None]
  assert set(added) < set(tokens[0].tolist()) and tokens.tolist() == [tok.encode(TEXT)]
  assert [saved_tok.encode(m) for m in prompts.STEP_MARKERS] == [[i] for i in added]
  ours = _logits(grown, tokens)
  torch_model = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "grown").eval()
  with torch.no_grad():
    theirs = torch_model(torch.tensor(tokens)).logits.numpy()
  np.testing.assert_allclose(theirs, ours, atol=1e-4, rtol=1e-4)
  np.testing.assert_array_equal(_logits(hf.load_model(tmp_path / "grown"), tokens), ours)


@pytest.mark.parametrize("cls", [Transformer, ValueModel])
def test_sharded_grow_keeps_shardings(cls):
  mesh = make_mesh("data:1,fsdp:4,tensor:2")
  config = ModelConfig(vocab_size=320, hidden_size=64, head_dim=16)
  with jax.set_mesh(mesh):
    model = cls(config, rngs=nnx.Rngs(0))
    grown = grow_vocab(model, 336)
  before = nnx.to_flat_state(nnx.state(model, nnx.Param))
  after = dict(nnx.to_flat_state(nnx.state(grown, nnx.Param)))
  expected = dict(nnx.to_flat_state(param_shardings(grown, mesh)))
  assert after.keys() == dict(before).keys()
  rows = _vocab_rows(model)
  for path, new_rows in _vocab_rows(grown).items():
    assert new_rows.shape[0] == 336
    np.testing.assert_array_equal(new_rows[:320], rows[path])
  for path, old in before:
    new = after[path][...]
    assert new.sharding.is_equivalent_to(old[...].sharding, new.ndim), path
    assert new.sharding.is_equivalent_to(expected[path], new.ndim), path
    if path not in rows:
      assert new is old[...], path  # Shared, not copied: a 7B model is not held twice.
  assert grown.embed.embedding[...].sharding.spec == P("tensor", "fsdp")


def test_sft_from_a_base_tokenizer_adds_markers_and_exports(tmp_path):
  bare = bare_tokenizer()
  mesh = single_device_mesh()
  result = train_sft(
    SFTConfig(batch_size=2, max_len=256, max_steps=1, progress_bar=False),
    data_dir=write(tmp_path / "data", sft_rows(2), "sft"),
    init=tiny_policy(len(bare), mesh),
    tokenizer=bare,
    out_dir=tmp_path / "out",
    mesh=mesh,
  )
  size = len(bare) + len(prompts.STEP_MARKERS)
  assert result.model.config.vocab_size == size
  assert json.loads((result.hf_dir / "config.json").read_text())["vocab_size"] == size
  saved = hf.load_tokenizer(result.hf_dir)
  assert len(saved) == size
  assert [saved.encode(m) for m in prompts.STEP_MARKERS] == [[i] for i in range(len(bare), size)]
