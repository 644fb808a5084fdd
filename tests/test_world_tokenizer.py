"""The built-in world's tokenizer: byte-level round trips, single-token markers, HF format."""

import pytest
import transformers

from rstar_jax import hf
from rstar_jax.format import prompts
from rstar_jax.world import generator
from rstar_jax.world import tokenizer as tokenizer_lib

SOLUTION = (
  "<code>\n# Step 1: apples at the start\napples = 12\n<end_of_step>\n"
  "# Now print the final answer\nprint(apples)\n<end_of_code>\n<output>12<end_of_output>\n"
  "<answer>The answer is \\boxed{12}.<end_of_answer>"
)


@pytest.fixture(scope="module")
def tok():
  texts = [
    prompts.policy_prompt(p.problem.question) + SOLUTION
    for p in generator.generate("train", 60, seed=3)
  ]
  return tokenizer_lib.train_tokenizer(texts, vocab_size=600)


def test_markers_pad_and_eos_are_single_tokens(tok):
  for marker in tokenizer_lib.SPECIAL_TOKENS:
    ids = tok(marker, add_special_tokens=False)["input_ids"]
    assert len(ids) == 1, (marker, ids)
  assert tok.pad_token_id == 0 and tok.eos_token_id == 1
  glued = tok("x = 1<end_of_step>\nprint(x)<end_of_code>", add_special_tokens=False)["input_ids"]
  assert tok.convert_tokens_to_ids(prompts.END_OF_STEP) in glued
  assert tok.convert_tokens_to_ids(prompts.END_OF_CODE) in glued


@pytest.mark.parametrize(
  "text",
  [
    prompts.policy_prompt("Mia has 12 apples.") + SOLUTION,
    "unseen text: naïve café, 你好, emoji 🙂, tabs\tand  spaces\n\n",
    "",
  ],
)
def test_round_trip_any_text(tok, text):
  ids = tok(text, add_special_tokens=False)["input_ids"]
  assert tok.decode(ids) == text


def test_vocab_bounded_and_compresses(tok):
  assert len(tok) <= 600
  text = prompts.policy_prompt("Mia has 12 apples.") + SOLUTION
  assert len(tok(text)["input_ids"]) < len(text.encode("utf-8")) / 2


def test_saved_folder_loads_with_auto_tokenizer(tok, tmp_path):
  path = tmp_path / "tok"
  tokenizer_lib.save_tokenizer(tok, path)
  tokenizer_lib.save_tokenizer(tok, path)  # Overwriting an existing folder is fine.
  for loaded in (
    transformers.AutoTokenizer.from_pretrained(str(path), local_files_only=True),
    hf.load_tokenizer(path),
  ):
    text = prompts.policy_prompt("Liam has 7 coins.") + SOLUTION
    assert loaded(text)["input_ids"] == tok(text)["input_ids"]
    assert loaded.pad_token == tokenizer_lib.PAD and loaded.eos_token == tokenizer_lib.EOS
  assert not (tmp_path / "tok.tmp").exists()


def test_saved_beside_a_qwen2_policy_it_still_splits_as_trained(tmp_path):
  """A policy folder's config.json names the qwen2 family, whose tokenizer class rebuilds its own
  pre-tokenizer; the world's tokenizer must come back as it was (here: indented code, whose
  newline-and-spaces merges Qwen2's pre-tokenizer would split apart)."""
  from test_train_helpers import tiny_policy  # pylint: disable=g-import-not-at-top

  from rstar_jax.runtime import mesh as mesh_lib  # pylint: disable=g-import-not-at-top

  code = [f"def f{i}(xs):\n    ys = [x * {i} for x in xs]\n    return ys\n" for i in range(300)]
  tok = tokenizer_lib.train_tokenizer(code, vocab_size=400)
  hf.save_model(tiny_policy(len(tok), mesh_lib.single_device_mesh()), tmp_path, tokenizer=tok)
  assert '"model_type": "qwen2"' in (tmp_path / "config.json").read_text()
  text = code[7] + SOLUTION
  assert hf.load_tokenizer(tmp_path)(text)["input_ids"] == tok(text)["input_ids"]


def test_a_corrupt_tokenizer_config_names_its_file(tmp_path):
  (tmp_path / "tokenizer_config.json").write_text("{not json", encoding="utf-8")
  with pytest.raises(hf.CheckpointError, match=r"tokenizer_config\.json"):
    hf.load_tokenizer(tmp_path)


def test_too_small_vocab_is_refused():
  with pytest.raises(ValueError, match="vocab_size"):
    tokenizer_lib.train_tokenizer(["abc"], vocab_size=100)


def test_digits_are_one_token_each(tok):
  """As in Qwen2's tokenizer: numbers are copied digit by digit, never as a whole-number token."""
  for text in (
    "Mia has 12345 apples.",
    "apples = apples * 75 // 100",
    "<output>196<end_of_output>",
  ):
    pieces = tok.convert_ids_to_tokens(tok(text, add_special_tokens=False)["input_ids"])
    digits = [p for p in pieces if any(c.isdigit() for c in p)]
    assert digits and all(len(p) == 1 for p in digits), pieces
