"""Evaluation harness: method semantics with a generated policy, and a real benchmark file end to
end (loading, prompting, search, grading, reporting) with a tiny random model."""

import json
import pathlib
import re
import subprocess
import sys

from child_env import child_env
import pytest

from launch.benchmarks import search as search_bench
from rstar_jax import domains
from rstar_jax.data.problems import Problem
from rstar_jax.evaluation import harness as evaluation
from rstar_jax.evaluation import voting
from rstar_jax.format import prompts
from rstar_jax.runtime import mesh as mesh_lib
from rstar_jax.sandbox import SandboxPool
from rstar_jax.search import scripted

REPO = pathlib.Path(__file__).resolve().parents[1]
_BOXED = re.compile(r"\\boxed\{([^}]*)\}")


def _problems(n: int = 12) -> list:
  return [
    Problem(f"ev-{i}", f"Problem {i}: compute the running total.", str(i % 9 + 1)) for i in range(n)
  ]


def _gold(question: str) -> int:
  return int(re.match(r"Problem (\d+)", question).group(1)) % 9 + 1


def _step(question: str, solution: str, sample: int, seed: int) -> str:
  """Sets x to the gold answer or one off (by a hash of seed and sample), prints, answers."""
  if prompts.OUTPUT in solution:
    value = (
      solution.rsplit(prompts.OUTPUT, maxsplit=1)[-1]
      .split(prompts.END_OF_OUTPUT, maxsplit=1)[0]
      .strip()
    )
    return f"\n<answer>The answer is \\boxed{{{value}}}.{prompts.END_OF_ANSWER}"
  if prompts.CODE not in solution:
    off = search_bench._draw(question, seed, sample) % 3 == 0  # pylint: disable=protected-access
    return (
      f"{prompts.CODE}\n# Step 1: the total\nx = {_gold(question) + off}\n{prompts.END_OF_STEP}"
    )
  return f"\n# Now print the final answer\nprint(x)\n{prompts.END_OF_CODE}"


def _policy() -> scripted.GeneratedPolicy:
  return scripted.GeneratedPolicy(_step)


def _oracle(sign: float):
  """Scores a finished solution +sign when its boxed answer is the gold, -sign otherwise."""

  def value(question: str, solution: str) -> float:
    found = _BOXED.findall(solution)
    return sign if found and found[-1] == str(_gold(question)) else -sign

  return scripted.ScriptedScorer(value)


def test_majority_groups_equivalent_answers():
  assert (
    voting.majority(["2", None, "0.5", "1/2", "2", "\\frac{1}{2}"], None, domains.MATH, None)
    == "0.5"
  )
  assert voting.majority(["3", "4"], None, domains.MATH, None) == "3"
  assert voting.majority([None, None], None, domains.MATH, None) is None


@pytest.fixture(scope="module")
def pool():
  with SandboxPool(num_workers=2) as p:
    yield p


def test_methods_are_consistent_with_each_other(tmp_path, pool):
  policy = _policy()
  scorers = {"oracle": _oracle(1.0), "adversary": _oracle(-1.0)}
  cfg = evaluation.EvalConfig(samples=6, mcts_runs=0, max_depth=8, batch_size=5)
  problems = _problems()
  report = evaluation.evaluate_policy(
    problems, policy, pool, scorers, cfg, out_dir=tmp_path, progress=False
  )
  acc = report["accuracy"]
  assert set(acc) == {"greedy", "pass@6", "maj@6", "best_of_6[oracle]", "best_of_6[adversary]"}
  rows = report["problems"]
  assert len(rows) == len(problems) and all(set(r["answers"]) == set(acc) for r in rows)
  # A perfect selector reaches pass@k; a perfectly wrong one only solves all-correct problems.
  assert acc["best_of_6[oracle]"] == acc["pass@6"]
  assert acc["best_of_6[adversary]"] <= acc["maj@6"] <= acc["pass@6"]
  assert acc["pass@6"] > 0.5 and acc["best_of_6[adversary]"] < acc["pass@6"]
  assert json.loads((tmp_path / "report.json").read_text())["accuracy"] == acc


