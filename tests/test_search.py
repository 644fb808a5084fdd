"""Search with a scripted policy and the real sandbox and grader; extraction from its trees.

The scripted tree (problem "apples", gold 15) is small enough to be searched exhaustively, so
every Q-value equals the mean reward of the terminals below it and can be written down by hand:

  root ─ a: bought = 3*5 ─┬ print(bought) → 15 → \\boxed{15} ✓        Q(a) = 0
       │                  └ print(bought+1) → 16 → \\boxed{16} ✗
       ├ b: bought = 3+5 ── print(bought) → 8 → \\boxed{8} ✗          Q(b) = -1
       ├ c: 3*apples (NameError) ── print(bought) (error again) ✗     Q(c) = 0 (N = 0)
       ├ d: bought = 5*3 ── print(bought) → 15 → \\boxed{15} ✓        Q(d) = +1
       ├ e: print(15/0) (ZeroDivisionError) ── \\boxed{15} ✓           Q(e) = +1
       └ g: bought = 15 ─┬ print(bought) → \\boxed{15} ✓              Q(g) = -1/3
                         ├ print(bought+1) → \\boxed{16} ✗
                         └ print(bought+2) → \\boxed{17} ✗

Invalid terminals (here: the second consecutive code error under c) get W = -1, N = 1 locally
and are not backed up, so c stays unvisited.
"""

import dataclasses
import json

import pytest

from rstar_jax import domains
from rstar_jax.data import problems as problems_lib
from rstar_jax.data import records
from rstar_jax.data.problems import Problem
from rstar_jax.evaluation import multirun
from rstar_jax.format import prompts
from rstar_jax.sandbox import SandboxPool
from rstar_jax.search import extract
from rstar_jax.search import mcts
from rstar_jax.search import run
from rstar_jax.search import scripted
from rstar_jax.search.config import SearchConfig

A = "<code>\n# a: 3 bags of 5\nbought = 3 * 5\n<end_of_step>"
B = "<code>\n# b: add instead\nbought = 3 + 5\n<end_of_step>"
C = "<code>\n# c: undefined name\nbought = 3 * apples\n<end_of_step>"
D = "<code>\n# d: 5 times 3\nbought = 5 * 3\n<end_of_step>"
E = "<code>\n# e: crash\nbought = 15\nprint(bought / 0)\n<end_of_code>"
G = "<code>\n# g: literal\nbought = 15\n<end_of_step>"
PRINT = "\n# print the answer\nprint(bought)\n<end_of_code>"
PRINT1 = "\n# print the answer\nprint(bought + 1)\n<end_of_code>"
PRINT2 = "\n# print the answer\nprint(bought + 2)\n<end_of_code>"


def _answer(v):
  return f"\n<answer>The answer is \\boxed{{{v}}}.<end_of_answer>"


def _out(v):
  return prompts.output_block(str(v))


ERR_E = _out("ZeroDivisionError: division by zero")
APPLES_SCRIPT = {
  "": [A, B, C, D, E, G],
  A: [PRINT, PRINT1],
  A + PRINT + _out(15): [_answer(15)],
  A + PRINT1 + _out(16): [_answer(16)],
  B: [PRINT],
  B + PRINT + _out(8): [_answer(8)],
  C: [PRINT],
  D: [PRINT],
  D + PRINT + _out(15): [_answer(15)],
  E + ERR_E: [_answer(15)],
  G: [PRINT, PRINT1, PRINT2],
  G + PRINT + _out(15): [_answer(15)],
  G + PRINT1 + _out(16): [_answer(16)],
  G + PRINT2 + _out(17): [_answer(17)],
}
APPLES = Problem("apples", "A farmer buys 3 bags of 5 apples. How many apples?", "15")

