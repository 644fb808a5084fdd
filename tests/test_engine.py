"""Engine: greedy parity with transformers' generate, stops, budgets, seeds, repeated prompts, the
context limit, recompilation, errors; Scorer: parity with the value model, overlong texts."""

import numpy as np
import pytest
from tiny_hf import make_tiny_hf_model
from tiny_tokenizer import tiny_tokenizer
import torch

from rstar_jax.hf import load_model
from rstar_jax.inference import Candidate
from rstar_jax.inference import Engine
from rstar_jax.inference import EngineConfig
from rstar_jax.inference import SamplingParams
from rstar_jax.inference import Scorer
from rstar_jax.inference import ScorerConfig
from rstar_jax.models import ValueModel

PROMPTS = [
  "<|user|>:\nTom has 3 apples and buys 5 more.",
  "step end answer output code print total apples more less each bags boxes " * 4,
  "<code>\n# Step 1: add\ntotal = 3 + 5\n<end_of_step>",
]
GREEDY = SamplingParams(temperature=0.0, max_new_tokens=24, stop=("<end_of_answer>",))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
  path = tmp_path_factory.mktemp("policy")
  torch_model = make_tiny_hf_model(path, "qwen2", vocab_size=320, eos_token_id=1, pad_token_id=0)
  return torch_model, load_model(path), tiny_tokenizer()


def _hf_greedy(torch_model, tokenizer, prompt, max_new):
  ids = torch.tensor([tokenizer.encode(prompt)])
  with torch.no_grad():
    out = torch_model.generate(
      ids, max_new_tokens=max_new, do_sample=False, eos_token_id=1, pad_token_id=0
    )
  return out[0, ids.shape[1] :].tolist()


def test_greedy_matches_transformers_generate_with_ragged_prompts(setup):
  torch_model, model, tok = setup
  engine = Engine(model, tok, EngineConfig(decode_chunk=8))
  out = engine.expand(PROMPTS, 2, GREEDY)
  for prompt, cands in zip(PROMPTS, out):
    expected = _hf_greedy(torch_model, tok, prompt, GREEDY.max_new_tokens)
    assert len(cands) == 2
    for c in cands:
      assert list(c.token_ids) == expected[: len(c.token_ids)]
      assert c.stop_reason in ("eos", "length", "stop")
      if c.stop_reason == "length":
        assert len(c.token_ids) == GREEDY.max_new_tokens
  assert engine.stats.prefill_tokens == sum(
    len(tok.encode(p)) for p in PROMPTS
  )  # one prefill per prompt


def test_multi_token_stop_string_cuts_text_and_tokens(setup):
  torch_model, model, tok = setup
  expected = _hf_greedy(torch_model, tok, PROMPTS[0], 24)
  full = tok.decode(expected)
  # A stop string spanning several tokens in the middle of the greedy continuation.
  pieces = [tok.decode(expected[:k]) for k in range(len(expected) + 1)]
  start_tok = 5
  stop = full[len(pieces[start_tok]) + 1 : len(pieces[start_tok + 3])]
  assert len(tok.encode(stop, add_special_tokens=False)) >= 2
  engine = Engine(model, tok, EngineConfig(decode_chunk=4))
  [[cand]] = engine.expand(
    [PROMPTS[0]], 1, SamplingParams(temperature=0.0, max_new_tokens=24, stop=(stop,))
  )
  assert cand.stop_reason == "stop"
  assert cand.text.endswith(stop) and cand.text.count(stop) == 1
  assert cand.text == full[: full.index(stop) + len(stop)]
  assert list(cand.token_ids) == expected[: len(cand.token_ids)]
  assert tok.decode(list(cand.token_ids)).startswith(cand.text)
  assert stop not in tok.decode(list(cand.token_ids[:-1]))
  # A stop found only after the whole continuation was generated: the extra tokens are dropped.
  late = engine._candidate(np.asarray(expected), np.zeros(len(expected)), -1, (stop,))  # pylint: disable=protected-access
  assert (late.text, late.token_ids, late.stop_reason) == (cand.text, cand.token_ids, "stop")