def test_sampled_methods_and_mcts_run_on_fixed_nested_subsets(pool):
  problems = _problems(10)
  cfg = evaluation.EvalConfig(
    samples=2, sample_problems=6, mcts_runs=1, mcts_rollouts=2, mcts_problems=3, batch_size=5
  )
  report = evaluation.evaluate_policy(
    problems, _policy(), pool, {"ppm": _oracle(1.0)}, cfg, progress=False
  )
  rows = {r["id"]: set(r["answers"]) for r in report["problems"]}
  sampled = {i for i, m in rows.items() if "maj@2" in m}
  searched = {i for i, m in rows.items() if "mcts+ppm" in m}
  assert all("greedy" in m for m in rows.values())
  assert sampled == evaluation.fixed_subset(list(rows), 6) and len(searched) == 3
  assert searched <= sampled  # Same hash order: MCTS+PPM pairs with best-of-N.
  assert report["num_problems_by_method"] == {
    "greedy": 10,
    "pass@2": 6,
    "maj@2": 6,
    "best_of_2[ppm]": 6,
    "mcts+ppm": 3,
  }
  assert sum("samples_correct" in r for r in report["problems"]) == 6
  assert set(report["pass_at_k"]) == {"pass@1", "pass@2"}


def test_samples_differ_between_runs_and_greedy_is_deterministic(pool):
  policy = _policy()
  cfg = evaluation.EvalConfig(max_depth=8, batch_size=4)
  problems = _problems(4)
  runs = evaluation.sample_solutions(
    problems, policy, pool, cfg, num=4, temperature=0.7, progress=False
  )
  assert all(len(r) == 4 for r in runs)
  assert any(len({s.text for s in r}) > 1 for r in runs)
  greedy = [
    evaluation.sample_solutions(problems, policy, pool, cfg, num=1, temperature=0.0, progress=False)
    for _ in range(2)
  ]
  assert greedy[0] == greedy[1]


def test_gsm8k_end_to_end_with_a_tiny_model(tmp_path, benchmarks_dir):
  from test_train_helpers import tiny_policy  # pylint: disable=g-import-not-at-top
  from test_train_helpers import tiny_tokenizer  # pylint: disable=g-import-not-at-top

  from rstar_jax import hf  # pylint: disable=g-import-not-at-top
  from rstar_jax import models  # pylint: disable=g-import-not-at-top

  tok = tiny_tokenizer()
  policy = tiny_policy(len(tok), mesh_lib.single_device_mesh())
  hf.save_model(policy, tmp_path / "policy", tokenizer=tok)
  hf.save_model(models.ValueModel.from_policy(policy), tmp_path / "ppm", tokenizer=tok)
  out = tmp_path / "eval"
  cmd = [
    sys.executable,
    "-m",
    "launch.evaluate",
    f"--policy={tmp_path / 'policy'}",
    f"--ppm={tmp_path / 'ppm'}",
    f"--problems={benchmarks_dir / 'gsm8k.jsonl'}",
    "--limit=3",
    f"--out={out}",
    "--config.progress=False",
    "--config.eval.samples=2",
    "--config.eval.mcts_runs=1",
    "--config.eval.mcts_rollouts=2",
    "--config.eval.num_candidates=2",
    "--config.eval.max_depth=3",
    "--config.eval.step_max_tokens=12",
    "--config.sandbox_workers=2",
  ]
  done = subprocess.run(cmd, cwd=REPO, env=child_env(), capture_output=True, text=True, timeout=600)
  assert done.returncode == 0, done.stderr[-5000:]
  report = json.loads((out / "report.json").read_text())
  assert report["num_problems"] == 3
  assert set(report["accuracy"]) == {"greedy", "pass@2", "maj@2", "best_of_2[ppm]", "mcts+ppm"}
  assert all(0.0 <= a <= 1.0 for a in report["accuracy"].values())
  assert [p["gold"] for p in report["problems"]] and all(p["gold"] for p in report["problems"])
  assert "mcts+ppm" in done.stdout and "3 problems" in done.stdout
