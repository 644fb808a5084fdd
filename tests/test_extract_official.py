"""Extraction against the official rStar-Math rules, on hand-built trees with explicit Q-values.

Every expected example and pair below was worked out by hand from `extra_rm_file.py`,
`train/sample_rm_data.py`, `extra_sft_file.py` and `train/sample_sft_data.py`. Step texts are
made of one repeated letter, so two different steps are 30 edits apart and a near-copy 1.
"""

import re

import pytest

from rstar_jax.data import records
from rstar_jax.data import schemas
from rstar_jax.domains import base as domain_base
from rstar_jax.format import prompts
from rstar_jax.search import extract
from rstar_jax.search import tree as tree_lib

QUESTION = "What is 1 + 1?"
BASE = prompts.policy_prompt(QUESTION)


def step(tag: str) -> str:
  return f"<code>\n{tag * 30}\n<end_of_step>"


def answer_text(tag: str) -> str:
  return f"<answer>{tag * 30} \\boxed{{2}}<end_of_answer>"


def new_tree() -> tree_lib.Tree:
  return tree_lib.Tree("t", QUESTION, "2")


def node(tree, parent, text, q, **fields) -> tree_lib.Node:
  return tree.add_child(parent, text=text, visits=1, value_sum=q, **fields)


def answer(tree, parent, tag, correct) -> tree_lib.Node:
  q = 1.0 if correct else -1.0
  return node(tree, parent, answer_text(tag), q, terminal=True, answer="2", correct=correct)


def invalid(tree, parent, tag, reason, **fields) -> tree_lib.Node:
  return node(tree, parent, step(tag), -1.0, terminal=True, invalid=reason, correct=False, **fields)


def pair(prompt, pos, neg, counts, completions) -> schemas.PPMPair:
  """The expected pair of sibling nodes `pos`, `neg` under `prompt`."""
  return schemas.PPMPair("t", prompt, pos.text, neg.text, pos.q, neg.q, *counts, *completions)


def invalid_terminals_tree():
  """root ─ a (0.8) ── correct           a: the only positive
  ├ b (-0.9) ── code-error leaf  b: no valid answer below, so no negative
  ├ c (-0.5) ┬─ wrong            c: the only negative (its too-deep leaf is neither)
  │          └─ too-deep leaf
  └ d (-0.95) ── no-answer leaf  d: neither
  """
  tree = new_tree()
  a = node(tree, tree.root, step("a"), 0.8)
  answer(tree, a, "A", True)
  b = node(tree, tree.root, step("b"), -0.9)
  invalid(tree, b, "B", domain_base.INVALID_CODE_ERRORS, code_error=True, consecutive_errors=2)
  c = node(tree, tree.root, step("c"), -0.5)
  answer(tree, c, "C", False)
  invalid(tree, c, "D", domain_base.INVALID_TOO_DEEP)
  d = node(tree, tree.root, step("d"), -0.95)
  invalid(tree, d, "E", domain_base.INVALID_NO_ANSWER)
  return tree, a, c


def test_invalid_terminals_are_neither_positives_nor_negatives():
  tree, a, c = invalid_terminals_tree()
  # Only 1 chosen (a) and 1 rejected (c): both sides widen to 4 and stay at 1.
  # Margin 1.3; mean Q of a→correct 0.9 > c→wrong -0.75; 30 edits.
  completions = (answer_text("A"), answer_text("C"))
  assert extract.step_pairs(tree) == [pair(BASE, a, c, (1, 1), completions)]
  assert extract.difficulty(tree) == extract.MEDIUM


def test_difficulty_counts_valid_answers_only():
  easy = new_tree()
  answer(easy, node(easy, easy.root, step("a"), 1.0), "A", True)
  b = node(easy, easy.root, step("b"), -1.0)
  invalid(easy, b, "B", domain_base.INVALID_CODE_ERRORS, code_error=True)
  assert extract.difficulty(easy) == extract.EASY  # The code-error leaf is no wrong answer.
  assert extract.ppm_pairs(easy) == []
  hard = new_tree()
  invalid(hard, hard.root, "B", domain_base.INVALID_CODE_ERRORS, code_error=True)
  invalid(hard, hard.root, "C", domain_base.INVALID_TOO_DEEP)
  assert extract.difficulty(hard) == extract.HARD


