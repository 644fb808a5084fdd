"""Greedy decoding with parameters sharded on 8 fake CPU devices equals unsharded decoding."""

import numpy as np
import pytest
from tiny_hf import make_tiny_hf_model
from tiny_tokenizer import tiny_tokenizer

from rstar_jax.hf import load_model
from rstar_jax.inference import Engine
from rstar_jax.inference import SamplingParams
from rstar_jax.inference import Scorer
from rstar_jax.models import ValueModel
from rstar_jax.runtime.mesh import make_mesh

PROMPTS = [
  "<|user|>:\nTom has 3 apples.",
  "step end answer output code " * 5,
  "<code>\n# Step 1",
  "total = 3 + 5",
]


@pytest.mark.parametrize("flag", ["fsdp:4,tensor:2", "data:2,tensor:2,fsdp:2"])
def test_sharded_greedy_equals_unsharded(tmp_path, flag):
  make_tiny_hf_model(tmp_path, "qwen2", vocab_size=320, eos_token_id=1, pad_token_id=0)
  tok = tiny_tokenizer()
  greedy = SamplingParams(temperature=0.0, max_new_tokens=12)
  reference = Engine(load_model(tmp_path), tok).expand(PROMPTS, 2, greedy)
  mesh = make_mesh(flag)
  sharded_model = load_model(tmp_path, mesh=mesh)
  assert len(sharded_model.layers[0].mlp.gate[...].sharding.device_set) > 1
  sharded = Engine(sharded_model, tok, mesh=mesh).expand(PROMPTS, 2, greedy)
  assert [[c.token_ids for c in row] for row in sharded] == [
    [c.token_ids for c in row] for row in reference
  ]
  ppm = ValueModel.from_policy(sharded_model)
  np.testing.assert_allclose(
    Scorer(ppm, tok, mesh=mesh).score(PROMPTS),
    Scorer(ValueModel.from_policy(load_model(tmp_path)), tok).score(PROMPTS),
    atol=1e-5,
  )
