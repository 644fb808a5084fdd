"""Device suite: the first command to run on an accelerator machine.

  python -m launch.benchmark --suite=device                # Qwen2.5-Math-1.5B shape, bf16
  python -m launch.benchmark --suite=device --tiny         # the same parts on a tiny model (CPU)

One process builds a preset model with random weights on a mesh of all local devices and runs,
each warmed up (compiled) before it is timed, every device-heavy part of a run: `Engine.expand`
(prefill and decode tokens/s, decode against the memory-bandwidth roofline), `Scorer.score` on a
`ValueModel.from_policy` PPM, one SFT and one PPM (Bradley-Terry) step of the trainers' own jitted
step (tokens/s, model FLOPs utilisation), an orbax round trip through the trainers' `Checkpointer`
(the restored state must equal the saved one) and the trainers' HF export. A part that breaks on a
new machine fails here in minutes instead of hours into a run. Prints a line per part; last:
`device suite ok on <device kind> x<count>: decode X tok/s, score Y tok/s, sft Z tok/s (MFU a%),
ppm W tok/s, search step prefill saved S%`. The search step is a second MCTS depth with the radix
prefix cache: its prompts extend the first depth's, and the line says what prefill the cache saved.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import pathlib
import re
import tempfile
import time
from typing import Any

from absl import flags
from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np

# Imported for its side effect: it drops orbax's INFO logs, as every launcher does.
from launch import common  # noqa: F401
from rstar_jax import models
from rstar_jax.inference import Engine
from rstar_jax.inference import EngineConfig
from rstar_jax.inference import SamplingParams
from rstar_jax.inference import Scorer
from rstar_jax.models import presets
from rstar_jax.models.config import DTYPES
from rstar_jax.runtime import mesh as mesh_lib
from rstar_jax.training import encode
from rstar_jax.training import inputs
from rstar_jax.training import loop
from rstar_jax.training import losses
from rstar_jax.training import ppm
from rstar_jax.training import ppm_data
from rstar_jax.training import sft
from rstar_jax.training import sft_data
from rstar_jax.training.checkpoint import Checkpointer
from rstar_jax.training.config import PPMConfig
from rstar_jax.training.config import SFTConfig

_PRESET = flags.DEFINE_enum(
  "preset", "qwen25_math_1_5b", sorted(presets.PRESETS), "Model shape (random weights)."
)
_DTYPE = flags.DEFINE_enum(
  "dtype",
  "bfloat16",
  DTYPES,
  "Compute dtype of every part; parameter dtype of the inference models.",
)
_TRAIN_PARAM_DTYPE = flags.DEFINE_enum(
  "train_param_dtype",
  "float32",
  DTYPES,
  "Master-weight dtype of the train steps (the recipe's, configs/common.py: float32).",
)
_TINY = flags.DEFINE_bool(
  "tiny", False, "A 2-layer, hidden-64 model and a tiny workload (ignores the size flags)."
)
_PEAK_FLOPS = flags.DEFINE_float(
  "peak_flops", None, "Peak FLOP/s per device; default: the table's for a known device."
)
_HBM_BANDWIDTH = flags.DEFINE_float(
  "hbm_bandwidth", None, "Memory bandwidth per device (bytes/s); default: the table's."
)
_MESH = flags.DEFINE_string(
  "device_mesh", "", "Mesh 'data:D,fsdp:F,tensor:T' of the local devices; default: fsdp over all."
)
_PROMPTS = flags.DEFINE_integer("decode_prompts", 32, "Prompts per expand call.")
_PROMPT_TOKENS = flags.DEFINE_integer("prompt_tokens", 512, "Tokens per prompt.")
_SAMPLES = flags.DEFINE_integer("decode_samples", 8, "Samples per prompt (n).")
_NEW_TOKENS = flags.DEFINE_integer("decode_new_tokens", 256, "New tokens per sample.")
_TRAIN_ROWS = flags.DEFINE_integer(
  "train_rows", 8, "SFT sequences, and PPM pairs, per batch shard (the recipe's per device)."
)
_TRAIN_TOKENS = flags.DEFINE_integer("train_tokens", 2048, "Tokens per training sequence.")
_REMAT = flags.DEFINE_bool("train_remat", True, "Per-layer remat in train steps (as the recipe).")
_REPEATS = flags.DEFINE_integer(
  "device_repeats", 2, "Timed calls of each part after its warm-up; the best is reported."
)
_WORK_DIR = flags.DEFINE_string(
  "device_work_dir",
  None,
  "A new folder for the checkpoint and the HF export, kept; default: a temporary one, removed.",
)

# Spec-sheet peaks per device, dense bf16 FLOP/s and memory bytes/s, matched on the lower-cased
# `device_kind` (first match wins; H100 PCIe is slower than SXM and is left unmatched).
KNOWN_DEVICES = (
  (r"h200", "H200", 989e12, 4.8e12),
  (r"h100(?!.*pcie)", "H100 SXM", 989e12, 3.35e12),
  (r"a100.*80\s*gb", "A100 80GB", 312e12, 2.0e12),
  (r"tpu v5 ?(lite|e)", "TPU v5e", 197e12, 8.1e11),
  (r"tpu v4", "TPU v4", 275e12, 1.2e12),
)

TINY_MODEL = models.ModelConfig(
  family="qwen2",
  vocab_size=512,
  hidden_size=64,
  intermediate_size=128,
  num_layers=2,
  num_heads=4,
  num_kv_heads=2,
  head_dim=16,
  tie_embeddings=True,
  max_position_embeddings=256,
)


@dataclasses.dataclass(frozen=True)
class Workload:
  """Sizes of the timed calls (the train batch is per batch shard of the mesh)."""

  prompts: int
  prompt_tokens: int
  samples: int
  new_tokens: int
  train_rows: int
  train_tokens: int


TINY_WORKLOAD = Workload(
  prompts=4, prompt_tokens=24, samples=2, new_tokens=16, train_rows=1, train_tokens=64
)


class IdTokenizer:
  """Text is token ids separated by spaces: prompts of exact lengths for any vocabulary, no
  trained tokenizer to download. No eos, and one stop string, `NEVER`, that is an id past the
  vocabulary, so every sample runs its full budget and each call does a fixed amount of work (an
  empty stop tuple would stop every sample at its first token: `stop_table` pads it with -3,
  which `programs._finished` reads as a wildcard)."""

  NEVER = "unsampled"
  pad_token_id = 0
  eos_token_id = None

  def __init__(self, vocab_size: int):
    self.vocab_size = vocab_size

  def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
    del add_special_tokens
    return [self.vocab_size if word == self.NEVER else int(word) for word in text.split()]

  def decode(self, ids) -> str:
    return " ".join(map(str, ids))


@dataclasses.dataclass(frozen=True)
class Peaks:
  flops: float | None  # per device
  bandwidth: float | None  # bytes/s per device
  source: str


@dataclasses.dataclass(frozen=True)
class Context:
  """What every part needs: where it runs, the device's peaks, how often to time it."""

  mesh: jax.sharding.Mesh
  peaks: Peaks
  devices: int
  repeats: int


