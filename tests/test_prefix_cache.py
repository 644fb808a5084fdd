"""The radix prefix cache: exact (same greedy steps, same PPM scores as without it), bounded by its
pool whatever the search does, and safe where a text prefix is not a token prefix."""

import logging

from flax import nnx
import numpy as np
import pytest
from tiny_hf import make_tiny_hf_model
from tiny_tokenizer import CORPUS
from tiny_tokenizer import tiny_engine_and_scorer
from tiny_tokenizer import tiny_tokenizer
import tokenizers
import transformers

from rstar_jax.format import prompts
from rstar_jax.hf import load_model
from rstar_jax.inference import Engine
from rstar_jax.inference import EngineConfig
from rstar_jax.inference import SamplingParams
from rstar_jax.inference import Scorer
from rstar_jax.inference import ScorerConfig
from rstar_jax.models import Transformer
from rstar_jax.models import ValueModel
from rstar_jax.models.config import ModelConfig
from rstar_jax.models.config import RopeConfig
from rstar_jax.runtime.mesh import make_mesh
from rstar_jax.world import tokenizer as world_tokenizer

CONTEXT = 160
GREEDY = SamplingParams(temperature=0.0, max_new_tokens=12)
QUESTIONS = ["<|user|>:\nTom has 3 apples and buys 5 more.", "step end answer output code " * 3]


def _cached(pages: int, page_size: int = 4):
  return (
    EngineConfig(decode_chunk=8, max_seq_len=CONTEXT, cache_pages=pages, page_size=page_size),
    ScorerConfig(max_seq_len=CONTEXT, cache_pages=pages, page_size=page_size),
  )


def _plain():
  return EngineConfig(decode_chunk=8, max_seq_len=CONTEXT), ScorerConfig(max_seq_len=CONTEXT)


def _search(engine, scorer, depths: int, n: int = 2):
  """A search-shaped workload: every depth extends each prompt by one candidate and a code
  output block (the next node's prompt) and scores every candidate's full text."""
  texts, steps, scores = list(QUESTIONS), [], []
  for depth in range(depths):
    cands = engine.expand(texts, n, GREEDY)
    steps.append([[c.token_ids for c in row] for row in cands])
    scores.append(scorer.score([t + c.text for t, row in zip(texts, cands) for c in row]))
    texts = [
      t + row[depth % n].text + prompts.output_block(str(depth)) for t, row in zip(texts, cands)
    ]
  return steps, np.concatenate(scores)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
  path = tmp_path_factory.mktemp("tiny")
  make_tiny_hf_model(path, "qwen2", vocab_size=320, eos_token_id=1, pad_token_id=0)
  return path


@pytest.fixture(scope="module")
def reference(model_dir):
  engine, scorer, _ = tiny_engine_and_scorer(model_dir, *_plain())
  return _search(engine, scorer, depths=4)


@pytest.mark.parametrize("pages", [41, 400])  # 41: one sequence's 40 pages + scratch (evicts)
def test_cache_on_equals_cache_off(model_dir, reference, pages):
  engine, scorer, _ = tiny_engine_and_scorer(model_dir, *_cached(pages))
  steps, scores = _search(engine, scorer, depths=4)
  assert steps == reference[0]
  np.testing.assert_allclose(scores, reference[1], atol=1e-5)
  for model in (engine, scorer):
    stats, index = model.stats, model._cache.index
    index.check_invariants()
    assert stats.pool_pages == pages
    assert index.cached_pages <= index.capacity
    assert stats.cached_tokens > 0 and stats.prefill_tokens < stats.requested_tokens
    assert stats.cached_tokens + stats.prefill_tokens == stats.requested_tokens
    assert (stats.evicted_pages > 0) == (pages == 41)


def test_pool_never_exceeds_its_size(model_dir):
  """A pool far smaller than the search's working set: the index is checked after every call."""
  engine, _, _ = tiny_engine_and_scorer(model_dir, *_cached(41))
  index = engine._cache.index
  texts = list(QUESTIONS) * 2
  for depth in range(4):
    cands = engine.expand(texts, 3, SamplingParams(temperature=1.0, max_new_tokens=12, seed=depth))
    index.check_invariants()
    assert index.cached_pages <= index.capacity and index.pinned_nodes == 0
    texts = [t + row[0].text + prompts.output_block("1") for t, row in zip(texts, cands)]
  assert engine.stats.evicted_pages > 0


def test_decoded_candidates_are_found_by_the_next_depth(model_dir):
  """Every whole page of a prompt and of each candidate's fed tokens (all but its last) is kept."""
  engine, _, tok = tiny_engine_and_scorer(model_dir, *_cached(400))
  cands = engine.expand(QUESTIONS, 2, SamplingParams(temperature=1.0, max_new_tokens=12))
  for question, row in zip(QUESTIONS, cands):
    for cand in row:
      seq = [*tok.encode(question), *cand.token_ids[:-1]]
      assert engine._cache.index.match(seq).length == len(seq) // 4 * 4