# Hard: every answer wrong. Easy: every answer right.
W1, W2, W3 = (f"<code>\nprint({v})\n<end_of_code>" for v in (1, 2, 3))
HARD_SCRIPT = {
  "": [W1, W2, W3],
  **{w + _out(v): [_answer(v)] for w, v in ((W1, 1), (W2, 2), (W3, 3))},
}
HARD = Problem("hard", "What is 2 + 2?", "4")
R1, R2 = "<code>\nprint(7)\n<end_of_code>", "<code>\nprint(3 + 4)\n<end_of_code>"
EASY_SCRIPT = {"": [R1, R2], R1 + _out(7): [_answer(7)], R2 + _out(7): [_answer("7.0")]}
EASY = Problem("easy", "What is 3 + 4?", "7")

CFG = SearchConfig(rollouts=40, num_candidates=6, max_code_errors=2, batch_size=8)


class _MultiPolicy(scripted.ScriptedPolicy):
  """One scripted policy serving several problems (scripts keyed by question)."""

  def __init__(self, scripts):
    super().__init__({})
    self.scripts = scripts

  def expand(self, prompt_texts, n, sampling):
    self.calls.append(list(prompt_texts))
    rows = []
    for text in prompt_texts:
      question, _ = prompts.split_prompt(text)
      policy = scripted.ScriptedPolicy(self.scripts[question])
      rows += policy.expand([text], n, sampling)
    return rows


def _policy():
  return _MultiPolicy(
    {APPLES.question: APPLES_SCRIPT, HARD.question: HARD_SCRIPT, EASY.question: EASY_SCRIPT}
  )


@pytest.fixture(scope="module")
def pool():
  with SandboxPool(num_workers=2) as p:
    yield p


@pytest.fixture(scope="module")
def searched(pool):
  policy = _policy()
  trees = mcts.search_batch([APPLES, HARD, EASY], policy, None, pool, CFG)
  return {t.problem_id: t for t in trees}, policy


def _first_step(tree, text):
  (node,) = [n for n in tree.children(tree.root) if n.text.startswith(text)]
  return node


def test_search_finds_the_correct_paths_with_expected_q(searched):
  trees, _ = searched
  tree = trees["apples"]
  q = {name: _first_step(tree, step).q for name, step in dict(a=A, b=B, c=C, d=D, e=E, g=G).items()}
  assert q == pytest.approx({"a": 0.0, "b": -1.0, "c": 0.0, "d": 1.0, "e": 1.0, "g": -1 / 3})
  assert tree.root.visits == 8 and tree.root.value_sum == pytest.approx(0.0)
  assert _first_step(tree, C).visits == 0
  assert tree.root.terminal  # exhausted: every leaf was reached
  answers = sorted((n.answer, n.correct) for n in tree.terminals() if n.answer is not None)
  assert answers == [("15", True)] * 4 + [("16", False)] * 2 + [("17", False), ("8", False)]
  (bad_code,) = [n for n in tree.terminals() if n.invalid is not None]
  assert bad_code.invalid == "code_errors" and bad_code.consecutive_errors == 2
  assert (bad_code.visits, bad_code.value_sum) == (1, -1.0)
  e = _first_step(tree, E)
  assert e.code_error and e.text.endswith(ERR_E) and e.invalid is None and e.children


def test_all_trees_advance_together(searched):
  _, policy = searched
  # The first level expands the three roots in one call; later calls still mix problems.
  assert len(policy.calls[0]) == 3
  assert {prompts.split_prompt(p)[0] for p in policy.calls[1]} == {
    APPLES.question,
    HARD.question,
    EASY.question,
  }
  assert all(len(set(c)) == len(c) for c in policy.calls)


def test_difficulty_classes(searched):
  trees, _ = searched
  assert {k: extract.difficulty(t) for k, t in trees.items()} == {
    "apples": "medium",
    "hard": "hard",
    "easy": "easy",
  }


