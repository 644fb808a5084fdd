"""Round 1 as the paper runs it: another model searches with the official 2-shot prompt and stops,
while SFT starts from the base policy with its own tokenizer plus the step markers."""

import dataclasses
import hashlib
import json

import pytest
from test_train_helpers import CORPUS
from tiny_hf import make_tiny_hf_model
import tokenizers
from tokenizers import decoders
from tokenizers import models as bpe_models
from tokenizers import pre_tokenizers
from tokenizers import trainers
from transformers import PreTrainedTokenizerFast

from configs import qwen25_math_1_5b
from configs import world
from launch import run_config
from rstar_jax import hf
from rstar_jax import inference
from rstar_jax import models
from rstar_jax.data import records
from rstar_jax.data import schemas
from rstar_jax.evolution import plan as plan_lib
from rstar_jax.evolution.layout import RunLayout
from rstar_jax.evolution.pipeline import Pipeline
from rstar_jax.evolution.pipeline import PreflightError
from rstar_jax.format import fewshot
from rstar_jax.format import prompts
from rstar_jax.inference import stops

QUESTION = "What is 3 plus 4?"
# config/sample_mcts.yaml line 11.
OFFICIAL_STOPS = ("<end_of_step>", "<end_of_code>", "<end_of_output>", "<end_of_answer>")
# sha256 of `rstar_prompt_wrap("What is $3 + 5$?", PARTIAL, config/sample_mcts.yaml)` run on the
# official few_shots.json and mcts_prompt.json, its `random.sample` keeping the file's order.
OFFICIAL_SHA256 = "069d165b4c6162ed25d243b93cf1086621177264cdd75f598c8452668f0ddbb0"
PARTIAL = "<code>\nx = 3 + 5\n<end_of_step>"


def test_fewshot_prompt_is_the_official_template():
  text = fewshot.fewshot_prompt("What is $3 + 5$?") + PARTIAL
  assert hashlib.sha256(text.encode()).hexdigest() == OFFICIAL_SHA256
  assert text.startswith(
    "You are a powerful agent with broad math knowledge and great python programming skills."
  )
  assert text.count("Question: ") == 4  # The template's, two examples', the turn's.
  first, second = fewshot.EXAMPLES
  expected_tail = (
    "put your final answer's numerical part (without unit, only focus on the numerical part if "
    "it's a choice question) in \\boxed{}.<end_of_answer>\n"
    "The following are 2 demonstration examples.\n"
    f"{first}\n{second}\n"
    "\nNow! It's your turn.\nQuestion: What is $3 + 5$?\n" + PARTIAL
  )
  assert text.endswith(expected_tail)
  assert first.endswith("\\boxed{16} times to lift the same total weight.\n<end_of_answer>")
  assert second.endswith(
    "<end_of_output><answer>From the result, we can see that the value of x is "
    "\\boxed{\\frac{20}{3}}\n<end_of_answer>"
  )


def test_restyle_keeps_the_solution_and_replaces_only_the_prompt():
  plain = prompts.policy_prompt(QUESTION) + PARTIAL
  assert fewshot.restyle(plain, "plain") == plain
  assert fewshot.restyle(plain, "official_fewshot") == fewshot.fewshot_prompt(QUESTION) + PARTIAL
  with pytest.raises(ValueError, match="prompt style"):
    fewshot.restyle(plain, "chat")


class _Recorder:
  def __init__(self):
    self.prompts = []

  def expand(self, prompts_, n, sampling):
    self.prompts += prompts_
    return [[] for _ in prompts_]


def test_prompted_engine_shows_the_model_the_fewshot_prompt():
  recorder = _Recorder()
  engine = inference.PromptedEngine(recorder, "official_fewshot")
  engine.expand([prompts.policy_prompt(QUESTION)], 2, inference.SamplingParams())
  assert recorder.prompts == [fewshot.fewshot_prompt(QUESTION)]
  with pytest.raises(ValueError, match="prompt style"):
    inference.PromptedEngine(recorder, "chat")


