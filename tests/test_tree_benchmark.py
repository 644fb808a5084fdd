"""The tree suite (`launch/benchmarks/tree.py`) end to end in a child process, on a tiny world
built here: it prints its speedup line last, and the radix run reuses cached prefixes in both
the policy and the PPM."""

import re

from child_env import run_suite

from rstar_jax import world

LAST_LINE = re.compile(
  r"tree search speedup (\d+\.\d\d)x \(radix (\d+\.\d) nodes/s, no-cache (\d+\.\d) nodes/s\)"
)
RATIO = re.compile(r"  (policy|ppm): prefill ratio (\d\.\d{3}) ")
# Enough pre-training that the policy writes steps that end at a stop, so rollouts go deeper
# than the root and the next level's prompts extend cached ones.
TINY = world.WorldConfig(
  num_train=2,
  num_heldout=1,
  bootstrap=world.BootstrapConfig(
    num_teacher_problems=2,
    rehearse_train=8,
    hidden_size=32,
    intermediate_size=64,
    num_layers=1,
    batch_size=8,
    max_len=384,
    lr=1e-2,
    epochs=100.0,
    max_steps=60,
    eval_problems=0,
  ),
)


def _ratios(lines: list[str], name: str) -> dict[str, float]:
  """The prefill ratios printed under configuration `name`."""
  start = next(i for i, line in enumerate(lines) if line.startswith(f"{name}:"))
  return {m[1]: float(m[2]) for line in lines[start + 1 : start + 3] if (m := RATIO.match(line))}


def test_tree_suite_prints_speedup_and_reuses_prefixes(tmp_path):
  world_dir = tmp_path / "world"
  world.build_world(world_dir, TINY, sandbox_workers=2, progress=False)
  lines = run_suite(
    "tree",
    "--",
    f"--world_dir={world_dir}",
    "--problems=2",
    "--rollouts=2",
    "--candidates=2",
    "--max_depth=8",
    "--batch_size=2",
    "--cache_pages=128",
    "--repeats=1",
    timeout=600,
  )
  match = LAST_LINE.fullmatch(lines[-1])
  assert match, lines[-1]
  speedup, radix, plain = map(float, match.groups())
  assert radix > 0 and plain > 0
  assert abs(speedup - radix / plain) < 0.01 + 0.05 * speedup  # a and b are rounded
  cached = _ratios(lines, "radix")
  assert cached.keys() == {"policy", "ppm"} and max(cached.values()) < 1, lines
  assert _ratios(lines, "no-cache") == {"policy": 1.0, "ppm": 1.0}
  assert re.fullmatch(r"identical trees: \d+/2 problems .*", lines[-2]), lines[-2]