def test_sft_takes_the_best_two_correct_then_drops_errors(searched):
  trees, _ = searched
  # Official rule: the top 2 by (mean Q, min Q) are d and e (both 1, 1: depth-first order), and
  # e's text shows its ZeroDivisionError, so only d is left.
  picked = extract.sft_trajectories(trees["apples"])
  assert [t.text for t in picked] == [D + PRINT + _out(15) + _answer(15)]
  # 'clean_first' drops code-error trajectories before ranking: d, then a.
  clean = extract.sft_trajectories(trees["apples"], extract.ExtractConfig(sft_rule="clean_first"))
  assert [t.text for t in clean] == [
    D + PRINT + _out(15) + _answer(15),
    A + PRINT + _out(15) + _answer(15),
  ]
  assert [t.mean_q for t in clean] == pytest.approx([1.0, 2 / 3])
  (example,) = extract.sft_examples(trees["apples"])
  assert example.prompt == prompts.policy_prompt(APPLES.question)
  assert extract.sft_examples(trees["hard"]) == []
  assert len(extract.sft_examples(trees["easy"])) == 2


def test_ppm_pairs(searched):
  trees, _ = searched
  tree = trees["apples"]
  base = prompts.policy_prompt(APPLES.question)

  def got(cfg):
    return [
      (p.prompt[len(base) :], p.pos, p.neg, p.pos_count, p.neg_count)
      for p in extract.step_pairs(tree, cfg)
    ]

  # Root: chosen d, e (Q 1); rejected b (-1), g (-1/3). c leads only to a code-error terminal, so
  # it is no negative. d's pairs fail the edit-distance filter (d–b 14, d–g 13 edits), and so do
  # the pairs under a and g (print(bought) vs print(bought + 1): 5 edits).
  e = E + ERR_E
  assert got(extract.ExtractConfig()) == [("", e, B, 2, 2), ("", e, G, 2, 2)]
  a_print, a_print1 = PRINT + _out(15), PRINT1 + _out(16)
  assert got(extract.ExtractConfig(min_edit_distance=0)) == [
    ("", D, B, 2, 2),
    ("", D, G, 2, 2),
    ("", e, B, 2, 2),
    ("", e, G, 2, 2),
    (A, a_print, a_print1, 1, 1),
    (G, a_print, a_print1, 1, 2),
    (G, a_print, PRINT2 + _out(17), 1, 2),
  ]
  answer = extract.answer_pairs(tree)
  goods = {D + PRINT + _out(15) + _answer(15), A + PRINT + _out(15) + _answer(15)}
  # Lowest mean Q: b (-1), then g→16 or g→17 (both -7/9, min -1: either is right).
  g_wrong = {G + PRINT1 + _out(16) + _answer(16), G + PRINT2 + _out(17) + _answer(17)}
  assert {p.pos for p in answer} == goods and len(answer) == 4
  negs = {p.neg for p in answer}
  assert B + PRINT + _out(8) + _answer(8) in negs and len(negs & g_wrong) == 1
  assert len(extract.ppm_pairs(tree)) == 2
  assert len(extract.ppm_pairs(tree, extract.ExtractConfig(answer_pairs=True))) == 6
  for p in extract.ppm_pairs(tree, extract.ExtractConfig(answer_pairs=True)):
    assert p.pos_q > p.neg_q
  assert extract.ppm_pairs(trees["hard"]) == [] and extract.ppm_pairs(trees["easy"]) == []


def test_extract_writes_grain_readable_datasets(searched, tmp_path):
  import grain

  trees, _ = searched
  summary = extract.extract(list(trees.values()), tmp_path / "sft", tmp_path / "ppm")
  assert summary.difficulty == {"easy": 1, "medium": 1, "hard": 1}
  assert (summary.sft_examples, summary.ppm_pairs) == (3, 2)
  sft = records.read_dataset(tmp_path / "sft")
  assert {e["problem_id"] for e in sft} == {"apples", "easy"}
  manifest = records.read_manifest(tmp_path / "ppm")
  assert manifest["schema"] == "ppm_pairs" and manifest["difficulty"]["medium"] == 1
  source = grain.sources.ArrayRecordDataSource(records.dataset_shards(tmp_path / "ppm"))
  pairs = list(grain.MapDataset.source(source).map(records.decode))
  assert pairs == records.read_dataset(tmp_path / "ppm") and len(pairs) == 2