def device_peaks(kind: str, flops: float | None, bandwidth: float | None) -> Peaks:
  """The flags' values, else the table's for a known `device_kind`, else unknown (None)."""
  match = next((row for row in KNOWN_DEVICES if re.search(row[0], kind.lower())), None)
  given = " and flags" if flops or bandwidth else ""
  if match is not None:
    return Peaks(flops or match[2], bandwidth or match[3], f"spec sheet of {match[1]}{given}")
  return Peaks(flops, bandwidth, f"unknown device {kind!r}{given}")


def matmul_params(config: models.ModelConfig, *, lm_head: bool) -> int:
  """Parameters multiplied per token: an embedding lookup reads one row, an LM head all of it."""
  table = config.vocab_size * config.hidden_size
  lookup_only = table if (not config.tie_embeddings or not lm_head) else 0
  return config.num_params() - lookup_only


def mfu(flops_per_s: float, peaks: Peaks, devices: int) -> float | None:
  return flops_per_s / (peaks.flops * devices) if peaks.flops else None


def percent(value: float | None) -> str:
  return "n/a" if value is None else f"{100 * value:.1f}%"


def best_time(call, repeats: int) -> float:
  """Seconds of the fastest of `repeats` calls after one warm-up call that compiles."""
  call()
  best = math.inf
  for _ in range(repeats):
    start = time.perf_counter()
    call()
    best = min(best, time.perf_counter() - start)
  return best


