"""Searches a problem set with a policy (and optionally a PPM): tree records for extraction.

  python -m launch.generate --policy=runs/world/round_1/sft/hf --problems=train.jsonl \
      --out=trees/r2 --mode=terminal --config.search.num_candidates=8 --rollouts=16
  python -m launch.generate ... --mode=ppm --ppm=runs/world/round_2/ppm/hf --extract

Resumable (rerun the same command); on a multi-host run (--coordinator_address/...) each
process searches its share of the problems and writes its own shards. With --extract the SFT
and PPM datasets are written to <out>/data/{sft,ppm}.
"""

import dataclasses
import pathlib

from absl import app
from absl import flags

from launch import common
from rstar_jax.data import sources
from rstar_jax.search import extract
from rstar_jax.search import run as search_run

_CONFIG = common.define_config()
_POLICY = flags.DEFINE_string("policy", None, "HF folder of the policy.", required=True)
_PPM = flags.DEFINE_string("ppm", None, "HF folder of the PPM (mode 'ppm').")
_PROBLEMS = flags.DEFINE_string(
  "problems", None, "JSONL of problems or a benchmark file.", required=True
)
_LIMIT = flags.DEFINE_integer("limit", 0, "Only the first N problems (0: all).")
_MODE = flags.DEFINE_enum("mode", "terminal", ["terminal", "ppm"], "Value signal of the search.")
_ROLLOUTS = flags.DEFINE_integer("rollouts", 16, "Rollouts per problem.")
_EXTRA = flags.DEFINE_list(
  "extra_rollouts",
  [],
  "Further budgets, in total rollouts, for problems still unsolved (e.g. 64,128); how each stage "
  "searches is --config.search.extra_mode ('fresh': a new tree with a new seed).",
)
_OUT = flags.DEFINE_string("out", None, "Output directory (trees/ shards).", required=True)
_EXTRACT = flags.DEFINE_bool("extract", False, "Also write the SFT and PPM datasets.")


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  if _MODE.value == "ppm" and not _PPM.value:
    raise app.UsageError("--mode=ppm needs --ppm")
  config, out = common.typed_config(_CONFIG.value), pathlib.Path(_OUT.value)
  sync = common.init_processes()
  cfg = dataclasses.replace(
    config.search,
    mode=_MODE.value,
    rollouts=_ROLLOUTS.value,
    extra_rollouts=tuple(int(x) for x in _EXTRA.value),
    seed=config.seed,
  )
  mesh = config.local_mesh()
  engine = config.load_policy(_POLICY.value, mesh)
  scorer = (
    config.load_reward_model(_PPM.value, mesh, _POLICY.value) if _MODE.value == "ppm" else None
  )
  with config.sandbox_pool() as pool:
    summary = search_run.run_search(
      sources.load_problem_file(_PROBLEMS.value, _LIMIT.value),
      engine,
      scorer,
      pool,
      cfg,
      out,
      progress=config.progress,
      process_index=sync.index,
      process_count=sync.count,
    )
  sync.barrier(f"{out}:generated")
  print(
    f"process {sync.index}: searched {summary.searched}, skipped {summary.skipped}, "
    f"solved {summary.solved}, difficulty {summary.difficulty}"
  )
  if _EXTRACT.value and sync.is_leader:
    trees = extract.load_trees(out / search_run.TREE_DIR)
    counts = extract.extract(trees, out / "data" / "sft", out / "data" / "ppm", config.extract)
    print(f"extracted: {counts.to_dict()}")


if __name__ == "__main__":
  app.run(main)