def test_tree_records_round_trip(searched):
  trees, _ = searched
  tree = trees["apples"]
  again = type(tree).from_dict(records.decode(records.encode(tree.to_dict())))
  assert again.to_dict() == tree.to_dict()


def test_extra_rollouts_only_for_unsolved(pool):
  base = SearchConfig(rollouts=1, num_candidates=3)
  for extra, expected_hard in (((), 1), ((3,), 3)):  # Budgets are totals.
    cfg = SearchConfig(**{**base.__dict__, "extra_rollouts": extra})
    trees = mcts.search_batch([HARD, EASY], _policy(), None, pool, cfg)
    answered = [len([n for n in t.terminals() if n.answer]) for t in trees]
    assert answered == [expected_hard, 1]  # the solved easy problem gets no extra rollouts


class _InterruptedError(Exception):
  pass


class _DiesInside(_MultiPolicy):
  """Stands in for a process killed in the middle of the batch of problem `question`."""

  def __init__(self, scripts, question):
    super().__init__(scripts)
    self.question = question
    self.seen = 0

  def expand(self, prompt_texts, n, sampling):
    if any(prompts.split_prompt(t)[0] == self.question for t in prompt_texts):
      self.seen += 1
      if self.seen == 2:
        raise _InterruptedError()
    return super().expand(prompt_texts, n, sampling)


def test_run_search_resumes_without_losing_or_duplicating(pool, tmp_path):
  problems = [APPLES, HARD, EASY]
  cfg = SearchConfig(rollouts=4, num_candidates=3, max_code_errors=2, batch_size=1)
  scripts = _policy().scripts
  with pytest.raises(_InterruptedError):  # dies inside the second batch
    run.run_search(
      problems, _DiesInside(scripts, HARD.question), None, pool, cfg, tmp_path, progress=False
    )
  assert run.finished_ids(tmp_path) == {"apples"}
  # A shard half-written when the process died is never read.
  (tmp_path / "trees" / ".tmp-trees-00001.array_record").write_bytes(b"garbage")
  summary = run.run_search(
    problems, _MultiPolicy(scripts), None, pool, cfg, tmp_path, progress=False
  )
  assert (summary.searched, summary.skipped) == (2, 1)
  assert summary.difficulty == {"easy": 1, "medium": 0, "hard": 1}
  ids = [r["problem_id"] for r in run.tree_store(tmp_path).read_all()]
  assert sorted(ids) == ["apples", "easy", "hard"]
  mirrors = sorted(p.name for p in (tmp_path / "trees").glob("*.jsonl"))
  assert mirrors == ["trees-00000.jsonl", "trees-00001.jsonl", "trees-00002.jsonl"]
  again = run.run_search(problems, None, None, pool, cfg, tmp_path, progress=False)
  assert (again.searched, again.skipped) == (0, 3)
  with pytest.raises(ValueError, match="unique"):
    run.run_search([EASY, EASY], None, None, pool, cfg, tmp_path / "x", progress=False)


def _answer_scorer(q, solution):
  del q
  if "boxed" in solution:
    return 0.9 if solution.endswith(_answer(15)) else -0.5
  return 0.8 if solution.startswith(D) else 0.5 if solution.startswith(A) else 0.0


def test_top_k_majority():
  r = multirun.RunAnswer
  runs = [r("15", 0.9), r("15.0", 0.8), r("16", 0.95), r("17", 0.1), r(None, 2.0)]
  assert multirun.top_k_majority(runs, 3, None, domains.MATH, None) == "15"
  assert multirun.top_k_majority(runs, 1, None, domains.MATH, None) == "16"
  assert multirun.top_k_majority([r("3", 0.5), r("4", 0.6)], 2, None, domains.MATH, None) == "4"
  assert multirun.top_k_majority([r(None, 1.0)], 4, None, domains.MATH, None) is None


