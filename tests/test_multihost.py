"""Two processes on 127.0.0.1 (jax.distributed, CPU, gloo) run the pipeline's search, extract and
SFT stages together and produce the same artefacts as one process with as many devices.

Run as a script, this module is one of those processes:
  test_multihost.py OUT NUM_PROCESSES PROCESS_ID PORT
"""

import json
import pathlib
import socket
import subprocess
import sys

from child_env import child_env
import numpy as np
import pytest

from rstar_jax.runtime import mesh as mesh_lib

REPO = pathlib.Path(__file__).resolve().parents[1]
DEVICES = 4  # In all, whether one process holds them or two hold two each.
NUM_PROBLEMS = 10


def _problems_file(path: pathlib.Path) -> pathlib.Path:
  with open(path, "w", encoding="utf-8") as f:
    for i in range(NUM_PROBLEMS):
      f.write(
        json.dumps(
          {
            "id": f"mh-{i}",
            "question": f"Problem {i}: compute the running total.",
            "answer": str(i % 9 + 1),
          }
        )
        + "\n"
      )
  return path


def _config(out: pathlib.Path, data: pathlib.Path):
  from configs import world  # pylint: disable=g-import-not-at-top

  c = world.get_config("smoke")
  c.run_dir = str(out / "run")
  c.problems.train = c.problems.heldout = str(data / "problems.jsonl")
  c.bootstrap.policy = str(data / "policy")
  c.train_devices = 0
  c.progress = False
  c.rounds.bootstrap_rollouts = 4
  c.search.num_candidates = 3
  c.search.batch_size = 1  # A level's sampling seed depends on the batch's problems.
  c.sft.batch_size = 4
  c.sft.epochs = 4.0  # The scripted policy solves few problems: enough passes for 4-row batches.
  c.sft.async_checkpointing = False
  return c


def _child(out: pathlib.Path, num_processes: int, process_id: int, port: int) -> None:
  import jax  # pylint: disable=g-import-not-at-top

  if num_processes > 1:
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(f"127.0.0.1:{port}", num_processes, process_id)
  from absl import flags  # pylint: disable=g-import-not-at-top

  flags.FLAGS.mark_as_parsed()
  from launch import run_config  # pylint: disable=g-import-not-at-top
  from launch.benchmarks import search as search_bench  # pylint: disable=g-import-not-at-top
  from rstar_jax.evolution import driver  # pylint: disable=g-import-not-at-top
  from rstar_jax.evolution import plan as plan_lib  # pylint: disable=g-import-not-at-top
  from rstar_jax.evolution.layout import RunLayout  # pylint: disable=g-import-not-at-top
  from rstar_jax.evolution.pipeline import Pipeline  # pylint: disable=g-import-not-at-top
  from rstar_jax.runtime.sync import ProcessSync  # pylint: disable=g-import-not-at-top
  from rstar_jax.search import scripted  # pylint: disable=g-import-not-at-top

  class ScriptedPipeline(Pipeline):
    """The real pipeline with a generated policy in place of the model engine."""

    def engine(self, k, mesh):
      del k, mesh
      return scripted.GeneratedPolicy(search_bench.arithmetic_step)

  config = run_config.run_config(_config(out, out.parent / "data"))
  sync = ProcessSync.from_jax()
  layout = RunLayout(pathlib.Path(config.run_dir))
  pipeline = ScriptedPipeline(config, layout, sync)
  plan = plan_lib.make_plan(config.rounds)[0]
  driver.run_stage(layout, 0, "prepare", pipeline.prepare, sync)
  for stage in ("search", "extract", "train_sft"):
    driver.run_stage(layout, 1, stage, lambda s=stage: getattr(pipeline, s)(plan), sync)


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _launch(out: pathlib.Path, num_processes: int) -> None:
  port = _free_port()
  env = {
    **child_env(devices=DEVICES // num_processes, tests_on_path=True),
    "JAX_PLATFORMS": "cpu",
  }
  procs = [
    subprocess.Popen(
      [sys.executable, __file__, str(out), str(num_processes), str(i), str(port)],
      env=env,
      stdout=subprocess.PIPE,
      stderr=subprocess.STDOUT,
      text=True,
    )
    for i in range(num_processes)
  ]
  logs = [p.communicate(timeout=600)[0] for p in procs]
  for p, log in zip(procs, logs):
    assert p.returncode == 0, log[-4000:]


def _trees(run: pathlib.Path) -> dict[str, dict]:
  from rstar_jax.data import records  # pylint: disable=g-import-not-at-top

  out = {}
  for path in records.shard_paths(run / "round_1" / "search" / "trees"):
    for record in records.read_shard(path):
      assert record["problem_id"] not in out, f"duplicate tree {record['problem_id']}"
      out[record["problem_id"]] = record
  return out


@pytest.mark.slow  # Two JAX processes and a full round (about a minute).
def test_two_processes_match_one(tmp_path):
  from test_train_helpers import tiny_policy  # pylint: disable=g-import-not-at-top
  from test_train_helpers import tiny_tokenizer  # pylint: disable=g-import-not-at-top

  from rstar_jax import hf  # pylint: disable=g-import-not-at-top
  from rstar_jax.data import records  # pylint: disable=g-import-not-at-top

  data = tmp_path / "data"
  data.mkdir()
  _problems_file(data / "problems.jsonl")
  tok = tiny_tokenizer()
  hf.save_model(
    tiny_policy(len(tok), mesh_lib.single_device_mesh()), data / "policy", tokenizer=tok
  )
  _launch(tmp_path / "single", 1)
  _launch(tmp_path / "multi", 2)
  single, multi = tmp_path / "single" / "run", tmp_path / "multi" / "run"
  assert {p.name.split("-")[1] for p in records.shard_paths(multi / "round_1/search/trees")} == {
    "p0000",
    "p0001",
  }  # Each host wrote its own shards.
  assert _trees(single) == _trees(multi)
  assert len(_trees(multi)) == NUM_PROBLEMS
  for name in ("sft", "ppm"):
    a = sorted(records.read_dataset(single / "round_1/data" / name), key=json.dumps)
    b = sorted(records.read_dataset(multi / "round_1/data" / name), key=json.dumps)
    assert a == b and a, name
  ma = hf.load_model(single / "round_1/sft/hf")
  mb = hf.load_model(multi / "round_1/sft/hf")
  from flax import nnx  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top

  for x, y in zip(
    jax.tree.leaves(nnx.state(ma, nnx.Param)), jax.tree.leaves(nnx.state(mb, nnx.Param))
  ):
    np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=2e-4, atol=2e-5)
  before = hf.load_model(data / "policy")
  assert any(
    not np.allclose(np.asarray(x), np.asarray(y))
    for x, y in zip(
      jax.tree.leaves(nnx.state(before, nnx.Param)), jax.tree.leaves(nnx.state(mb, nnx.Param))
    )
  )  # Training did something.
  for run in (single, multi):
    summary = json.loads((run / "round_1/stages/train_sft.done.json").read_text())
    assert summary["step"] > 0


if __name__ == "__main__":
  _child(pathlib.Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