def test_budget_and_early_stopping_rows_do_not_corrupt_others(setup):
  _, model, tok = setup
  engine = Engine(model, tok)
  budgets = {}
  for max_new in (3, 17):
    out = engine.expand(
      PROMPTS, 1, SamplingParams(temperature=0.0, max_new_tokens=max_new, stop=("<eos>",))
    )
    budgets[max_new] = [c[0] for c in out]
    assert all(len(c[0].token_ids) <= max_new for c in out)
  for short, long in zip(budgets[3], budgets[17]):
    assert long.token_ids[: len(short.token_ids)] == short.token_ids
  # A prompt alone gives the same tokens as in a batch with others that stop earlier.
  alone = engine.expand(
    [PROMPTS[1]], 1, SamplingParams(temperature=0.0, max_new_tokens=17, stop=("<eos>",))
  )
  assert alone[0][0].token_ids == budgets[17][1].token_ids


def test_no_stop_strings_generate_up_to_the_budget(setup):
  _, model, tok = setup
  out = Engine(model, tok).expand(PROMPTS, 2, SamplingParams(max_new_tokens=9, stop=()))
  assert all(len(c.token_ids) == 9 or c.stop_reason == "eos" for row in out for c in row), (
    "an empty stop table must match nothing"
  )


def test_sampling_is_seeded_and_logprobs_add_up(setup):
  _, model, tok = setup
  engine = Engine(model, tok)
  params = SamplingParams(
    temperature=1.0, top_k=50, top_p=0.9, max_new_tokens=12, stop=("<end_of_step>",), seed=7
  )
  a = engine.expand(PROMPTS[:2], 4, params)
  b = engine.expand(PROMPTS[:2], 4, params)
  assert [[c.token_ids for c in row] for row in a] == [[c.token_ids for c in row] for row in b]
  assert len({c.token_ids for c in a[0]}) > 1  # samples differ from each other
  c = engine.expand(PROMPTS[:2], 4, SamplingParams(**{**params.__dict__, "seed": 8}))
  assert [[x.token_ids for x in row] for row in a] != [[x.token_ids for x in row] for row in c]
  assert all(x.logprob_sum < 0 for row in a for x in row)


def test_a_repeated_prompt_is_independent_requests(setup):
  _, model, tok = setup
  engine = Engine(model, tok)
  repeated = [PROMPTS[0], PROMPTS[1], PROMPTS[0], PROMPTS[0]]
  params = SamplingParams(temperature=1.0, max_new_tokens=10, stop=("<end_of_step>",), seed=3)
  rows = [tuple(c.token_ids for c in row) for row in engine.expand(repeated, 2, params)]
  assert len({rows[0], rows[2], rows[3]}) == 3  # every occurrence samples on its own
  again = [tuple(c.token_ids for c in row) for row in engine.expand(repeated, 2, params)]
  assert again == rows
  # Greedy decoding has nothing to draw: every occurrence gets the same step.
  greedy = [[(c.text, c.token_ids) for c in row] for row in engine.expand(repeated, 2, GREEDY)]
  assert greedy[0] == greedy[2] == greedy[3]
  assert engine.stats.prompts == 3 * len(repeated)  # each occurrence is its own request


def test_generation_stops_at_the_end_of_the_context(setup):
  _, model, tok = setup
  assert [len(tok.encode(p)) for p in PROMPTS] == [19, 113, 23]
  params = SamplingParams(temperature=0.0, max_new_tokens=8, stop=("<end_of_answer>",))
  free = Engine(model, tok).expand(PROMPTS, 2, params)
  # A 30-token context leaves room for 11 new tokens after PROMPTS[0] (its budget of 8 fits), 7
  # after PROMPTS[2] and none after PROMPTS[1].
  out = Engine(model, tok, EngineConfig(max_seq_len=30)).expand(PROMPTS, 2, params)
  assert [(c.token_ids, c.stop_reason) for c in out[0]] == [
    (c.token_ids, c.stop_reason) for c in free[0]
  ]
  assert all(c.stop_reason == "length" for c in free[2])
  for cut, whole in zip(out[2], free[2]):
    assert (cut.token_ids, cut.stop_reason) == (whole.token_ids[:7], "context")
    assert cut.text == tok.decode(list(cut.token_ids))
  assert out[1] == [Candidate(text="", token_ids=(), stop_reason="context", logprob_sum=0.0)] * 2