def test_margin_and_edit_distance_filters():
  """root ─ p (0.9) ─ correct; q (0.2) ─ correct; r (-0.2) ─ wrong; s (-0.8, p with 1 edit) ─ wrong.

  Chosen p, q; rejected s, r (lowest Q first). p–s: 1 edit; q–r: margin 0.4 < 0.5.
  """
  tree = new_tree()
  p = node(tree, tree.root, step("p"), 0.9)
  answer(tree, p, "P", True)
  q = node(tree, tree.root, step("q"), 0.2)
  answer(tree, q, "Q", True)
  r = node(tree, tree.root, step("r"), -0.2)
  answer(tree, r, "R", False)
  s = node(tree, tree.root, step("p").replace("ppp", "pps", 1), -0.8)
  answer(tree, s, "S", False)

  def expected(x, y, tags):
    return pair(BASE, x, y, (2, 2), tuple(answer_text(t) for t in tags))

  assert extract.step_pairs(tree) == [expected(p, r, "PR"), expected(q, s, "QS")]
  loose = extract.ExtractConfig(min_step_margin=0.0, min_edit_distance=0)
  assert extract.step_pairs(tree, loose) == [
    expected(p, s, "PS"),
    expected(p, r, "PR"),
    expected(q, s, "QS"),
    expected(q, r, "QR"),
  ]


def test_best_path_must_beat_worst_path_in_mean_q():
  """root ─ x (0.3) ┬ x1 (-0.9) ─ correct   best path under x: 0.3, -0.9, 1 → mean 0.133
          │         └ xd (0.9), unexpanded (no answer below: not on the path)
          └ y (-0.3) ┬ y1 (0.95) ─ y2 (0.95) ─ wrong   worst path: -0.3, 0.95, 0.95, -1 → 0.15
                     └ yd (-1.0), unexpanded
  The margin is 0.6, but 0.133 < 0.15 drops the pair.
  """
  tree = new_tree()
  x = node(tree, tree.root, step("x"), 0.3)
  answer(tree, node(tree, x, step("1"), -0.9), "X", True)
  node(tree, x, step("2"), 0.9)
  y = node(tree, tree.root, step("y"), -0.3)
  y1 = node(tree, y, step("3"), 0.95)
  answer(tree, node(tree, y1, step("4"), 0.95), "Y", False)
  node(tree, y, step("5"), -1.0)
  assert extract.step_pairs(tree) == []
  unfiltered = extract.ExtractConfig(path_filter=False)
  completions = (step("1") + answer_text("X"), step("3") + step("4") + answer_text("Y"))
  assert extract.step_pairs(tree, unfiltered) == [pair(BASE, x, y, (1, 1), completions)]


def test_a_single_positive_widens_the_negatives_to_four():
  """One correct child c (0.7); wrong children -0.9 … 0.1 created out of order; a code-error
  child with the lowest Q takes no slot. Rejected: the 4 lowest, lowest first."""
  tree = new_tree()
  qs = {"3": -0.5, "1": -0.9, "5": 0.1, "2": -0.7, "4": -0.3}
  wrong = {}
  for tag, q in qs.items():
    wrong[tag] = node(tree, tree.root, step(tag), q)
    answer(tree, wrong[tag], tag + "w", False)
  c = node(tree, tree.root, step("c"), 0.7)
  answer(tree, c, "C", True)
  e = node(tree, tree.root, step("e"), -1.0)
  invalid(tree, e, "E", domain_base.INVALID_CODE_ERRORS, code_error=True)
  assert extract.step_pairs(tree) == [
    pair(BASE, c, wrong[t], (1, 4), (answer_text("C"), answer_text(t + "w"))) for t in "1234"
  ]


def test_a_single_negative_widens_the_positives_to_four():
  """One wrong child r (-0.6); correct children 0.6, 0.7, 0.9, 0.7, 0.5 in creation order.
  Chosen: the 4 highest, ties in creation order."""
  tree = new_tree()
  good = [node(tree, tree.root, step(t), q) for t, q in zip("abcde", (0.6, 0.7, 0.9, 0.7, 0.5))]
  for tag, g in zip("ABCDE", good):
    answer(tree, g, tag, True)
  r = node(tree, tree.root, step("r"), -0.6)
  answer(tree, r, "R", False)
  assert extract.step_pairs(tree) == [
    pair(BASE, good[i], r, (4, 1), (answer_text("ABCDE"[i]), answer_text("R")))
    for i in (2, 1, 3, 0)
  ]


def test_mixed_child_is_on_both_sides_and_the_search_descends():
  """root ─ a (0.1) ┬ correct (1)    a has both outcomes below: chosen, and rejected after b
          │         └ wrong (-1)
          └ b (-0.7) ─ wrong
  Root: chosen [a] widens rejected to [b, a]; a–a has no margin. Then a's own children pair up
  under the prefix a."""
  tree = new_tree()
  a = node(tree, tree.root, step("a"), 0.1)
  good = answer(tree, a, "G", True)
  bad = answer(tree, a, "W", False)
  b = node(tree, tree.root, step("b"), -0.7)
  answer(tree, b, "B", False)
  assert extract.step_pairs(tree) == [
    pair(BASE, a, b, (1, 2), (answer_text("G"), answer_text("B"))),
    pair(BASE + a.text, good, bad, (1, 1), ("", "")),
  ]