def _qwen2_style_tokenizer() -> transformers.PreTrainedTokenizerFast:
  """Qwen2's pre-tokenisation (its published split pattern, then byte-level) with the step
  markers as plain text, as a Qwen2.5-Math policy sees them: `>` merges with the newline after it,
  so a prompt that extends a step's text is often not an extension of its tokens."""
  pattern = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
  )
  tok = tokenizers.Tokenizer(tokenizers.models.BPE())
  tok.pre_tokenizer = tokenizers.pre_tokenizers.Sequence(
    [
      tokenizers.pre_tokenizers.Split(tokenizers.Regex(pattern), "isolated"),
      tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ]
  )
  tok.decoder = tokenizers.decoders.ByteLevel()
  trainer = tokenizers.trainers.BpeTrainer(
    vocab_size=320,
    special_tokens=["<pad>", "<eos>"],
    initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet(),
    show_progress=False,
  )
  tok.train_from_iterator(CORPUS, trainer)
  return transformers.PreTrainedTokenizerFast(
    tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>"
  )


def _world_tokenizer():
  return world_tokenizer.train_tokenizer(CORPUS, vocab_size=320)


@pytest.mark.parametrize(
  "make_tokenizer", [tiny_tokenizer, _qwen2_style_tokenizer, _world_tokenizer]
)
def test_step_marker_boundaries(model_dir, make_tokenizer):
  """Prompts that extend earlier texts across step markers: wherever the tokens of the extension
  diverge from the earlier text's, the cache matches only the common token prefix (never the
  text prefix), and scores equal those computed without the cache."""
  tok = make_tokenizer()
  base = prompts.policy_prompt("Tom has 3 apples and buys 5 more. How many apples now?")
  first = base + "<code>\n# Step 1: add\ntotal = 3 + 5\n" + prompts.END_OF_STEP
  texts = [
    base,
    first,
    first + "\nprint(total)\n" + prompts.END_OF_CODE,
    first + "\nprint(total)\n" + prompts.END_OF_CODE + prompts.output_block("8"),
    first + "\nprint(total)\n" + prompts.END_OF_CODE + prompts.output_block("8") + "\n<answer>",
  ]
  policy = load_model(model_dir)
  plain = Scorer(ValueModel.from_policy(policy), tok, ScorerConfig(max_seq_len=CONTEXT))
  cached = Scorer(ValueModel.from_policy(policy), tok, _cached(400)[1])
  seen: list[list[int]] = []
  diverged = 0
  for text in texts:
    ids = tok.encode(text)
    # The index holds every whole page of each text scored before; the last token always runs.
    expected = max(
      (min(_common(ids, prev), len(ids) - 1, len(prev)) // 4 * 4 for prev in seen), default=0
    )
    assert cached._cache.cached_length(ids) == expected
    diverged += bool(seen) and _common(ids, seen[-1]) < len(seen[-1])
    np.testing.assert_allclose(cached.score([text]), plain.score([text]), atol=1e-5)
    seen.append(ids)
  if make_tokenizer is _qwen2_style_tokenizer:
    assert diverged, "the Qwen2-style split should merge a marker's '>' with the next newline"


def _common(a: list[int], b: list[int]) -> int:
  return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def test_sharded_cache_equals_unsharded(model_dir):
  """Pages are split over the mesh's tensor axis like the KV they hold."""
  tok = tiny_tokenizer()
  engine_config, scorer_config = _cached(200)
  reference, ref_scores = _search(
    Engine(load_model(model_dir), tok, engine_config),
    Scorer(ValueModel.from_policy(load_model(model_dir)), tok, scorer_config),
    depths=2,
  )
  mesh = make_mesh("data:2,tensor:2,fsdp:2")
  policy = load_model(model_dir, mesh=mesh)
  engine = Engine(policy, tok, engine_config, mesh=mesh)
  pool_k = engine._cache.pool[0].k
  assert len(pool_k.sharding.device_set) == 8
  steps, scores = _search(
    engine, Scorer(ValueModel.from_policy(policy), tok, scorer_config, mesh=mesh), depths=2
  )
  assert steps == reference
  np.testing.assert_allclose(scores, ref_scores, atol=1e-5)


def test_a_pool_too_small_for_one_sequence_is_refused(model_dir):
  with pytest.raises(ValueError, match="cannot hold one sequence of max_seq_len=160"):
    tiny_engine_and_scorer(model_dir, *_cached(40))
  with pytest.raises(ValueError, match="cache_pages must be >= 0"):
    EngineConfig(cache_pages=-1)


def test_longrope_models_run_without_the_cache(caplog):
  """Phi-3 128k's rope switches factors with the sequence length: cached keys would differ from
  recomputed ones, so such a model runs uncached (a warning says so) instead of failing."""
  half = 8
  rope = RopeConfig(
    kind="longrope",
    short_factor=(1.0,) * half,
    long_factor=(2.0,) * half,
    original_max_position_embeddings=64,
  )
  config = ModelConfig(
    family="phi3",
    vocab_size=320,
    hidden_size=32,
    intermediate_size=64,
    num_layers=1,
    num_heads=2,
    num_kv_heads=2,
    head_dim=2 * half,
    max_position_embeddings=CONTEXT,
    rope=rope,
  )
  policy = Transformer(config, rngs=nnx.Rngs(0))
  engine_config, scorer_config = _cached(400)
  with caplog.at_level(logging.WARNING):
    engine = Engine(policy, tiny_tokenizer(), engine_config)
    scorer = Scorer(ValueModel.from_policy(policy), tiny_tokenizer(), scorer_config)
  assert engine._cache is None and scorer._cache is None
  assert "prefix cache off for this longrope model" in caplog.text
  (cands,) = engine.expand(QUESTIONS[:1], 1, GREEDY)
  assert engine.stats.prefill_ratio == 1.0 and cands[0].token_ids
