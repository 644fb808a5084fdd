"""Tree suite: one MCTS search with the radix prefix KV cache on and off, on real models.

  python -m launch.benchmark --suite=tree [-- --model=main --problems=16 --cache_pages=4096]

The built-in world's tiny bootstrap policy (the main job's size by default; built into
`--world_dir` when absent; it memorises teacher solutions of the train problems, so rollouts
reach real depth) searches those problems in
'ppm' mode with the real sandbox and grader. The PPM is `ValueModel.from_policy(policy)`: its head
is untrained and scores near 0, which leaves the search's shape, and so the timing, realistic.

Both configurations search the same problems with the same seed, every search with a fresh engine
and scorer (so from an empty cache). Each first searches once untimed, which compiles every
program its search needs (JAX keeps them for the next instance); then the two alternate for
`--repeats` timed searches each and the fastest of each is reported, since other load on a shared
machine moves single timings by tens of percent. Prints per configuration the wall time,
nodes/s, the time inside the policy, PPM and sandbox, and each model's prefill ratio (tokens run /
tokens requested), evictions and pool occupancy; then how many trees came out identical, and
last the speedup line.
"""

import argparse
from collections.abc import Sequence
import pathlib
import tempfile
import time
from typing import Any

# Imported for its side effect: it drops orbax's INFO logs (the world build checkpoints).
from launch import common  # noqa: F401
from rstar_jax import hf
from rstar_jax import inference
from rstar_jax import models
from rstar_jax import world
from rstar_jax.data import problems as problems_lib
from rstar_jax.inference import EngineConfig
from rstar_jax.inference import ScorerConfig
from rstar_jax.sandbox import SandboxPool
from rstar_jax.search import extract
from rstar_jax.search import run as run_lib
from rstar_jax.search.config import SearchConfig


def _world(**model: Any) -> world.WorldConfig:
  """16 train problems whose teacher solutions the bootstrap rehearses (as the smoke config's
  does), so the policy writes its memorised multi-step solutions and rollouts reach real depth."""
  return world.WorldConfig(
    num_train=16,
    num_heldout=4,
    bootstrap=world.BootstrapConfig(
      num_teacher_problems=16,
      rehearse_train=6,
      batch_size=8,
      max_len=384,
      epochs=100.0,
      eval_problems=0,
      **model,
    ),
  )


# `main`: the main job's policy size (configs/world.py: 4 layers x 128); `smoke`: the smoke
# config's (2 layers x 64), where prefill is a smaller share of a search.
WORLDS = {
  "main": _world(lr=3e-3, max_steps=300),
  "smoke": _world(hidden_size=64, intermediate_size=128, num_layers=2, lr=1e-2, max_steps=200),
}
STEP_MAX_TOKENS = 48  # The teacher's longest step is 42 tokens.


def _search(
  args: argparse.Namespace,
  policy_dir: pathlib.Path,
  ppm_dir: pathlib.Path,
  problems: list,
  cfg: SearchConfig,
  pool: SandboxPool,
  cache_pages: int,
) -> dict[str, Any]:
  """One search from a fresh engine and scorer (so from an empty cache) into its own directory."""
  engine = inference.load_engine(
    policy_dir, EngineConfig(cache_pages=cache_pages, page_size=args.page_size)
  )
  scorer = inference.load_scorer(
    ppm_dir, ScorerConfig(cache_pages=cache_pages, page_size=args.page_size)
  )
  with tempfile.TemporaryDirectory() as out:
    start = time.perf_counter()
    summary = run_lib.run_search(problems, engine, scorer, pool, cfg, out, progress=False)
    wall = time.perf_counter() - start
    trees = extract.load_trees(pathlib.Path(out) / run_lib.TREE_DIR)
  return {
    "wall": wall,
    "summary": summary,
    "nodes": sum(len(t.nodes) for t in trees),
    "depth": max(n.depth for t in trees for n in t.nodes),
    "texts": {t.problem_id: [n.text for n in t.nodes] for t in trees},
  }


def _cache_line(name: str, stats: dict[str, float]) -> str:
  line = (
    f"  {name}: prefill ratio {stats['prefill_ratio']:.3f} ({stats['prefill_tokens']:.0f} of "
    f"{stats['requested_tokens']:.0f} tokens run, {stats['cache_hits']:.0f} prefix hits)"
  )
  if stats["pool_pages"]:
    line += (
      f", {stats['evicted_pages']:.0f} pages evicted, pool {stats['pool_pages_used']:.0f}/"
      f"{stats['pool_pages']:.0f} pages held at the end"
    )
  return line