def test_answer_pairs_are_off_by_default():
  tree, a, c = invalid_terminals_tree()
  (step_pair,) = extract.ppm_pairs(tree)
  with_answers = extract.ppm_pairs(tree, extract.ExtractConfig(answer_pairs=True))
  # Full trajectories: a→correct (mean 0.9) against c→wrong (-0.75), the only wrong answer.
  good, bad = a.text + answer_text("A"), c.text + answer_text("C")
  assert with_answers == [
    step_pair,
    schemas.PPMPair("t", BASE, good, bad, 0.9, -0.75, 1, 1, "", ""),
  ]


def sft_tree():
  """Correct trajectories by (mean Q, min Q): e (0.95, 0.9; its output shows a NameError),
  t4 (0.5, 0.25), t2 (0.5, 0), t3 (0.4, -0.2); a wrong one has mean 0.6."""
  tree = new_tree()
  err = prompts.output_block("NameError: name 'x' is not defined")
  e = node(tree, tree.root, step("e").replace("<end_of_step>", "<end_of_code>") + err, 0.9)
  e.code_error = True
  answer(tree, e, "E", True)
  t2 = node(tree, tree.root, step("2"), 0.0)
  answer(tree, t2, "2", True)
  t4 = node(tree, tree.root, step("4"), 0.25)
  answer(tree, node(tree, t4, step("5"), 0.25), "4", True)
  t3 = node(tree, tree.root, step("3"), -0.2)
  answer(tree, t3, "3", True)
  w = tree.root
  for tag in "wxyz":
    w = node(tree, w, step(tag), 1.0)
  answer(tree, w, "W", False)
  return tree, step("4") + step("5") + answer_text("4"), step("2") + answer_text("2")


def test_sft_takes_the_top_two_then_drops_those_with_errors():
  tree, t4, t2 = sft_tree()
  # Top 2: e, t4; e's text contains "Error", so one example is left.
  assert [t.text for t in extract.sft_trajectories(tree)] == [t4]
  clean_first = extract.ExtractConfig(sft_rule="clean_first")
  assert [t.text for t in extract.sft_trajectories(tree, clean_first)] == [t4, t2]
  assert extract.sft_examples(tree) == [schemas.SFTExample("t", BASE, t4)]


def test_sft_ties_follow_depth_first_order():
  """p and q tie on (mean, min); q's answer node was created first, p comes first depth-first."""
  tree = new_tree()
  p = node(tree, tree.root, step("p"), 0.5)
  q = node(tree, tree.root, step("q"), 0.5)
  answer(tree, q, "Q", True)
  answer(tree, p, "P", True)
  texts = [t.text for t in extract.sft_trajectories(tree)]
  assert texts == [p.text + answer_text("P"), q.text + answer_text("Q")]


def test_edit_distance():
  assert extract.edit_distance("kitten", "sitting", 20) == 3
  assert extract.edit_distance("", "abcd", 20) == 4
  assert extract.edit_distance("abcdef", "badcfe", 20) == 4
  assert extract.edit_distance("a" * 50, "b" * 50, 20) == 20  # Capped.
  assert extract.edit_distance("x" * 40, "x" * 19, 20) == 20  # Lengths alone decide.
  assert extract.edit_distance("xyz" * 10, "xyz" * 9 + "xzy", 20) == 2


def test_extracted_datasets_carry_the_counts(tmp_path):
  tree, a, c = invalid_terminals_tree()
  summary = extract.extract([tree, sft_tree()[0]], tmp_path / "sft", tmp_path / "ppm")
  assert summary.difficulty == {"easy": 0, "medium": 2, "hard": 0}
  assert summary.ppm_pairs == 1 and summary.sft_examples == 2
  ((_, got),) = records.read_examples(tmp_path / "ppm", schemas.PPMPair)
  assert got == pair(BASE, a, c, (1, 1), (answer_text("A"), answer_text("C")))


@pytest.mark.parametrize(
  "fields, message",
  [
    ({"sft_rule": "best"}, "sft_rule must be official|clean_first"),
    ({"widened_side": 0}, "widened_side must be >= 1"),
    ({"min_edit_distance": -1}, "min_edit_distance must be >= 0"),
  ],
)
def test_bad_config_is_named(fields, message):
  with pytest.raises(ValueError, match=re.escape(message)):
    extract.ExtractConfig(**fields)


def test_trees_written_twice_are_loaded_once(tmp_path):
  """Two processes that raced on one run directory wrote the same problem twice."""
  trees = [tree_lib.Tree(f"p{i}", "q", "1") for i in range(3)]
  shards = records.ShardSequence(tmp_path / "trees", "trees")
  shards.append([t.to_dict() for t in trees[:2]])
  shards.append([{**t.to_dict(), "question": "again"} for t in trees[1:]])
  loaded = extract.load_trees(tmp_path / "trees")
  assert [(t.problem_id, t.question) for t in loaded] == [("p0", "q"), ("p1", "q"), ("p2", "again")]
