"""Host overhead of the batched search loop, on a generated policy and the real sandbox.

  python -m launch.benchmark --suite=search [-- --problems=64 --rollouts=8 --mode=ppm]

The policy and PPM are scripted (no model time), so what remains is the search's own work (tree
bookkeeping, selection, prompt assembly, dedup, classification, grading, record writing) and the
sandbox. Prints node expansions per second and the fraction of wall time spent outside the
policy / PPM / sandbox calls.
"""

import argparse
from collections.abc import Sequence
import hashlib
import re
import tempfile
import time

from rstar_jax.data.problems import Problem
from rstar_jax.format import prompts
from rstar_jax.sandbox import SandboxPool
from rstar_jax.search import extract
from rstar_jax.search import run as run_lib
from rstar_jax.search import scripted
from rstar_jax.search.config import SearchConfig

_OUTPUT = re.compile(re.escape(prompts.OUTPUT) + r"(.*?)" + re.escape(prompts.END_OF_OUTPUT), re.S)


def _draw(*parts: object) -> int:
  return int.from_bytes(hashlib.blake2b(repr(parts).encode(), digest_size=4).digest(), "little")


def arithmetic_step(question: str, solution: str, sample: int, seed: int) -> str:
  """A plausible next step: small integer updates, a print, then an answer (sometimes off)."""
  r = _draw(question, solution, sample, seed)
  done = solution.count(prompts.END_OF_STEP)
  outputs = _OUTPUT.findall(solution)
  if outputs:
    value = outputs[-1].strip()
    if r % 4 == 0 and value.lstrip("-").isdigit():
      value = str(int(value) + 1)
    return f"\n<answer>The answer is \\boxed{{{value}}}.{prompts.END_OF_ANSWER}"
  if done == 0:
    return (
      f"{prompts.CODE}\n# Step 1: start from the first number\nx = {r % 7 + 1}\n"
      f"{prompts.END_OF_STEP}"
    )
  if done >= 4 or r % 3 == 0:
    return f"\n# Now print the final answer\nprint(x)\n{prompts.END_OF_CODE}"
  op = "+-*"[r // 3 % 3]
  return (
    f"\n# Step {done + 1}: apply the next operation\nx = x {op} {r // 9 % 5 + 1}\n"
    f"{prompts.END_OF_STEP}"
  )


def _problems(count: int) -> list[Problem]:
  return [
    Problem(f"bench-{i}", f"Problem {i}: compute the running total.", str(i % 9 + 1))
    for i in range(count)
  ]


def run(argv: Sequence[str]) -> None:
  parser = argparse.ArgumentParser(prog="launch.benchmark --suite=search")
  parser.add_argument("--problems", type=int, default=64)
  parser.add_argument("--rollouts", type=int, default=8)
  parser.add_argument("--candidates", type=int, default=4)
  parser.add_argument("--batch_size", type=int, default=32)
  parser.add_argument("--mode", choices=("terminal", "ppm"), default="terminal")
  parser.add_argument("--workers", type=int, default=None, help="sandbox workers")
  args = parser.parse_args(list(argv[1:]))
  cfg = SearchConfig(
    mode=args.mode,
    rollouts=args.rollouts,
    num_candidates=args.candidates,
    batch_size=args.batch_size,
    max_depth=8,
  )
  policy = scripted.GeneratedPolicy(arithmetic_step)
  scorer = scripted.ScriptedScorer(lambda q, s: (_draw(q, s) % 200) / 100 - 1)
  with SandboxPool(num_workers=args.workers) as pool, tempfile.TemporaryDirectory() as out:
    start = time.perf_counter()
    summary = run_lib.run_search(
      _problems(args.problems),
      policy,
      scorer if args.mode == "ppm" else None,
      pool,
      cfg,
      out,
      progress=False,
    )
    wall = time.perf_counter() - start
    trees = extract.load_trees(f"{out}/{run_lib.TREE_DIR}")
  s = summary.stats
  outside = wall - s["policy_s"] - s["ppm_s"] - s["sandbox_s"]
  nodes = sum(len(t.nodes) for t in trees)
  print(
    f"config: problems={args.problems} rollouts={args.rollouts} n={args.candidates} "
    f"batch={args.batch_size} mode={args.mode}"
  )
  print(
    f"levels={s['levels']:.0f} expansions={s['expansions']:.0f} children={s['children']:.0f} "
    f"programs={s['programs']:.0f} nodes_in_records={nodes} difficulty={summary.difficulty}"
  )
  print(
    f"wall={wall:.2f}s policy={s['policy_s']:.2f}s ppm={s['ppm_s']:.2f}s "
    f"sandbox={s['sandbox_s']:.2f}s grading={s['grading_s']:.2f}s "
    f"other={outside - s['grading_s']:.2f}s"
  )
  print(
    f"search: {s['expansions'] / wall:.1f} node expansions/s "
    f"({s['children'] / wall:.1f} children/s), {100 * outside / wall:.1f}% of wall time "
    f"outside policy/PPM/sandbox calls ({100 * (outside - s['grading_s']) / wall:.1f}% "
    f"excluding grading; loop alone would sustain {s['expansions'] / outside:.0f} "
    f"expansions/s)"
  )
