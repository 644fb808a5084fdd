"""SFT train-step throughput: rstar_jax's jitted step vs a plain torch loop on the same model.

Same tiny Qwen2 config, same batch (8 x 256 tokens, loss on the last 192 of each row), AdamW with
global-norm clipping on both sides, fp32. The two sides are timed in alternating rounds and each
keeps its best round, so a burst of load from other jobs does not land on one side only. Both run
in one process, so under the same malloc settings (`rstar_jax.runtime.host_memory`, applied by the
launcher); each side's page faults per step are printed.
"""

import os
import resource
import time

from flax import nnx
import jax
import numpy as np
import torch
import transformers

from rstar_jax import models
from rstar_jax.runtime import host_memory
from rstar_jax.runtime import mesh as mesh_lib
from rstar_jax.training import inputs
from rstar_jax.training import loop
from rstar_jax.training import sft
from rstar_jax.training.config import SFTConfig

BATCH, SEQ, PROMPT = 8, 256, 64
STEPS_PER_ROUND, ROUNDS = 6, 3
MODEL = models.ModelConfig(
  family="qwen2",
  vocab_size=2048,
  hidden_size=256,
  intermediate_size=768,
  num_layers=4,
  num_heads=4,
  num_kv_heads=4,
  head_dim=64,
  max_position_embeddings=512,
)
TRAIN = SFTConfig(
  lr=1e-4,
  batch_size=BATCH,
  max_len=SEQ,
  warmup_steps=0,
  schedule="constant",
  weight_decay=0.0,
  clip_norm=1.0,
)


def _batch(rng: np.random.Generator) -> dict[str, np.ndarray]:
  tokens = rng.integers(0, MODEL.vocab_size, (BATCH, SEQ), dtype=np.int32)
  weights = np.zeros((BATCH, SEQ), np.float32)
  weights[:, PROMPT - 1 : SEQ - 1] = 1.0  # Position t predicts token t+1: the response tokens.
  return {
    "tokens": tokens,
    "mask": np.ones((BATCH, SEQ), bool),
    "labels": np.roll(tokens, -1, axis=1),
    "weights": weights,
  }


class JaxSide:
  """The trainer's own step (loop.prepare + sft_task) on one device."""

  def __init__(self, batch: dict[str, np.ndarray]):
    mesh = mesh_lib.single_device_mesh()
    with jax.set_mesh(mesh):
      model = models.Transformer(MODEL, rngs=nnx.Rngs(0))
      setup = loop.prepare(TRAIN, model, sft.sft_task(TRAIN), total_steps=1000, mesh=mesh)
    self.params, self.opt_state, self.step = setup.params, setup.opt_state, setup.train_step
    self.batch = inputs.to_global({k: v[None] for k, v in batch.items()}, mesh)
    self.run(2)  # Compile.

  def run(self, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
      self.params, self.opt_state, out = self.step(self.params, self.opt_state, self.batch)
    jax.block_until_ready(out["loss"])
    return time.perf_counter() - start


class TorchSide:
  """transformers Qwen2ForCausalLM (SDPA attention), torch AdamW, the same loss positions."""

  def __init__(self, batch: dict[str, np.ndarray]):
    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count() or 1)
    hf_config = transformers.Qwen2Config(**MODEL.to_hf_dict())
    hf_config._attn_implementation = "sdpa"  # pylint: disable=protected-access
    self.model = transformers.Qwen2ForCausalLM(hf_config).float().train()
    self.opt = torch.optim.AdamW(
      self.model.parameters(),
      lr=TRAIN.lr,
      betas=(TRAIN.adam_b1, TRAIN.adam_b2),
      eps=TRAIN.adam_eps,
      weight_decay=0.0,
    )
    self.tokens = torch.from_numpy(batch["tokens"].astype(np.int64))
    labels = self.tokens.clone()
    labels[:, :PROMPT] = -100  # HF shifts labels itself: same response positions as the JAX side.
    self.labels = labels
    self.run(2)

  def run(self, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
      loss = self.model(input_ids=self.tokens, labels=self.labels).loss
      loss.backward()
      torch.nn.utils.clip_grad_norm_(self.model.parameters(), TRAIN.clip_norm)
      self.opt.step()
      self.opt.zero_grad(set_to_none=True)
    return time.perf_counter() - start


def run(argv: list[str]) -> None:
  del argv
  batch = _batch(np.random.default_rng(0))
  sides = {"rstar_jax": JaxSide(batch), "torch": TorchSide(batch)}
  best = {name: float("inf") for name in sides}
  for r in range(ROUNDS):
    for name, side in sides.items():
      faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
      best[name] = min(best[name], side.run(STEPS_PER_ROUND))
      faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / STEPS_PER_ROUND
      print(
        f"round {r}: {name} {BATCH * SEQ * STEPS_PER_ROUND / best[name]:.0f} tok/s "
        f"(best so far), {faults:.0f} page faults/step"
      )
  tok_s = {name: BATCH * SEQ * STEPS_PER_ROUND / t for name, t in best.items()}
  print(
    f"config: {MODEL.num_layers} layers, hidden {MODEL.hidden_size}, vocab {MODEL.vocab_size}, "
    f"batch {BATCH} x {SEQ} tokens, {jax.default_backend()} backend, "
    f"{os.cpu_count()} CPU threads for torch, host_memory applied: {host_memory.applied}"
  )
  print(
    f"train speedup {tok_s['rstar_jax'] / tok_s['torch']:.2f}x "
    f"(rstar_jax {tok_s['rstar_jax']:.0f} tok/s, torch {tok_s['torch']:.0f} tok/s)"
  )
