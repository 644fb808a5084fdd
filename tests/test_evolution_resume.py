"""The real pipeline's driver process is SIGKILLed in the middle of a search stage and in the
middle of the SFT and the PPM training stages; restarted, it completes with the same records as an
uninterrupted run and no duplicates. The policy of the search is a generated one (so that
there is data to train on without the built-in world); training, extraction, the sandbox, the
grader and the stage markers are the real ones.

Run as a script, this module is the driver process: test_evolution_resume.py OUT DATA
"""

import json
import pathlib
import signal
import subprocess
import sys
import time

from child_env import child_env
import pytest

from rstar_jax.runtime import mesh as mesh_lib

REPO = pathlib.Path(__file__).resolve().parents[1]


def _config(out: pathlib.Path, data: pathlib.Path):
  from configs import world  # pylint: disable=g-import-not-at-top

  c = world.get_config("smoke")
  c.run_dir = str(out)
  c.problems.train = c.problems.heldout = str(data / "problems.jsonl")
  c.problems.max_heldout = 2
  c.bootstrap.policy = str(data / "policy")
  c.progress = False
  c.rounds.num_rounds = 1
  c.rounds.baseline_rounds = ()
  c.rounds.bootstrap_rollouts = 4
  c.search.num_candidates = 3
  c.search.batch_size = 1  # One shard per problem: a kill lands between shards.
  for section in (c.sft, c.ppm):  # A checkpoint every step: a kill lands between two.
    section.batch_size = 2
    section.epochs = 4.0
    section.checkpoint_every = 1
    section.async_checkpointing = False
  c.eval.samples = 0
  c.eval.mcts_runs = 0
  return c


def _child(out: pathlib.Path, data: pathlib.Path) -> None:
  from absl import flags  # pylint: disable=g-import-not-at-top

  flags.FLAGS.mark_as_parsed()
  from launch import run_config  # pylint: disable=g-import-not-at-top
  from launch.benchmarks import search as search_bench  # pylint: disable=g-import-not-at-top
  from rstar_jax.evolution import driver  # pylint: disable=g-import-not-at-top
  from rstar_jax.evolution import plan as plan_lib  # pylint: disable=g-import-not-at-top
  from rstar_jax.evolution.layout import RunLayout  # pylint: disable=g-import-not-at-top
  from rstar_jax.evolution.pipeline import Pipeline  # pylint: disable=g-import-not-at-top
  from rstar_jax.search import scripted  # pylint: disable=g-import-not-at-top

  class SlowScriptedPipeline(Pipeline):
    """Search with a generated policy that takes a little time per call (like a model)."""

    def engine(self, k, mesh):
      del k, mesh
      policy = scripted.GeneratedPolicy(search_bench.arithmetic_step)

      class Slow:
        def expand(self, prompts, n, sampling):
          time.sleep(0.05)
          return policy.expand(prompts, n, sampling)

      return Slow()

  config = run_config.run_config(_config(out, data))
  layout = RunLayout(out)
  driver.run_rounds(SlowScriptedPipeline(config, layout), plan_lib.make_plan(config.rounds), layout)


def _run(out: pathlib.Path, data: pathlib.Path, kill_when=None) -> None:
  proc = subprocess.Popen(
    [sys.executable, __file__, str(out), str(data)],
    env=child_env(tests_on_path=True),
    stdout=subprocess.DEVNULL,
    stderr=subprocess.PIPE,
    text=True,
  )
  if kill_when is None:
    _, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err[-4000:]
    return
  deadline = time.monotonic() + 600
  while not kill_when():
    if proc.poll() is not None:
      raise AssertionError(f"driver exited before the kill point: {proc.stderr.read()[-4000:]}")
    assert time.monotonic() < deadline, "kill point never reached"
    time.sleep(0.02)
  proc.send_signal(signal.SIGKILL)
  proc.wait()


def _steps(ckpt: pathlib.Path) -> list[pathlib.Path]:
  return [p for p in ckpt.iterdir() if p.name.isdigit()]


def _records(run: pathlib.Path) -> dict[str, list]:
  from rstar_jax.data import records  # pylint: disable=g-import-not-at-top

  trees = [
    r for p in records.shard_paths(run / "round_1/search/trees") for r in records.read_shard(p)
  ]
  return {
    "trees": sorted(json.dumps(t, sort_keys=True) for t in trees),
    "tree_ids": [t["problem_id"] for t in trees],
    "sft": sorted(
      json.dumps(r, sort_keys=True) for r in records.read_dataset(run / "round_1/data/sft")
    ),
    "ppm": sorted(
      json.dumps(r, sort_keys=True) for r in records.read_dataset(run / "round_1/data/ppm")
    ),
  }


@pytest.mark.slow  # About 3 minutes; the default run kills and resumes the smoke run in SFT.
def test_killed_mid_search_and_mid_training_resumes_to_the_same_records(tmp_path):
  from test_multihost import _problems_file  # pylint: disable=g-import-not-at-top
  from test_train_helpers import tiny_policy  # pylint: disable=g-import-not-at-top
  from test_train_helpers import tiny_tokenizer  # pylint: disable=g-import-not-at-top

  from rstar_jax import hf  # pylint: disable=g-import-not-at-top
  from rstar_jax.evolution.layout import RunLayout  # pylint: disable=g-import-not-at-top
  from rstar_jax.runtime import stages as markers  # pylint: disable=g-import-not-at-top

  data = tmp_path / "data"
  data.mkdir()
  _problems_file(data / "problems.jsonl")
  tok = tiny_tokenizer()
  hf.save_model(
    tiny_policy(len(tok), mesh_lib.single_device_mesh()), data / "policy", tokenizer=tok
  )

  straight = tmp_path / "straight"
  _run(straight, data)

  killed = tmp_path / "killed"
  layout = RunLayout(killed)
  shards = lambda: list((killed / "round_1/search/trees").glob("trees-*.array_record"))  # noqa
  _run(killed, data, kill_when=lambda: len(shards()) >= 3)
  assert markers.read_marker(layout.marker(1, "search")) is None, "search was not interrupted"
  for stage in ("sft", "ppm"):
    ckpt = killed / f"round_1/{stage}/checkpoints"
    _run(killed, data, kill_when=lambda: ckpt.is_dir() and any(_steps(ckpt)))  # noqa: B023
    marker = markers.read_marker(layout.marker(1, f"train_{stage}"))
    assert marker is None, f"{stage} was not interrupted"
  _run(killed, data)

  a, b = _records(straight), _records(killed)
  assert len(b["tree_ids"]) == len(set(b["tree_ids"])), "duplicate trees"
  assert a == b  # The same trees, SFT examples and pairs, each exactly as often.
  assert b["sft"] and b["ppm"]
  for stage in ("train_sft", "train_ppm"):
    done = [markers.read_marker(RunLayout(r).marker(1, stage)) for r in (straight, killed)]
    assert done[0]["step"] == done[1]["step"] > 1, stage
    assert done[0]["loss"] == pytest.approx(done[1]["loss"], rel=1e-4), stage


if __name__ == "__main__":
  _child(pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]))