def random_rows(rng: np.random.Generator, count: int, length: int, vocab: int) -> list[np.ndarray]:
  return [rng.integers(1, vocab, length, dtype=np.int32) for _ in range(count)]


def expand_part(engine: Engine, w: Workload, ctx: Context) -> tuple[list[str], Any, float]:
  """Prefill: a call for 1 new token; decode: what a full call adds over it. Returns the prompts,
  the full call's candidates and decode tok/s."""
  rng = np.random.default_rng(0)
  cfg = engine.model_config
  ids = random_rows(rng, w.prompts, w.prompt_tokens, cfg.vocab_size)
  prompts = [engine.tokenizer.decode(r) for r in ids]
  rows = w.prompts * w.samples
  out = {}

  def call(new_tokens: int) -> None:
    before = engine.stats.decode_tokens
    sampling = SamplingParams(
      temperature=0.7, max_new_tokens=new_tokens, stop=(IdTokenizer.NEVER,), seed=0
    )
    out["candidates"] = engine.expand(prompts, w.samples, sampling)
    generated = engine.stats.decode_tokens - before
    if generated != rows * new_tokens:
      raise AssertionError(f"expand generated {generated} tokens, expected {rows * new_tokens}")

  prefill_s = best_time(functools.partial(call, 1), ctx.repeats)
  full_s = best_time(functools.partial(call, w.new_tokens), ctx.repeats)
  decode_s = full_s - prefill_s
  steps = w.new_tokens - 1
  if decode_s <= 0:
    raise AssertionError(f"a {w.new_tokens}-token call took no longer than a 1-token call")
  decode = rows * steps / decode_s
  kv_token = (
    cfg.num_layers * 2 * cfg.num_kv_heads * cfg.head_dim * jnp.dtype(cfg.compute_dtype).itemsize
  )
  # Bytes each device reads per step: the weights (those sharded over 'tensor' in part, those over
  # 'fsdp' gathered whole), and its rows' share of the KV: each prompt's once (its samples share
  # it) and each sample's own tokens so far (w.new_tokens / 2 on average over the call).
  weights = matmul_params(cfg, lm_head=True) * jnp.dtype(cfg.param_dtype).itemsize
  kv = kv_token * (w.prompts * w.prompt_tokens + rows * w.new_tokens / 2)
  step_bytes = weights / ctx.mesh.shape["tensor"] + kv / ctx.devices
  roofline = "n/a"
  if ctx.peaks.bandwidth:
    bound = rows * ctx.peaks.bandwidth / step_bytes
    roofline = f"{bound:.0f} tok/s, achieved {decode / bound:.2f} of it"
  print(
    f"expand: {w.prompts} prompts x {w.prompt_tokens} tokens, n={w.samples}, {w.new_tokens} new "
    f"tokens: prefill {w.prompts * w.prompt_tokens / prefill_s:.0f} tok/s ({prefill_s:.3f} s "
    f"for 1 new token), decode {decode:.0f} tok/s ({1e3 * decode_s / steps:.2f} ms/step, call "
    f"{full_s:.2f} s); HBM roofline at {size(step_bytes)}/step per device: {roofline}; "
    f"compiled programs {engine.stats.compiled_programs}",
    flush=True,
  )
  return prompts, out["candidates"], decode