def test_bootstrap_stops_end_a_step_at_a_written_output_block():
  assert prompts.BOOTSTRAP_STOPS == OFFICIAL_STOPS
  text = "print(x)\n<output>7<end_of_output><answer>"
  assert stops.first_stop_end(text, prompts.BOOTSTRAP_STOPS) == text.index("<answer>")
  assert stops.first_stop_end(text, prompts.STEP_STOPS) is None


def _paper(**bootstrap):
  c = qwen25_math_1_5b.get_config()
  c.bootstrap.policy, c.problems.train, c.problems.heldout = "/p", "/t.jsonl", "/h.jsonl"
  for name, value in bootstrap.items():
    c.bootstrap[name] = value
  return run_config.run_config(c)


def test_paper_config_prompts_and_stops_round_one_as_the_official_bootstrap(tmp_path):
  config = _paper(search_policy="/strong")
  assert config.bootstrap.search_policy == "/strong"
  pipeline = Pipeline(config, RunLayout(tmp_path))
  first, second = plan_lib.make_plan(config.rounds)[:2]
  assert (first.prompt, second.prompt) == ("official_fewshot", "plain")
  assert pipeline.search_config(first).stops == OFFICIAL_STOPS
  assert pipeline.search_config(second).stops == prompts.STEP_STOPS


def test_the_world_keeps_its_plain_prompt_in_round_one(tmp_path):
  config = run_config.run_config(world.get_config())
  first = plan_lib.make_plan(config.rounds)[0]
  assert first.prompt == "plain" and config.bootstrap.search_policy == ""
  assert Pipeline(config, RunLayout(tmp_path)).search_config(first).stops == prompts.STEP_STOPS


def test_a_bad_round_one_prompt_names_its_field():
  c = world.get_config()
  c.rounds.bootstrap_prompt = "chat"
  with pytest.raises(run_config.ConfigError, match=r"config\.rounds\.bootstrap_prompt"):
    run_config.run_config(c)


def _bpe(vocab_size: int, corpus: list[str]) -> PreTrainedTokenizerFast:
  """A byte-level BPE without the step markers, as a base or general model's tokenizer. Its end
  of text is Qwen2's: transformers adds that token to a Qwen2 folder's tokenizer lacking it."""
  eos = "<|endoftext|>"
  tok = tokenizers.Tokenizer(bpe_models.BPE())
  tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
  tok.decoder = decoders.ByteLevel()
  trainer = trainers.BpeTrainer(
    vocab_size=vocab_size,
    special_tokens=[eos, "<pad>"],
    initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
  )
  tok.train_from_iterator(corpus * 4, trainer)
  return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=eos, pad_token="<pad>")


def _save_policy(path, tok):
  """A random tiny Qwen2 causal LM with exactly `tok`'s vocabulary, as an HF folder."""
  make_tiny_hf_model(
    path,
    vocab_size=len(tok),
    num_layers=1,
    eos_token_id=tok.eos_token_id,
    pad_token_id=tok.pad_token_id,
  )
  tok.save_pretrained(path)
  return path


def _write_problems(path, problems_):
  path.write_text("".join(json.dumps(p) + "\n" for p in problems_), encoding="utf-8")
  return path


# The round-1 sampler's steps, by what the partial solution ends with: a correct solution.
SCRIPT = {
  "": "<code>\nx = 3 + 4\n<end_of_step>",
  prompts.END_OF_STEP: "print(x)\n<end_of_code>",
  prompts.END_OF_OUTPUT: "\n<answer>The answer is \\boxed{7}.<end_of_answer>",
}


def _scripted_step(solution: str) -> str:
  ends = [end for end in SCRIPT if end and solution.endswith(end)]
  return SCRIPT[ends[0] if ends else ""]


