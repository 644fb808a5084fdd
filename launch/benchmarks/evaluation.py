"""Evaluation batch sizes side by side: greedy pass@1 of a run's policy.

Evaluation takes a fifth of the world's default main job, in chains of policy steps and sandboxed
programs; this suite asks whether more chains in flight would make it faster. It loads round
`--round`'s policy of a finished run (`--run_dir`) with the world config's engine and evaluation
settings and times greedy pass@1 on `--problems` held-out problems, the way
`evaluation.harness` runs it, once per batch size of `--batch_sizes`. Each side runs `--repeats`
times in alternating order and keeps its fastest run (the first run of a side also compiles its
shapes, which the main job pays once per process); the answers must agree across batch sizes.
"""

import dataclasses
import json
import pathlib
import time

from absl import flags

from configs import world as world_config
from launch import run_config
from rstar_jax.data import sources
from rstar_jax.evaluation import harness
from rstar_jax.evolution.layout import RunLayout

_RUN_DIR = flags.DEFINE_string("run_dir", "runs/world", "A finished run of configs/world.py.")
_ROUND = flags.DEFINE_integer("round", 4, "The round whose policy is evaluated.")
_BATCH_SIZES = flags.DEFINE_list("batch_sizes", ["40", "400"], "Chains per engine batch.")
_PROBLEMS = flags.DEFINE_integer("problems", 400, "Held-out problems.")
_REPEATS = flags.DEFINE_integer("repeats", 2, "Runs per side; the fastest counts.")


def run(argv: list[str]) -> None:
  del argv
  config = run_config.run_config(world_config.get_config())
  layout = RunLayout(pathlib.Path(_RUN_DIR.value))
  policy = layout.hf_dir(_ROUND.value, "sft")
  paths = json.loads((layout.prepare_dir / "paths.json").read_text(encoding="utf-8"))
  problems = sources.load_problem_file(paths["heldout"], _PROBLEMS.value)
  engine = config.load_policy(policy)
  sizes = [int(s) for s in _BATCH_SIZES.value]
  print(f"policy {policy}: greedy pass@1 on {len(problems)} held-out problems")
  best = {size: float("inf") for size in sizes}
  answers = {}
  with config.sandbox_pool() as pool:
    for _ in range(_REPEATS.value):
      for size in sizes:
        cfg = dataclasses.replace(config.eval, batch_size=size)
        start = time.perf_counter()
        out = harness.sample_solutions(
          problems, engine, pool, cfg, num=1, temperature=0.0, progress=False
        )
        wall = time.perf_counter() - start
        best[size] = min(best[size], wall)
        answers[size] = [row[0].answer for row in out]
        right = 100 * sum(row[0].correct for row in out) / len(out)
        print(f"batch {size:4d}: {wall:6.1f} s, {right:.1f}% right", flush=True)
  base = sizes[0]
  for size in sizes[1:]:
    agree = sum(a == b for a, b in zip(answers[base], answers[size]))
    print(f"batch {size}: answers equal to batch {base}'s on {agree}/{len(problems)}")
  print(
    "summary: greedy wall (fastest run) "
    + ", ".join(f"batch {s} {best[s]:.1f} s" for s in sizes)
    + "; speedup over batch "
    + f"{base}: "
    + ", ".join(f"{best[base] / best[s]:.2f}x" for s in sizes[1:])
  )