@pytest.mark.parametrize("method", ["mcts", "beam"])
def test_evaluate_problems(pool, method, tmp_path):
  policy = _MultiPolicy({APPLES.question: APPLES_SCRIPT})
  scorer = scripted.ScriptedScorer(_answer_scorer)
  cfg = SearchConfig(rollouts=40, num_candidates=6, max_code_errors=2, num_runs=2, beam_width=2)
  summary = multirun.evaluate_problems(
    [APPLES], policy, scorer, pool, cfg, method=method, out_dir=tmp_path, progress=False
  )
  (result,) = summary.results
  assert result.answer == "15" and result.correct and summary.accuracy == 1.0
  assert [a.answer for a in result.runs] == ["15", "15"]
  assert len(run.tree_store(tmp_path).read_all()) == 2
  assert all(len(set(c)) == len(c) for c in scorer.calls)
  if method == "beam":  # the beam keeps the two best first steps only
    tree = extract.load_trees(tmp_path / "trees")[0]
    expanded = [n.text for n in tree.children(tree.root) if n.children]
    assert expanded == [A, D]


def test_problems_without_gold_are_reported_and_skipped(pool, tmp_path):
  problems = [Problem("no-gold", "What is 3 + 4?", None), EASY]
  summary = run.run_search(
    problems, _policy(), None, pool, SearchConfig(rollouts=2), tmp_path, progress=False
  )
  assert summary.missing_answer == ("no-gold",)
  assert (summary.searched, summary.skipped, summary.solved) == (1, 0, 1)
  assert run.finished_ids(tmp_path) == {"easy"}


def test_processes_split_problems_and_share_the_output(pool, tmp_path):
  cfg = SearchConfig(rollouts=2, num_candidates=2)
  problems = [EASY, HARD]
  for index in (0, 1):
    summary = run.run_search(
      problems,
      _policy(),
      None,
      pool,
      cfg,
      tmp_path,
      progress=False,
      process_index=index,
      process_count=2,
    )
    assert summary.searched == 1
  assert run.finished_ids(tmp_path) == {"easy", "hard"}
  assert run.run_search(problems, None, None, pool, cfg, tmp_path, progress=False).searched == 0


def test_extract_cli_on_run_output(pool, tmp_path):
  run.run_search([APPLES, EASY], _policy(), None, pool, CFG, tmp_path / "run", progress=False)
  summary = extract.main(
    [
      "--trees",
      str(tmp_path / "run" / "trees"),
      "--sft_out",
      str(tmp_path / "sft"),
      "--ppm_out",
      str(tmp_path / "ppm"),
    ]
  )
  assert (summary.sft_examples, summary.ppm_pairs) == (3, 2)
  assert len(records.read_dataset(tmp_path / "ppm")) == 2


def test_bad_problem_file_lines_are_reported_and_the_rest_searched(pool, tmp_path):
  path = tmp_path / "problems.jsonl"
  path.write_text(
    "\n".join(
      [
        json.dumps({"id": "easy", "question": EASY.question, "answer": EASY.answer}),
        '{"id": "broken", "question": ',
        json.dumps({"id": "no-answer", "question": HARD.question}),
        json.dumps({"id": "hard", "question": HARD.question, "answer": HARD.answer}),
      ]
    )
    + "\n"
  )
  report = problems_lib.LoadReport(str(path))
  loaded = problems_lib.load_problems(path, report=report)
  assert [p.id for p in loaded] == ["easy", "hard"]
  assert [s.split(":")[1] for s in report.skipped] == ["2", "3"]  # line numbers
  summary = run.run_search(
    loaded, _policy(), None, pool, SearchConfig(rollouts=2), tmp_path, progress=False
  )
  assert summary.searched == 2 and run.finished_ids(tmp_path) == {"easy", "hard"}
  with pytest.raises(problems_lib.ProblemFileError, match=r"problems.jsonl:2"):
    problems_lib.load_problems(path, on_error="raise")


# Round 4. Wide: eight wrong first steps, so each stage's random stream shows in the order in
# which its rollouts visit them.
WIDE_STEPS = [f"<code>\nprint({v})\n<end_of_code>" for v in range(10, 18)]
WIDE_SCRIPT = {"": WIDE_STEPS, **{w + _out(v): [_answer(v)] for v, w in enumerate(WIDE_STEPS, 10)}}
WIDE = Problem("wide", "What is 1 + 3?", "4")
ROUND4 = SearchConfig(rollouts=3, num_candidates=8, extra_rollouts=(4, 6))