def search_step_part(
  policy: models.Transformer, tokenizer: IdTokenizer, prompts: list[str], w: Workload, ctx: Context
) -> float:
  """A search's next depth with the radix prefix cache: each prompt extended by one of its own
  candidates and a short output, as MCTS's next level prompts are. Returns the share of prompt
  tokens whose prefill the cache saved. A fresh engine per try, so the timed depth-2 call finds
  only what depth 1 left (its programs are compiled by the first try)."""
  pages_per_sequence = -(-(w.prompt_tokens + 2 * w.new_tokens + 16) // 16)
  pages = pages_per_sequence * w.prompts * (1 + 2 * w.samples) + 1
  sampling = SamplingParams(
    temperature=0.7, max_new_tokens=w.new_tokens, stop=(IdTokenizer.NEVER,), seed=0
  )
  best = None
  for _ in range(1 + ctx.repeats):
    engine = Engine(policy, tokenizer, EngineConfig(cache_pages=pages), mesh=ctx.mesh)
    first = engine.expand(prompts, w.samples, sampling)
    deeper = [f"{p} {row[0].text} 7 8 9" for p, row in zip(prompts, first)]
    before = dataclasses.replace(engine.stats)
    start = time.perf_counter()
    engine.expand(deeper, w.samples, sampling)
    seconds = time.perf_counter() - start
    if best is None or seconds < best[0]:
      best = (seconds, before, dataclasses.replace(engine.stats))
  seconds, before, after = best
  requested = after.requested_tokens - before.requested_tokens
  computed = after.prefill_tokens - before.prefill_tokens
  saved = 1 - computed / requested
  decoded = after.decode_tokens - before.decode_tokens
  print(
    f"search step (radix cache, {pages} pages of 16 tokens): depth-2 prompts of "
    f"{requested / w.prompts:.0f} tokens, {computed} of {requested} prefilled ({saved:.0%} saved); "
    f"{decoded / seconds:.0f} decode tok/s over the step ({seconds:.2f} s)",
    flush=True,
  )
  return saved


def score_part(scorer: Scorer, prompts: list[str], candidates, ctx: Context) -> float:
  """Scores every candidate after its prompt, as the search does."""
  texts = [f"{p} {c.text}" for p, row in zip(prompts, candidates) for c in row]
  tokens = sum(len(scorer.tokenizer.encode(t)) for t in texts)
  seconds = best_time(lambda: scorer.score(texts), ctx.repeats)
  print(
    f"score: {len(texts)} texts, {tokens} tokens: {tokens / seconds:.0f} tok/s ({seconds:.3f} s)",
    flush=True,
  )
  return tokens / seconds


def train_part(
  name: str, setup: loop.Setup, host: inputs.HostBatch, flop_params: int, ctx: Context
) -> tuple[float, Any, Any, float | None]:
  """Warm-up then timed steps of `setup.train_step`: (tok/s, params, opt_state, MFU)."""
  batch = inputs.to_global(host, ctx.mesh)
  tokens = int(host["mask"].sum())  # Counted as the training loop counts them.
  params, opt_state = setup.params, setup.opt_state
  best = math.inf
  for i in range(ctx.repeats + 1):
    start = time.perf_counter()
    params, opt_state, out = setup.train_step(params, opt_state, batch)
    jax.block_until_ready((params, opt_state, out))
    if i:
      best = min(best, time.perf_counter() - start)
    if not math.isfinite(float(out["loss"])):
      raise FloatingPointError(f"{name} step {i}: loss {float(out['loss'])}")
  tok_s = tokens / best
  shape = " x ".join(map(str, host["tokens"].shape[1:]))
  utilisation = mfu(6 * flop_params * tok_s, ctx.peaks, ctx.devices)
  print(
    f"{name} step: batch {shape} tokens: {tok_s:.0f} tok/s ({best:.3f} s/step), "
    f"MFU {percent(utilisation)}, loss {float(out['loss']):.3f}",
    flush=True,
  )
  return tok_s, params, opt_state, utilisation


def size(nbytes: float) -> str:
  return f"{nbytes / 1e9:.2f} GB" if nbytes >= 1e8 else f"{nbytes / 1e6:.2f} MB"


def tree_bytes(tree: Any) -> int:
  return sum(x.nbytes for x in jax.tree.leaves(tree))


def checkpoint_part(directory: pathlib.Path, mp, params, opt_state) -> None:
  """Save with the trainers' `Checkpointer`, restore into a fresh one; fails unless equal."""
  args = dict(keep=1, async_save=False, fingerprint=mp.fingerprint(), schedule={})
  start = time.perf_counter()
  saver = Checkpointer(directory, **args)
  saver.save(1, params, opt_state, data_state={}, history=[])
  saver.close()
  saved_s = time.perf_counter() - start
  start = time.perf_counter()
  reader = Checkpointer(directory, **args)
  got_params, got_opt, _ = reader.restore(1, params, opt_state)
  jax.block_until_ready((got_params, got_opt))
  restored_s = time.perf_counter() - start
  reader.close()
  saved, restored = (params, opt_state), (got_params, got_opt)
  same = jax.tree.map(
    lambda a, b: bool(jnp.array_equal(a, b)) and a.sharding == b.sharding, saved, restored
  )
  differ = [
    jax.tree_util.keystr(p) for p, ok in jax.tree_util.tree_leaves_with_path(same) if not ok
  ]
  if differ:
    raise AssertionError(f"restored checkpoint differs from the saved state at {differ[:5]}")
  nbytes = tree_bytes(saved)
  print(
    f"checkpoint: {size(nbytes)} (params + optimizer state) saved in {saved_s:.2f} s, "
    f"restored in {restored_s:.2f} s; restored equals saved ({len(jax.tree.leaves(saved))} arrays)",
    flush=True,
  )


def export_part(directory: pathlib.Path, model, cfg: SFTConfig) -> None:
  """The trainers' HF export of the policy (safetensors + config.json)."""
  start = time.perf_counter()
  path = loop.export(model, directory, None, cfg)
  seconds = time.perf_counter() - start
  files = sorted(p.name for p in path.iterdir())
  if "config.json" not in files or not any(f.endswith(".safetensors") for f in files):
    raise AssertionError(f"HF export {path} lacks config.json or safetensors: {files}")
  nbytes = sum(p.stat().st_size for p in path.iterdir())
  print(f"hf export: {', '.join(files)} ({size(nbytes)}) in {seconds:.2f} s", flush=True)


def sft_batch(cfg: SFTConfig, w: Workload, vocab: int, mesh) -> inputs.HostBatch:
  """One global batch through the SFT trainer's batcher: loss on the last 3/4 of each row."""
  rows = random_rows(np.random.default_rng(1), cfg.batch_size, w.train_tokens, vocab)
  targets = [np.arange(w.train_tokens) >= w.train_tokens // 4 for _ in rows]
  data = sft_data.SFTData(
    inputs.Ragged.from_rows(rows, np.int32),
    inputs.Ragged.from_rows(targets, bool),
    encode.EncodeStats(),
  )
  batcher = sft_data.make_sft_batcher(data, pad_id=0, cfg=cfg)
  stream, _ = inputs.train_stream(
    len(data), batcher, layout=loop.host_layout(cfg, mesh), epochs=1.0, seed=0, max_steps=1
  )
  return stream[0]


def ppm_batch(cfg: PPMConfig, w: Workload, vocab: int, mesh) -> inputs.HostBatch:
  """One global batch of pairs through the PPM trainer's batcher, with head-dropout ids."""
  rng = np.random.default_rng(2)
  n = cfg.batch_size
  data = ppm_data.PairData(
    inputs.Ragged.from_rows(random_rows(rng, n, w.train_tokens, vocab), np.int32),
    inputs.Ragged.from_rows(random_rows(rng, n, w.train_tokens, vocab), np.int32),
    np.zeros((n, 2), np.float32),
    np.ones((n,), np.float32),
    tuple(str(i) for i in range(n)),
  )
  layout = loop.host_layout(cfg, mesh)
  batcher = ppm_data.make_pair_batcher(data, pad_id=0, cfg=cfg)
  stream, _ = inputs.train_stream(n, batcher, layout=layout, epochs=1.0, seed=0, max_steps=1)
  return ppm.with_dropout_ids(stream, layout, cfg.seed)[0]


def run(argv: list[str]) -> None:
  del argv
  tiny = _TINY.value
  w = (
    TINY_WORKLOAD
    if tiny
    else Workload(
      _PROMPTS.value,
      _PROMPT_TOKENS.value,
      _SAMPLES.value,
      _NEW_TOKENS.value,
      _TRAIN_ROWS.value,
      _TRAIN_TOKENS.value,
    )
  )
  base = TINY_MODEL if tiny else presets.PRESETS[_PRESET.value]()
  # No eos: every sample generates its whole budget.
  config = base.replace(eos_token_id=None, param_dtype=_DTYPE.value, compute_dtype=_DTYPE.value)
  if max(w.prompt_tokens + w.new_tokens, w.train_tokens) > config.max_position_embeddings:
    raise ValueError(f"sequences exceed the model's context ({config.max_position_embeddings})")
  mesh = mesh_lib.local_mesh(_MESH.value)
  devices = mesh.devices.size
  kind = jax.local_devices()[0].device_kind
  peaks = device_peaks(kind, _PEAK_FLOPS.value, _HBM_BANDWIDTH.value)
  ctx = Context(mesh, peaks, devices, _REPEATS.value)
  print(
    f"device: {kind} x{devices} ({jax.default_backend()} backend, jax {jax.__version__}), "
    f"mesh {dict(mesh.shape)}",
    flush=True,
  )
  print(
    f"peaks per device ({peaks.source}; --peak_flops, --hbm_bandwidth override): "
    f"{'n/a' if not peaks.flops else f'{peaks.flops / 1e12:.0f} TFLOP/s (bf16 dense)'}, "
    f"{'n/a' if not peaks.bandwidth else f'{peaks.bandwidth / 1e12:.2f} TB/s'}",
    flush=True,
  )
  print(
    f"model: {'tiny' if tiny else _PRESET.value}, {config.num_params() / 1e6:.1f} M params, "
    f"{config.num_layers} layers x {config.hidden_size}, {_DTYPE.value} params and compute "
    f"(train master weights {_TRAIN_PARAM_DTYPE.value}), random weights",
    flush=True,
  )

  with jax.set_mesh(mesh):
    policy = models.Transformer(config, rngs=nnx.Rngs(0))
  tokenizer = IdTokenizer(config.vocab_size)
  prompts, candidates, decode = expand_part(Engine(policy, tokenizer, mesh=mesh), w, ctx)
  saved = search_step_part(policy, tokenizer, prompts, w, ctx)
  with jax.set_mesh(mesh):
    value_model = models.ValueModel.from_policy(policy)
  del policy  # Each part frees what it no longer needs: a 7B preset fills a device.
  score = score_part(Scorer(value_model, tokenizer, mesh=mesh), prompts, candidates, ctx)
  del value_model

  shards = math.prod(mesh.shape[a] for a in inputs.BATCH_AXES)
  train_args = dict(
    batch_size=w.train_rows * shards,
    max_len=w.train_tokens,
    remat=_REMAT.value,
    schedule="constant",
    lr=1e-6,
    async_checkpointing=False,
    progress_bar=False,
  )
  train_config = config.replace(param_dtype=_TRAIN_PARAM_DTYPE.value)
  with tempfile.TemporaryDirectory() as tmp, jax.set_mesh(mesh):
    work_dir = pathlib.Path(_WORK_DIR.value or tmp)
    train_policy = models.Transformer(train_config, rngs=nnx.Rngs(1))
    sft_cfg = SFTConfig(**train_args)
    host = sft_batch(sft_cfg, w, config.vocab_size, mesh)
    setup = loop.prepare(sft_cfg, train_policy, sft.sft_task(sft_cfg), total_steps=10, mesh=mesh)
    sft_tok_s, params, opt_state, sft_mfu = train_part(
      "sft", setup, host, matmul_params(config, lm_head=True), ctx
    )
    checkpoint_part(work_dir / "checkpoints", setup.mp, params, opt_state)
    export_part(work_dir / "sft", setup.mp.merge(params), sft_cfg)
    del setup, params, opt_state

    ppm_cfg = PPMConfig(**train_args)
    ppm_model = nnx.view(
      models.ValueModel.from_policy(train_policy), head_dropout=ppm_cfg.head_dropout
    )
    del train_policy
    task = loop.Task(
      "ppm-bt",
      functools.partial(losses.pair_loss, objective="bt"),
      "valid",
      summarize=dict,  # Unused: only the step runs here.
    )
    host = ppm_batch(ppm_cfg, w, config.vocab_size, mesh)
    setup = loop.prepare(ppm_cfg, ppm_model, task, total_steps=10, mesh=mesh)
    del ppm_model
    ppm_tok_s, *_ = train_part("ppm", setup, host, matmul_params(config, lm_head=False), ctx)
  print(
    f"device suite ok on {kind} x{devices}: decode {decode:.0f} tok/s, score {score:.0f} tok/s, "
    f"sft {sft_tok_s:.0f} tok/s (MFU {percent(sft_mfu)}), ppm {ppm_tok_s:.0f} tok/s, "
    f"search step prefill saved {saved:.0%}"
  )