@pytest.fixture
def round_one(tmp_path):
  """A run whose base policy and round-1 search policy have different tokenizers."""
  base_tok = _bpe(300, CORPUS)
  search_tok = _bpe(800, [fewshot.INSTRUCTIONS, *fewshot.EXAMPLES])
  c = world.get_config()
  c.run_dir = str(tmp_path / "run")
  c.progress = False
  c.sandbox_workers = 1
  c.bootstrap.policy = str(_save_policy(tmp_path / "base", base_tok))
  c.bootstrap.search_policy = str(_save_policy(tmp_path / "strong", search_tok))
  problem = {"id": "p0", "question": QUESTION, "answer": "7"}
  c.problems.train = str(_write_problems(tmp_path / "train.jsonl", [problem]))
  c.problems.heldout = str(_write_problems(tmp_path / "heldout.jsonl", [problem]))
  c.rounds.bootstrap_rollouts = 1
  c.rounds.problems_per_round = 0  # Every round searches the one problem.
  c.rounds.bootstrap_prompt = "official_fewshot"
  c.rounds.bootstrap_stops = prompts.BOOTSTRAP_STOPS
  c.search.num_candidates = 2
  c.search.step_max_tokens = 4
  c.sft.batch_size = 1
  c.sft.epochs = 2.0
  c.sft.max_len = 128
  config = run_config.run_config(c)
  return Pipeline(config, RunLayout(tmp_path / "run")), base_tok, search_tok


def test_preflight_checks_the_search_policy_folder(round_one, tmp_path):
  pipeline, _, _ = round_one
  pipeline.preflight()
  deepseek = tmp_path / "deepseek"
  deepseek.mkdir()
  (deepseek / "config.json").write_text('{"model_type": "deepseek_v2"}')
  for bad in (tmp_path / "missing", tmp_path / "train.jsonl", deepseek):
    config = dataclasses.replace(
      pipeline.config,
      bootstrap=dataclasses.replace(pipeline.config.bootstrap, search_policy=str(bad)),
    )
    with pytest.raises(PreflightError, match=r"config\.bootstrap\.search_policy: "):
      Pipeline(config, pipeline.layout).preflight()


def test_round_one_searches_with_its_own_model_and_the_fewshot_prompt(round_one, monkeypatch):
  pipeline, _, search_tok = round_one
  seen = []
  real_expand = inference.Engine.expand

  def spy(engine, texts, n, sampling):
    # The search policy really samples from the few-shot prompt; the returned steps are a script
    # so that round 1 yields a correct trajectory.
    seen.append((len(engine.tokenizer), engine.model_config.vocab_size, list(texts), sampling.stop))
    real_expand(engine, texts, n, sampling)
    head = fewshot.fewshot_prompt(QUESTION)
    return [
      [inference.Candidate(_scripted_step(t.removeprefix(head)), (), "stop", 0.0)] * n
      for t in texts
    ]

  monkeypatch.setattr(inference.Engine, "expand", spy)
  first = plan_lib.make_plan(pipeline.config.rounds)[0]
  pipeline.search(first)
  assert len(seen) == len(SCRIPT)
  for tokens, vocab_size, texts, stop in seen:
    assert tokens == vocab_size == len(search_tok)
    assert all(t.startswith(fewshot.fewshot_prompt(QUESTION)) for t in texts)
    assert stop == prompts.BOOTSTRAP_STOPS

  # Extraction reads text only: the SFT example is the plain prompt and the steps, no few-shot.
  assert pipeline.extract(first)["sft_examples"] == 1
  (example,) = records.read_dataset(pipeline.layout.sft_data(1))
  assert example["prompt"] == prompts.policy_prompt(QUESTION)
  assert example["response"] == "".join(SCRIPT.values()).replace(
    "<end_of_code>", "<end_of_code>\n<output>7<end_of_output>"
  )


def test_round_one_sft_starts_from_the_base_policy_and_its_tokenizer(round_one):
  pipeline, base_tok, search_tok = round_one
  example = schemas.SFTExample("p0", prompts.policy_prompt(QUESTION), "".join(SCRIPT.values()))
  records.write_dataset(pipeline.layout.sft_data(1), [example.to_record()], schema="sft")
  summary = pipeline.train_sft(plan_lib.make_plan(pipeline.config.rounds)[0])
  trained = pipeline.layout.hf_dir(1, "sft")
  assert summary["hf_dir"] == str(trained)
  marked = len(base_tok) + len(prompts.STEP_MARKERS)
  assert marked != len(search_tok)
  assert models.ModelConfig.from_hf(trained).vocab_size == marked
  saved = hf.load_tokenizer(trained)
  assert len(saved) == marked and saved.eos_token == base_tok.eos_token
  assert saved.convert_tokens_to_ids(prompts.CODE) >= len(base_tok)
