"""End to end through the `launch.self_evolve` launcher: the built-in world's smoke config
through every stage of its 2 rounds with each trainer on real records (killed inside a training
stage and resumed), and the same launcher on configured problem files with a tiny random policy.
The exact kill/resume comparison is tests/test_evolution_resume.py.
"""

import collections
import json
import pathlib
import signal
import subprocess
import sys
import time

from child_env import child_env
import pytest

from rstar_jax.data import records
from rstar_jax.evaluation import report
from rstar_jax.evolution import evolve
from rstar_jax.evolution.layout import RunLayout
from rstar_jax.runtime import mesh as mesh_lib
from rstar_jax.runtime import stages as markers
from rstar_jax.search import extract

REPO = pathlib.Path(__file__).resolve().parents[1]
SMOKE = "configs/world.py:smoke"
CODE_SMOKE = "configs/code_world.py:smoke"


def _command(run_dir: pathlib.Path, *overrides: str, config: str = SMOKE) -> list[str]:
  return [
    sys.executable,
    "-m",
    "launch.self_evolve",
    f"--config={config}",
    f"--config.run_dir={run_dir}",
    "--config.progress=False",
    *overrides,
  ]


def _check_complete_run(layout: RunLayout, num_rounds: int) -> None:
  saved = json.loads((layout.root / "config.json").read_text())["extract"]
  cfg = extract.ExtractConfig(**saved)
  for k in range(1, num_rounds + 1):
    assert markers.read_marker(layout.marker(k, "evaluate")) is not None, k
    trees = extract.load_trees(layout.search_dir(k) / "trees")
    ids = [t.problem_id for t in trees]
    assert len(ids) == len(set(ids)), f"round {k}: duplicate trees"
    search = markers.read_marker(layout.marker(k, "search"))
    assert search["trees"] == len(ids)
    # The datasets hold exactly what extraction of the trees gives: nothing lost, nothing twice.
    sft = records.read_dataset(layout.sft_data(k))
    pairs = records.read_dataset(layout.ppm_data(k))
    assert len(sft) == sum(len(extract.sft_examples(t, cfg)) for t in trees)
    assert len(pairs) == sum(len(extract.ppm_pairs(t, cfg)) for t in trees)
    counts = collections.Counter(json.dumps(r, sort_keys=True) for r in sft)
    assert len(counts) == len(sft), f"round {k}: duplicate SFT examples"


def _trained(marker: dict) -> bool:
  return "skipped" not in marker and marker.get("step", 0) >= 1


def _kill_inside_training(run: pathlib.Path) -> None:
  """Starts the smoke run and SIGKILLs it once round 1's SFT has written its first checkpoint."""
  ckpt = run / "round_1" / "sft" / "checkpoints"
  proc = subprocess.Popen(
    _command(run), cwd=REPO, env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
  )
  deadline = time.monotonic() + 900
  while not (ckpt.is_dir() and any(p.name.isdigit() for p in ckpt.iterdir())):
    assert proc.poll() is None, proc.stderr.read()[-4000:]
    assert time.monotonic() < deadline, "round 1's SFT never wrote a checkpoint"
    time.sleep(0.05)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  proc.stderr.close()


def test_smoke_config_runs_every_stage_and_trains_every_model(tmp_path):
  """Killed inside round 1's SFT and started again, the run finishes with every model trained."""
  run = tmp_path / "smoke"
  _kill_inside_training(run)
  layout = RunLayout(run)
  assert markers.read_marker(layout.marker(1, "train_sft")) is None, "SFT was not interrupted"
  done = subprocess.run(
    _command(run), cwd=REPO, env=child_env(), capture_output=True, text=True, timeout=1800
  )
  assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
  assert "resumed from" in done.stderr, done.stderr[-3000:]
  _check_complete_run(layout, 2)
  assert "Held-out accuracy per round" in done.stdout
  assert "too few records" not in done.stderr
  table = layout.report_md.read_text()
  assert all(f"| {k} |" in table for k in (1, 2))
  assert layout.plot_png.read_bytes()[:4] == b"\x89PNG"
  assert list((layout.search_dir(1) / "viewer").glob("*.html"))
  for k in (1, 2):
    for stage in ("train_sft", "train_ppm"):
      marker = markers.read_marker(layout.marker(k, stage))
      assert _trained(marker), (k, stage, marker)
  baselines = markers.read_marker(layout.marker(2, "train_baselines"))
  assert all(_trained(baselines[name]) for name in ("orm", "pqm")), baselines
  assert markers.read_marker(layout.marker(2, "search"))["mode"] == "ppm"
  # Round 1's PPM ranks round 1's samples; round 2 adds the ORM and PQM baselines.
  accuracy = [markers.read_marker(layout.marker(k, "evaluate"))["accuracy"] for k in (1, 2)]
  assert {"greedy", "pass@2", "maj@2", "best_of_2[ppm]", "mcts+ppm"} <= set(accuracy[0])
  assert {"best_of_2[orm]", "best_of_2[pqm]"} <= set(accuracy[1])
  # The evidence: claims paired with the bootstrap's verdicts, levels, the process set's F1.
  assert "| greedy: round 2 beats round 0 by ≥ 10 points | 4 |" in table
  assert "| round 2: best_of_2[ppm] > best_of_2[orm] | 4 |" in table
  process = markers.read_marker(layout.marker(2, "evaluate"))["process"]
  assert set(process) == {"ppm", "orm", "pqm"} and len(process["ppm"]["right"]) == 6
  assert "| 2 | ppm |" in table and "Accuracy per difficulty level" in table
  # Every PPM pair of a round is judged by the world's values, and the report shows the shares.
  for k in (1, 2):
    labels = markers.read_marker(layout.marker(k, "extract"))["pair_labels"]
    assert sum(c["pairs"] for c in labels.values()) == len(records.read_dataset(layout.ppm_data(k)))
  assert "judged by the world's values" in table
  # Every round's wrong greedy solutions, the bootstrap's included, by their first error.
  saved = json.loads(layout.report_json.read_text())
  kinds = {
    k: v[report.GREEDY_ERROR_KINDS] for k, v in saved.items() if report.GREEDY_ERROR_KINDS in v
  }
  for k, rows in evolve.problem_rows(layout, {1: {}, 2: {}}).items():
    wrong = sum(not r["answers"]["greedy"]["correct"] for r in rows)
    assert kinds.pop(str(k))["wrong"] == wrong, k
  assert not kinds and "Wrong held-out greedy solutions by their first wrong step" in table
  for name in ("levels.png", "process_f1.png"):
    assert (layout.root / name).read_bytes()[:4] == b"\x89PNG"