@pytest.mark.slow  # Compiles every bucket (20 s).
def test_recompilation_is_bounded_by_buckets(setup):
  _, model, tok = setup
  engine = Engine(model, tok, EngineConfig(min_length_bucket=32, min_batch_bucket=2))
  rng = np.random.RandomState(0)
  words = ["step", "end", "answer", "output", "code", "print", "total", "apples"]
  compiled_before = engine._decode._cache_size()  # jit caches are shared by engines of one process
  for _ in range(6):
    batch = [" ".join(rng.choice(words, rng.randint(2, 30))) for _ in range(rng.randint(1, 7))]
    engine.expand(
      batch, 2, SamplingParams(temperature=0.8, max_new_tokens=8, seed=int(rng.randint(99)))
    )
  # Batch buckets {2, 4, 8} x length buckets {32, 64, 128} x 3 programs at most, same n and budget.
  assert engine.stats.compiled_programs <= 3 * 3 * 3
  assert (
    engine._decode._cache_size() - compiled_before <= 9
  )  # what XLA really compiled: within the bound


@pytest.mark.parametrize(
  "call, message",
  [
    (lambda e: e.expand([], 2, GREEDY), "at least one prompt"),
    (lambda e: e.expand(["x"], 0, GREEDY), "n must be a positive integer"),
    (lambda e: e.expand("abc", 1, GREEDY), "sequence of strings"),
  ],
)
def test_bad_input_clear_errors(setup, call, message):
  _, model, tok = setup
  with pytest.raises((ValueError, TypeError), match=message):
    call(Engine(model, tok))


@pytest.mark.parametrize(
  "kwargs",
  [
    dict(stop="<end_of_step>"),
    dict(stop=("",)),
    dict(top_p=0.0),
    dict(temperature=-1.0),
    dict(max_new_tokens=0),
  ],
)
def test_bad_sampling_settings(kwargs):
  with pytest.raises(ValueError):
    SamplingParams(**kwargs)


def test_scorer_matches_value_model_at_last_token(setup):
  _, model, tok = setup
  ppm = ValueModel.from_policy(model)
  scorer = Scorer(ppm, tok, ScorerConfig(squash="none"))
  texts = [PROMPTS[0], PROMPTS[1], PROMPTS[0] + "<end_of_step>"]
  got = scorer.score(texts)
  for text, value in zip(texts, got):
    ids = np.asarray([tok.encode(text)])
    assert value == pytest.approx(float(np.asarray(ppm(ids))[0, -1]), abs=1e-5)
  squashed = Scorer(ppm, tok).score(texts)
  np.testing.assert_allclose(squashed, np.tanh(got / 5), atol=1e-6)
  assert scorer.score([]).shape == (0,)


def test_scorer_reads_an_overlong_text_from_its_last_tokens(setup):
  _, model, tok = setup
  ppm = ValueModel.from_policy(model)
  scorer = Scorer(ppm, tok, ScorerConfig(max_seq_len=32, squash="none"))
  got = scorer.score([PROMPTS[0], PROMPTS[1]])  # 19 and 113 tokens
  for text, value in zip(PROMPTS[:2], got):
    tail = np.asarray([tok.encode(text)[-32:]])
    assert value == pytest.approx(float(np.asarray(ppm(tail))[0, -1]), abs=1e-5)
  with pytest.raises(ValueError, match="text 1 encodes to no tokens"):
    scorer.score([PROMPTS[0], ""])


@pytest.mark.parametrize(
  "kwargs, message",
  [
    (dict(squash="softmax"), "squash"),
    (dict(min_length_bucket=0), "min_length_bucket"),
    (dict(max_prefill_tokens=0), "max_prefill_tokens"),
  ],
)
def test_bad_scorer_settings(kwargs, message):
  with pytest.raises(ValueError, match=message):
    ScorerConfig(**kwargs)


def test_scorer_takes_its_own_config(setup):
  _, model, tok = setup
  with pytest.raises(TypeError, match="ScorerConfig"):
    Scorer(ValueModel.from_policy(model), tok, EngineConfig())
