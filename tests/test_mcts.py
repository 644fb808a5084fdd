"""MCTS on hand-built trees: UCT, backup, terminal pruning, PPM init, dedup and answer rule."""

import dataclasses
import math

import numpy as np
import pytest

from rstar_jax.domains import base as domain_base
from rstar_jax.domains.math import MathDomain
from rstar_jax.search import mcts
from rstar_jax.search import scripted
from rstar_jax.search import steps
from rstar_jax.search import tree as tree_lib
from rstar_jax.search.config import SearchConfig


@dataclasses.dataclass
class _Exec:
  ok: bool
  stdout: str = ""
  error_type: str | None = None
  error_message: str | None = None


class _OkPool:
  """Every program runs and prints nothing; records what it was asked to run."""

  def __init__(self):
    self.calls = []

  def run_many(self, programs):
    self.calls.append(list(programs))
    return [_Exec(True) for _ in programs]


def _tree_with(children_stats, root_visits):
  """Root with children given as (visits, value_sum, terminal)."""
  tree = tree_lib.Tree("p", "q", "1")
  tree.root.visits = root_visits
  for visits, value_sum, terminal in children_stats:
    tree.add_child(tree.root, visits=visits, value_sum=value_sum, terminal=terminal)
  return tree


def test_q_and_uct_match_hand_computation():
  tree = _tree_with([(3, 1.5, False), (0, 0.0, False)], root_visits=5)
  visited, unvisited = tree.children(tree.root)
  assert visited.q == 0.5
  assert unvisited.q == 0.0
  assert tree_lib.uct(visited, tree.root, 2.0) == pytest.approx(
    0.5 + 2 * math.sqrt(math.log(5) / 3)
  )
  # Official semantics: unvisited scores 0 (no +inf), so a good visited child wins.
  assert tree_lib.uct(unvisited, tree.root, 2.0) == 0.0
  rng = np.random.default_rng(0)
  assert tree_lib.select_child(tree, tree.root, 2.0, rng) is visited


def test_unvisited_child_beats_bad_visited_child():
  # Parent N=1: ln(1) = 0, so the bad child scores Q = -1 < 0 = unvisited.
  tree = _tree_with([(1, -1.0, False), (0, 0.0, False)], root_visits=1)
  bad, fresh = tree.children(tree.root)
  assert tree_lib.select_child(tree, tree.root, 2.0, np.random.default_rng(0)) is fresh
  # Parent N=2: -1 + 2*sqrt(ln 2 / 1) = 0.665 > 0, exploration brings the bad child back.
  tree.root.visits = 2
  assert tree_lib.uct(bad, tree.root, 2.0) == pytest.approx(-1 + 2 * math.sqrt(math.log(2)))
  assert tree_lib.select_child(tree, tree.root, 2.0, np.random.default_rng(0)) is bad


def test_ties_are_broken_at_random():
  tree = _tree_with([(0, 0.0, False)] * 3, root_visits=0)
  picks = {
    tree_lib.select_child(tree, tree.root, 2.0, np.random.default_rng(s)).index for s in range(30)
  }
  assert picks == {1, 2, 3}


def test_terminal_children_are_skipped_and_all_terminal_prunes_parent():
  tree = tree_lib.Tree("p", "q", "1")
  a = tree.add_child(tree.root, visits=2, value_sum=2.0)  # best Q, but all its children terminal
  b = tree.add_child(tree.root, visits=1, value_sum=-1.0)
  tree.add_child(a, visits=1, value_sum=1.0, terminal=True)
  tree.add_child(a, visits=1, value_sum=1.0, terminal=True)
  tree.add_child(tree.root, visits=5, value_sum=5.0, terminal=True)  # terminal: never chosen
  tree.root.visits = 3
  leaf = tree_lib.select_leaf(tree, 2.0, np.random.default_rng(0))
  assert a.terminal  # pruned on the way
  assert leaf is b
  b.terminal = True
  assert tree_lib.select_leaf(tree, 2.0, np.random.default_rng(0)) is None
  assert tree.root.terminal  # exhausted


def test_backup_adds_value_and_visit_along_the_path():
  tree = tree_lib.Tree("p", "q", "1")
  a = tree.add_child(tree.root)
  b = tree.add_child(a)
  sibling = tree.add_child(tree.root)
  tree.backup(b, 1.0)
  tree.backup(b, -1.0)
  tree.backup(a, 1.0)
  assert (b.visits, b.value_sum) == (2, 0.0)
  assert (a.visits, a.value_sum) == (3, 1.0)
  assert (tree.root.visits, tree.root.value_sum) == (3, 1.0)
  assert (sibling.visits, sibling.value_sum) == (0, 0.0)
  assert a.q == pytest.approx(1 / 3)


MATH = MathDomain()


def test_dedup_and_answer_rule():
  texts = [
    "<code>\nx = 1\n<end_of_step>",
    "<code>\nx = 1\n<end_of_step>",
    "<answer>\\boxed{2}<end_of_answer>",
    "<code>\nx = 2\n<end_of_step>",
    "<answer>\\boxed{3}<end_of_answer>",
    "<answer>\\boxed{2}<end_of_answer>",
  ]
  candidates = [scripted.make_candidate(t) for t in texts]
  kept = steps.dedup(candidates, MATH, answer_only=False)
  assert [c.text for c in kept] == [texts[0], texts[2], texts[3]]
  assert [c.text for c in steps.dedup(candidates, MATH)] == [texts[2]]  # The official rule.
  assert [c.text for c in steps.dedup(candidates[:2] + candidates[3:4], MATH)] == [
    texts[0],
    texts[3],
  ]


