"""Generation suite: tree-expansion workload, rstar_jax Engine vs transformers' generate (CPU).

Same random Qwen2 weights (4 layers, hidden 256, vocab ~2k) in both; 32 prompts of 100-300 tokens,
n = 8 samples each, 64 new tokens. Prints tokens/s of each and, last, the speedup line.
"""

from __future__ import annotations

import tempfile
import time

from absl import flags
import numpy as np
import tokenizers
import torch
import transformers

from rstar_jax.format.prompts import STEP_MARKERS
from rstar_jax.format.prompts import STEP_STOPS
from rstar_jax.hf import load_model
from rstar_jax.inference import Engine
from rstar_jax.inference import EngineConfig
from rstar_jax.inference import SamplingParams

_PROMPTS = flags.DEFINE_integer("gen_prompts", 32, "Prompts per expansion call.")
_SAMPLES = flags.DEFINE_integer("gen_samples", 8, "Samples per prompt.")
_NEW = flags.DEFINE_integer("gen_new_tokens", 64, "New tokens per sample.")
_REPEATS = flags.DEFINE_integer("gen_repeats", 2, "Timed repetitions (best is reported).")

VOCAB = 2048


def _tokenizer(rng: np.random.RandomState) -> transformers.PreTrainedTokenizerFast:
  """A byte-level BPE of ~2k tokens trained on synthetic step text (built locally, no hub)."""
  syllables = [
    "ta",
    "ko",
    "mi",
    "ru",
    "sen",
    "dal",
    "vo",
    "pe",
    "xi",
    "lu",
    "bar",
    "qu",
    "nen",
    "fo",
    "zi",
  ]
  words = ["".join(rng.choice(syllables, rng.randint(1, 4))) for _ in range(3000)]
  corpus = [" ".join(rng.choice(words, 40)) + f" = {rng.randint(1000)}\n" for _ in range(3000)]
  tok = tokenizers.Tokenizer(tokenizers.models.BPE())
  tok.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
  tok.decoder = tokenizers.decoders.ByteLevel()
  trainer = tokenizers.trainers.BpeTrainer(
    vocab_size=VOCAB,
    special_tokens=["<pad>", "<eos>", *STEP_MARKERS],
    initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet(),
  )
  tok.train_from_iterator(corpus, trainer)
  return transformers.PreTrainedTokenizerFast(
    tokenizer_object=tok,
    pad_token="<pad>",
    eos_token="<eos>",
    additional_special_tokens=list(STEP_MARKERS),
  )


def _prompts(tokenizer, rng: np.random.RandomState, count: int) -> list[str]:
  prompts = []
  for _ in range(count):
    ids = rng.randint(len(STEP_MARKERS) + 2, VOCAB, rng.randint(100, 301)).tolist()
    text = tokenizer.decode(ids)
    prompts.append(text)
  return prompts


def run(argv) -> None:
  del argv
  rng = np.random.RandomState(0)
  tokenizer = _tokenizer(rng)
  config = transformers.Qwen2Config(
    vocab_size=len(tokenizer),
    hidden_size=256,
    intermediate_size=768,
    num_hidden_layers=4,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=1024,
    eos_token_id=tokenizer.eos_token_id,
    pad_token_id=tokenizer.pad_token_id,
    tie_word_embeddings=True,
  )
  torch.manual_seed(0)
  torch_model = transformers.Qwen2ForCausalLM(config).eval()
  prompts = _prompts(tokenizer, rng, _PROMPTS.value)
  n, new = _SAMPLES.value, _NEW.value
  sampling = SamplingParams(temperature=0.7, max_new_tokens=new, stop=STEP_STOPS, seed=0)

  with tempfile.TemporaryDirectory() as path:
    torch_model.save_pretrained(path)
    engine = Engine(load_model(path), tokenizer, EngineConfig())
  engine.expand(prompts, n, sampling)  # compile
  ours_s, ours_tokens = float("inf"), 0
  for r in range(_REPEATS.value):
    before = engine.stats.decode_tokens
    start = time.perf_counter()
    out = engine.expand(prompts, n, SamplingParams(**{**sampling.__dict__, "seed": r + 1}))
    ours_s = min(ours_s, time.perf_counter() - start)
    ours_tokens = engine.stats.decode_tokens - before
  assert ours_tokens == sum(len(c.token_ids) for row in out for c in row)
  stats = engine.stats
  print(
    f"rstar_jax: {ours_tokens} tokens in {ours_s:.2f}s; prefill tokens computed per generated token "
    f"{stats.prefill_tokens / stats.decode_tokens:.3f}; compiled programs {stats.compiled_programs}"
  )

  tokenizer.padding_side = "left"
  batch = tokenizer(prompts, return_tensors="pt", padding=True)
  hf_s, hf_tokens = float("inf"), 0
  for r in range(_REPEATS.value):
    torch.manual_seed(r)
    start = time.perf_counter()
    with torch.no_grad():
      generated = torch_model.generate(
        **batch,
        do_sample=True,
        temperature=0.7,
        top_k=0,
        top_p=1.0,
        num_return_sequences=n,
        max_new_tokens=new,
        stop_strings=list(STEP_STOPS),
        tokenizer=tokenizer,
        pad_token_id=tokenizer.pad_token_id,
      )
    hf_s = min(hf_s, time.perf_counter() - start)
    new_ids = generated[:, batch["input_ids"].shape[1] :]
    hf_tokens = int((new_ids != tokenizer.pad_token_id).sum())
  print(f"transformers: {hf_tokens} tokens in {hf_s:.2f}s")
  ours, hf = ours_tokens / ours_s, hf_tokens / hf_s
  print(
    f"generation speedup {ours / hf:.2f}x (rstar_jax {ours:.0f} tok/s, transformers {hf:.0f} tok/s)"
  )