def _round4_policy():
  return _MultiPolicy({**_policy().scripts, WIDE.question: WIDE_SCRIPT})


def _answers(tree):
  return len([n for n in tree.terminals() if n.answer])


def _first_steps_by_tree(policy, question):
  """The first steps expanded by each tree of `question`, in order (a root expansion starts a
  new tree)."""
  trees = []
  for call in policy.calls:
    for text in call:
      q, solution = prompts.split_prompt(text)
      if q != question:
        continue
      if solution:
        trees[-1].append(solution)
      else:
        trees.append([])
  return trees


def test_unsolved_problems_get_fresh_trees_with_new_seeds(pool):
  policy = _round4_policy()
  wide, hard, easy = mcts.search_batch([WIDE, HARD, EASY], policy, None, pool, ROUND4)
  # One tree per stage, each spending its whole budget: 3, then 4, then 6 rollouts.
  assert [len(t) for t in _first_steps_by_tree(policy, WIDE.question)] == [3, 4, 6]
  assert _answers(wide) == 6 and len(wide.children(wide.root)) == 8  # The last tree is kept.
  first, second, third = _first_steps_by_tree(policy, WIDE.question)
  assert first != second[:3] and second != third[:4]  # New random streams.
  # Hard has 3 first steps: each tree runs out of leaves before its budget, then moves on.
  assert [len(t) for t in _first_steps_by_tree(policy, HARD.question)] == [3, 3, 3]
  assert _answers(hard) == 3
  # Solved problems get no further trees.
  assert len(_first_steps_by_tree(policy, EASY.question)) == 1 and _answers(easy) == 2


def test_continue_mode_grows_one_tree_to_each_total(pool):
  cfg = dataclasses.replace(ROUND4, extra_mode="continue")
  policy = _round4_policy()
  (wide,) = mcts.search_batch([WIDE], policy, None, pool, cfg)
  assert [len(t) for t in _first_steps_by_tree(policy, WIDE.question)] == [6]
  assert _answers(wide) == 6
  with pytest.raises(ValueError, match="totals"):
    dataclasses.replace(cfg, extra_rollouts=(3, 6))
  with pytest.raises(ValueError, match="extra_mode"):
    dataclasses.replace(cfg, extra_mode="again")


class _DiesInSecondTree(_MultiPolicy):
  """Stands in for a process killed while `question`'s second tree is being searched."""

  def __init__(self, scripts, question):
    super().__init__(scripts)
    self.question = question
    self.roots = 0

  def expand(self, prompt_texts, n, sampling):
    for text in prompt_texts:
      if prompts.split_prompt(text) == (self.question, ""):
        self.roots += 1
        if self.roots == 2:
          raise _InterruptedError()
    return super().expand(prompt_texts, n, sampling)


def test_killed_round4_search_resumes_without_losing_or_repeating(pool, tmp_path):
  problems = [EASY, WIDE, HARD]
  cfg = dataclasses.replace(ROUND4, batch_size=1)
  scripts = _round4_policy().scripts
  with pytest.raises(_InterruptedError):
    run.run_search(
      problems, _DiesInSecondTree(scripts, WIDE.question), None, pool, cfg, tmp_path, progress=False
    )
  assert run.finished_ids(tmp_path) == {"easy"}
  summary = run.run_search(
    problems, _MultiPolicy(scripts), None, pool, cfg, tmp_path, progress=False
  )
  assert (summary.searched, summary.skipped) == (2, 1)
  assert summary.difficulty == {"easy": 0, "medium": 0, "hard": 2}
  ids = [r["problem_id"] for r in run.tree_store(tmp_path).read_all()]
  assert sorted(ids) == ["easy", "hard", "wide"]
  trees = {t.problem_id: t for t in extract.load_trees(tmp_path / "trees")}
  assert _answers(trees["wide"]) == 6  # Its last tree.