def test_code_error_threshold_depth_limit_and_output_block():
  parent = tree_lib.Node(index=3, parent=0, depth=2, consecutive_errors=1)
  draft = domain_base.Draft(
    text="\nprint(x)\n<end_of_code>", stop_reason="stop", program="print(x)"
  )
  failed = _Exec(False, "", "NameError", "name 'x' is not defined")
  f = steps.child_fields(draft, failed, parent, MATH, max_code_errors=2, max_depth=16)
  assert f["terminal"] and f["invalid"] == domain_base.INVALID_CODE_ERRORS
  assert f["consecutive_errors"] == 2 and f["code_error"]
  assert f["text"].endswith("<output>NameError: name 'x' is not defined<end_of_output>")
  f = steps.child_fields(draft, failed, parent, MATH, max_code_errors=3, max_depth=16)
  assert not f["terminal"] and f["consecutive_errors"] == 2
  ok = _Exec(True, "18\n")
  f = steps.child_fields(draft, ok, parent, MATH, max_code_errors=1, max_depth=16)
  assert f["text"] == draft.text + "\n<output>18<end_of_output>"
  assert f["consecutive_errors"] == 0 and not f["terminal"]
  f = steps.child_fields(draft, ok, parent, MATH, max_code_errors=1, max_depth=3)
  assert f["terminal"] and f["invalid"] == domain_base.INVALID_TOO_DEEP


def test_math_classify():
  c = scripted.make_candidate
  d = MATH.classify(None, "", c("<code>\nx = 3\n<end_of_step>"))
  assert d.program is not None and "x = 3" in d.program and not d.terminal
  d = MATH.classify(None, "<code>\nx = 3\n<end_of_step>", c("\n<answer>\\boxed{3}<end_of_answer>"))
  assert d.terminal and d.answer == "3" and d.invalid is None
  assert (
    MATH.classify(None, "", c("<code>\nx = 3", "length")).invalid == domain_base.INVALID_TOO_LONG
  )
  for cut_by_context in ("<code>\nx = 3", ""):  # cut short, or no room left at all
    d = MATH.classify(None, "", c(cut_by_context, "context"))
    assert d.terminal and d.invalid == domain_base.INVALID_CONTEXT
  assert MATH.classify(None, "", c("I give up")).invalid == domain_base.INVALID_NO_ANSWER
  assert (
    MATH.classify(None, "", c("no code here<end_of_step>")).invalid == domain_base.INVALID_NO_CODE
  )


_GOOD = "<code>\n# good\nx = 1\n<end_of_step>"
_BAD = "<code>\n# bad\nx = 2\n<end_of_step>"
_ANSWER = "\n<answer>\\boxed{1}<end_of_answer>"


def test_ppm_mode_initialises_children_with_n1_and_is_greedy_on_ppm():
  policy = scripted.ScriptedPolicy({"": [_BAD, _GOOD], _GOOD: [_ANSWER], _BAD: [_ANSWER]})
  scorer = scripted.ScriptedScorer(lambda q, s: {_GOOD: 0.8, _BAD: -0.3}.get(s, 0.5))
  tree = tree_lib.Tree("p", "question", "1")
  cfg = SearchConfig(mode="ppm", rollouts=1, num_candidates=2)
  mcts.search_trees([tree], policy, scorer, _OkPool(), cfg)
  bad, good = tree.children(tree.root)
  assert (good.visits, good.value_sum) == (2, pytest.approx(0.8 + 1.0))
  assert (bad.visits, bad.value_sum) == (1, pytest.approx(-0.3))  # initialised, never backed up
  (answer,) = tree.children(good)
  assert answer.correct and (answer.visits, answer.value_sum) == (1, 1.0)
  assert (tree.root.visits, tree.root.value_sum) == (1, 1.0)
  assert good.terminal  # its only child is terminal
  assert len(policy.calls) == 2  # one rollout: root, then the greedy child


def test_eval_mode_backs_up_ppm_score_of_terminal():
  policy = scripted.ScriptedPolicy({"": [_GOOD], _GOOD: [_ANSWER]})
  scorer = scripted.ScriptedScorer(lambda q, s: 0.25 if s.endswith(_ANSWER) else 0.5)
  tree = tree_lib.Tree("p", "question", None)
  mcts.search_trees(
    [tree], policy, scorer, _OkPool(), SearchConfig(mode="eval", rollouts=1, num_candidates=1)
  )
  (good,) = tree.children(tree.root)
  (answer,) = tree.children(good)
  assert answer.correct is None and answer.ppm == pytest.approx(0.25)
  assert (good.visits, good.value_sum) == (2, pytest.approx(0.75))


def test_modes_check_their_inputs():
  with pytest.raises(ValueError, match="needs a PPM scorer"):
    mcts.search_trees([tree_lib.Tree("p", "q", "1")], None, None, None, SearchConfig(mode="ppm"))
  with pytest.raises(ValueError, match="needs gold answers"):
    mcts.search_trees([tree_lib.Tree("p", "q", None)], None, None, None, SearchConfig())
  with pytest.raises(ValueError, match="mode"):
    SearchConfig(mode="greedy")


def test_invalid_terminals_are_valued_locally_only():
  policy = scripted.ScriptedPolicy({"": [_GOOD, "I give up"], _GOOD: [_ANSWER]})
  tree = tree_lib.Tree("p", "question", "1")
  mcts.search_trees([tree], policy, None, _OkPool(), SearchConfig(rollouts=1, num_candidates=2))
  good, invalid = tree.children(tree.root)
  assert invalid.invalid == domain_base.INVALID_NO_ANSWER
  assert (invalid.visits, invalid.value_sum) == (1, -1.0)
  assert (good.visits, good.value_sum) == (1, 1.0)
  assert (tree.root.visits, tree.root.value_sum) == (1, 1.0)  # only the valid terminal