def _report(name: str, result: dict[str, Any]) -> float:
  """Prints one configuration's lines; returns its nodes/s."""
  summary, wall = result["summary"], result["wall"]
  s = summary.stats
  rate = result["nodes"] / wall
  print(
    f"{name}: wall {wall:.2f}s, {result['nodes']} nodes ({rate:.1f} nodes/s, deepest "
    f"{result['depth']}), {summary.solved} solved; policy {s['policy_s']:.2f}s, "
    f"ppm {s['ppm_s']:.2f}s, sandbox {s['sandbox_s']:.2f}s, other {s['host_s']:.2f}s"
  )
  print(_cache_line("policy", summary.policy_stats))
  print(_cache_line("ppm", summary.ppm_stats))
  return rate


def run(argv: Sequence[str]) -> None:
  parser = argparse.ArgumentParser(prog="launch.benchmark --suite=tree")
  parser.add_argument("--model", choices=sorted(WORLDS), default="main")
  parser.add_argument("--world_dir", default=None, help="default: runs/bench_tree_world_<model>")
  parser.add_argument("--problems", type=int, default=16)
  parser.add_argument("--rollouts", type=int, default=8)
  parser.add_argument("--candidates", type=int, default=4)
  parser.add_argument("--max_depth", type=int, default=10)
  parser.add_argument("--cache_pages", type=int, default=4096)
  parser.add_argument("--page_size", type=int, default=16)
  parser.add_argument("--batch_size", type=int, default=16)
  parser.add_argument("--repeats", type=int, default=2, help="timed searches per configuration")
  args = parser.parse_args(list(argv[1:]))
  if args.repeats < 1:
    parser.error(f"--repeats must be >= 1, got {args.repeats}")
  args.world_dir = args.world_dir or f"runs/bench_tree_world_{args.model}"
  world.build_world(args.world_dir, WORLDS[args.model], progress=False)
  problems = problems_lib.load_problems(world.train_path(args.world_dir), on_error="raise")
  if len(problems) < args.problems:
    raise ValueError(f"--problems={args.problems}: the world has {len(problems)} train problems")
  problems = problems[: args.problems]
  cfg = SearchConfig(
    mode="ppm",
    rollouts=args.rollouts,
    num_candidates=args.candidates,
    max_depth=args.max_depth,
    step_max_tokens=STEP_MAX_TOKENS,
    temperature=0.7,
    batch_size=args.batch_size,
  )
  policy_dir = world.policy_path(args.world_dir)
  print(
    f"config: model={args.model} problems={args.problems} rollouts={args.rollouts} n={args.candidates} "
    f"max_depth={args.max_depth} batch={args.batch_size} cache_pages={args.cache_pages} "
    f"page_size={args.page_size} repeats={args.repeats}"
  )
  print("ppm: ValueModel.from_policy, untrained head (scores near 0): a speed measurement only")
  results = {}
  with tempfile.TemporaryDirectory() as tmp, SandboxPool() as pool:
    ppm_dir = pathlib.Path(tmp) / "ppm"
    hf.save_model(
      models.ValueModel.from_policy(hf.load_model(policy_dir)),
      ppm_dir,
      tokenizer=hf.load_tokenizer(policy_dir),
    )
    configs = {"radix": args.cache_pages, "no-cache": 0}
    for pages in configs.values():
      _search(args, policy_dir, ppm_dir, problems, cfg, pool, pages)  # Compiles.
    for _ in range(args.repeats):
      for name, pages in configs.items():
        result = _search(args, policy_dir, ppm_dir, problems, cfg, pool, pages)
        if name not in results or result["wall"] < results[name]["wall"]:
          results[name] = result
  radix = _report("radix", results["radix"])
  plain = _report("no-cache", results["no-cache"])
  a, b = results["radix"]["texts"], results["no-cache"]["texts"]
  same = sum(a[p] == b.get(p) for p in a)
  print(
    f"identical trees: {same}/{len(a)} problems (node texts; a float difference may legitimately "
    f"flip a sampled token)"
  )
  print(
    f"tree search speedup {radix / plain:.2f}x "
    f"(radix {radix:.1f} nodes/s, no-cache {plain:.1f} nodes/s)"
  )