def test_code_world_smoke_runs_every_stage_in_the_code_domain(tmp_path):
  """The same launcher in the code domain: hidden tests in the sandbox grade the trees, and the
  loop runs every stage of both rounds, each trainer on real records."""
  layout = RunLayout(tmp_path / "code")
  done = subprocess.run(
    _command(layout.root, config=CODE_SMOKE),
    cwd=REPO,
    env=child_env(),
    capture_output=True,
    text=True,
    timeout=1800,
  )
  assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
  _check_complete_run(layout, 2)
  trees = extract.load_trees(layout.search_dir(1) / "trees")
  answers = [n for t in trees for n in t.terminals() if n.invalid is None]
  assert any(n.correct for n in answers) and not all(n.correct for n in answers)
  for tree in trees:  # A problem's gold is its tests; an answer is a submitted program.
    entry_point = json.loads(tree.gold)["entry_point"]
    for node in tree.terminals():
      if node.invalid is None:
        assert f"def {entry_point}(" in node.answer or not node.correct
  for stage in ("train_sft", "train_ppm"):
    assert _trained(markers.read_marker(layout.marker(1, stage))), stage
  accuracy = markers.read_marker(layout.marker(2, "evaluate"))["accuracy"]
  assert {"greedy", "pass@2", "maj@2", "best_of_2[ppm]", "mcts+ppm", "best_of_2[orm]"} <= set(
    accuracy
  )
  assert "95% intervals" in layout.report_md.read_text()
  assert "Wrong held-out greedy" not in layout.report_md.read_text()  # No values judge code.


@pytest.mark.slow  # The smoke test runs the same launcher; this adds the four-round plan.
def test_launcher_runs_every_round_on_configured_files(tmp_path):
  """The fast variant: a random tiny policy and problem files instead of the
  world. Nothing is solved, so every round keeps the bootstrap policy, but every stage runs."""
  from test_train_helpers import tiny_policy  # pylint: disable=g-import-not-at-top
  from test_train_helpers import tiny_tokenizer  # pylint: disable=g-import-not-at-top

  from rstar_jax import hf  # pylint: disable=g-import-not-at-top

  tok = tiny_tokenizer()
  hf.save_model(
    tiny_policy(len(tok), mesh_lib.single_device_mesh()), tmp_path / "policy", tokenizer=tok
  )
  for name, n in (("train", 4), ("heldout", 3)):
    with open(tmp_path / f"{name}.jsonl", "w", encoding="utf-8") as f:
      for i in range(n):
        f.write(
          json.dumps(
            {"id": f"{name}-{i}", "question": f"What is {i} plus 7?", "answer": str(i + 7)}
          )
          + "\n"
        )
  run = tmp_path / "run"
  cmd = _command(
    run,
    f"--config.bootstrap.policy={tmp_path / 'policy'}",
    f"--config.problems.train={tmp_path / 'train.jsonl'}",
    f"--config.problems.heldout={tmp_path / 'heldout.jsonl'}",
    "--config.rounds.num_rounds=4",  # The paper's four rounds (the smoke world runs two).
  )
  done = subprocess.run(cmd, cwd=REPO, env=child_env(), capture_output=True, text=True, timeout=600)
  assert done.returncode == 0, done.stderr[-5000:]
  layout = RunLayout(run)
  _check_complete_run(layout, 4)
  assert markers.read_marker(layout.marker(2, "train_sft"))["skipped"]
  lines = layout.report_md.read_text().split("\n\n95% intervals")[0].splitlines()
  assert lines[2].startswith("| round | greedy | pass@2 | maj@2 |")
  assert [line.split(" | ")[0] for line in lines[4:]] == ["| 1", "| 2", "| 3", "| 4"]
  assert json.loads((layout.eval_dir(3) / "report.json").read_text())["num_problems"] == 3
