"""Slow: a full-size Qwen2.5-Math-1.5B (random weights saved by transformers) loads and matches."""
import json
import os
import resource
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytestmark = pytest.mark.slow

_LOAD_AND_RUN = textwrap.dedent("""
    import json, resource, sys
    import numpy as np, jax.numpy as jnp
    from rstar_jax.hf import load_model
    model = load_model(sys.argv[1], dtype="float32")
    rss_after_load_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tokens = np.load(sys.argv[2])
    np.save(sys.argv[3], np.asarray(model(jnp.asarray(tokens))))
    print(json.dumps({"peak_rss_after_load_mb": rss_after_load_mb}))
""")


def test_qwen25_math_1_5b_random_weights(tmp_path):
  torch = pytest.importorskip("torch")
  transformers = pytest.importorskip("transformers")
  from rstar_jax.models import presets
  config = presets.qwen25_math_1_5b()
  hf_config = transformers.Qwen2Config(**{k: v for k, v in config.to_hf_dict().items()
                                          if k not in ("architectures", "model_type")})
  torch.manual_seed(0)
  model = transformers.Qwen2ForCausalLM(hf_config).to(torch.bfloat16).eval()
  model.save_pretrained(tmp_path / "ckpt")
  tokens = np.random.RandomState(0).randint(0, config.vocab_size, (1, 16))
  with torch.no_grad():
    ref = model.float()(torch.tensor(tokens)).logits.numpy()
  del model
  np.save(tmp_path / "tokens.npy", tokens)
  out = subprocess.run([sys.executable, "-c", _LOAD_AND_RUN, str(tmp_path / "ckpt"), str(tmp_path / "tokens.npy"),
                        str(tmp_path / "logits.npy")], capture_output=True, text=True, check=True)
  stats = json.loads(out.stdout.strip().splitlines()[-1])
  logits = np.load(tmp_path / "logits.npy")
  diff, scale = np.abs(logits - ref).max(), np.abs(ref).max()
  print(f"full-size load: {stats}, max |diff| {diff:.2e}, max |logit| {scale:.2e}")
  # fp32 rounding differences (summation order) grow through 28 random-init layers: a 4-layer model
  # of the same width matches to ~1e-5 (see test_model_parity for 1e-4 parity on tiny models).
  assert diff <= 5e-3 * scale
  assert (logits.argmax(-1) == ref.argmax(-1)).mean() >= 0.9
