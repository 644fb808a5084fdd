"""Slow: a full-size Qwen2.5-Math-1.5B (random weights saved by transformers) loads and matches.

The checkpoint is saved in bf16 (as the released one is) to fit the shared CI machine. We load it
with bf16 and then fp32 parameters (fp32 compute) in fresh subprocesses whose peak RSS (VmHWM; `ru_maxrss` would
inherit the parent's peak across fork) measures the load alone. transformers' reference loads the
same bf16 weights upcast to fp32 (reloaded, so its RoPE buffers are fp32 as ours are).
"""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytestmark = pytest.mark.slow

_LOAD_AND_RUN = textwrap.dedent("""
    import json, sys, time
    import numpy as np, jax, jax.numpy as jnp
    from flax import nnx
    from rstar_jax.hf import load_model
    def status_mb(field):
      for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
          return int(line.split()[1]) // 1024
    rss_before_mb = status_mb("VmRSS")
    start = time.perf_counter()
    model = load_model(sys.argv[1], dtype=sys.argv[4], compute_dtype="float32")
    jax.block_until_ready(model.final_norm.scale[...])
    load_s = time.perf_counter() - start
    peak_rss_mb = status_mb("VmHWM")
    param_mb = sum(x.nbytes for x in jax.tree.leaves(nnx.state(model))) / 2**20
    np.save(sys.argv[3], np.asarray(model(jnp.asarray(np.load(sys.argv[2])))))
    print(json.dumps({"param_dtype": model.config.param_dtype, "param_mb": round(param_mb),
                      "rss_before_load_mb": rss_before_mb, "peak_rss_during_load_mb": peak_rss_mb,
                      "load_s": round(load_s, 1)}))
""")


def test_qwen25_math_1_5b_random_weights(tmp_path):
  import torch
  import transformers

  from rstar_jax.models import presets

  config = presets.qwen25_math_1_5b()
  hf_config = transformers.Qwen2Config(
    **{k: v for k, v in config.to_hf_dict().items() if k not in ("architectures", "model_type")}
  )
  torch.manual_seed(0)
  torch.set_default_dtype(torch.bfloat16)
  try:
    transformers.Qwen2ForCausalLM(hf_config).save_pretrained(tmp_path / "ckpt")
  finally:
    torch.set_default_dtype(torch.float32)
  tokens = np.random.RandomState(0).randint(0, config.vocab_size, (1, 16))
  model = transformers.Qwen2ForCausalLM.from_pretrained(
    tmp_path / "ckpt", dtype=torch.float32
  ).eval()
  with torch.no_grad():
    ref = model(torch.tensor(tokens)).logits.numpy()
  del model
  np.save(tmp_path / "tokens.npy", tokens)
  for dtype in ("bfloat16", "float32"):
    out = subprocess.run(
      [
        sys.executable,
        "-c",
        _LOAD_AND_RUN,
        str(tmp_path / "ckpt"),
        str(tmp_path / "tokens.npy"),
        str(tmp_path / "logits.npy"),
        dtype,
      ],
      check=False,
      capture_output=True,
      text=True,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    stats = json.loads(out.stdout.strip().splitlines()[-1])
    logits = np.load(tmp_path / "logits.npy")
    diff, scale = np.abs(logits - ref).max(), np.abs(ref).max()
    print(f"full-size load: {stats}, max |diff| {diff:.2e}, max |logit| {scale:.2e}")
    assert stats["param_dtype"] == dtype
    assert diff <= 1e-4, f"{dtype}: max |logit diff| {diff} (logit scale {scale})"
    assert (logits.argmax(-1) == ref.argmax(-1)).all()
