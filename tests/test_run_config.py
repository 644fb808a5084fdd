"""configs/*.py → the typed `RunConfig`: every shipped config converts; bad values name their field."""

import re

import pytest
import smoke_launcher

from configs import qwen25_math_1_5b
from configs import qwen25_math_7b
from configs import world
from launch import run_config
from rstar_jax.evolution.config import RunConfig
from rstar_jax.search.config import SearchConfig


@pytest.mark.parametrize(
  "make",
  [
    world.get_config,
    lambda: world.get_config("smoke"),
    qwen25_math_1_5b.get_config,
    qwen25_math_7b.get_config,
  ],
)
def test_every_shipped_config_converts(make):
  config = make()
  typed = run_config.run_config(config)
  assert isinstance(typed, RunConfig)
  assert typed.run_dir == config.run_dir
  assert typed.search.num_candidates == config.search.num_candidates
  assert typed.rounds.extra_rollouts == tuple(config.rounds.extra_rollouts)
  assert typed.world.bootstrap.num_layers == config.world.bootstrap.num_layers


def test_sections_become_the_library_configs():
  typed = run_config.run_config(world.get_config("smoke"))
  assert typed.world.bootstrap.hidden_size == 64 and typed.world.bootstrap.max_steps == 200
  assert typed.sft.epochs == 1.0 and typed.ppm.eval_fraction == 0.25
  assert typed.eval.mcts_search().num_runs == typed.eval.mcts_runs
  assert typed.search.mode == SearchConfig().mode  # The round plan sets it.


def _with(**overrides):
  config = world.get_config("smoke").to_dict()
  for dotted, value in overrides.items():
    *path, last = dotted.split("__")
    section = config
    for key in path:
      section = section[key]
    section[last] = value
  return config


@pytest.mark.parametrize(
  "overrides, message",
  [
    ({"rounds__extra_rollouts": "abc"}, r"config\.rounds\.extra_rollouts: expected a tuple"),
    ({"rounds__extra_rollouts": (4, "x")}, r"config\.rounds\.extra_rollouts\[1\]: expected int"),
    ({"search__max_depth": 0}, r"config\.search: SearchConfig\.max_depth must be >= 1"),
    ({"search__rolouts": 32}, r"config\.search: unknown keys \['rolouts'\]"),
    (
      {"search__rollouts": 32},
      r"config\.search\.rollouts is set by the run itself; set rounds\.rollouts",
    ),
    ({"sft__seed": 3}, r"config\.sft\.seed is set by the run itself; set seed"),
    ({"mesh": "fsdp:x"}, r"config: bad mesh flag 'fsdp:x'"),
    ({"model_dtype": "float8"}, r"config: model_dtype='float8'"),
    ({"sft__lr": "fast"}, r"config\.sft\.lr: expected float, got 'fast'"),
    ({"eval__greedy": 1}, r"config\.eval\.greedy: expected bool, got 1"),
    ({"rounds__num_rounds": True}, r"config\.rounds\.num_rounds: expected int, got True"),
    (
      {"rounds__sft_init": "last"},
      r"config\.rounds\.sft_init: expected one of \['base', 'previous'\]",
    ),
    ({"world__bootstrap": 3}, r"config\.world\.bootstrap: expected a section of BootstrapConfig"),
    ({"world__teacher__wrong_operand": 0.95}, r"config\.world\.teacher: teacher error rates"),
    ({"bootstrap__policy": "/ckpt/qwen"}, r"config: problems\.train, problems\.heldout not set"),
    ({"problems__heldout": "h.jsonl"}, r"config: bootstrap\.policy, problems\.train not set"),
  ],
)
def test_bad_values_name_their_field(overrides, message):
  with pytest.raises(run_config.ConfigError, match=message):
    run_config.run_config(_with(**overrides))


def test_ints_widen_to_floats_and_none_fills_optionals():
  typed = run_config.run_config(_with(sft__lr=1, world__bootstrap__max_steps=None))
  assert typed.sft.lr == 1.0 and isinstance(typed.sft.lr, float)
  assert typed.world.bootstrap.max_steps is None


def test_launcher_refuses_a_bad_field_before_any_work(tmp_path):
  run_dir = tmp_path / "run"
  proc = smoke_launcher.self_evolve(run_dir, "--config.search.max_depth=0")
  assert proc.returncode != 0
  assert "config.search: SearchConfig.max_depth must be >= 1" in proc.stderr
  assert "Traceback" not in proc.stderr
  assert not run_dir.exists()


def test_unusable_inputs_are_refused_before_any_work(tmp_path):
  """Every bad input is named at once, before the world or any stage runs."""
  bad_problems = tmp_path / "train.jsonl"
  bad_problems.write_bytes(b'{"id": "a", "question": "caf\xe9", "answer": "1"}\n')
  run_dir = tmp_path / "run"
  proc = smoke_launcher.self_evolve(
    run_dir,
    f"--config.problems.train={bad_problems}",
    f"--config.problems.heldout={tmp_path / 'missing.jsonl'}",
    f"--config.bootstrap.policy={tmp_path}",
    "--config.mesh=fsdp:3",
  )
  assert proc.returncode != 0
  assert "Traceback" not in proc.stderr
  for expected in (
    "config.problems.train:",
    "train.jsonl:1: not UTF-8",
    "config.problems.heldout: problem file",
    "config.bootstrap.policy:",
    "config.mesh:",
  ):
    assert expected in proc.stderr, (expected, proc.stderr[-2000:])
  assert not (run_dir / "prepare").exists()


@pytest.mark.parametrize(
  "flag, message",
  [
    (
      "--config.rounds.rolouts=1",
      r"--config\.rounds\.rolouts: no such field in config section 'rounds' \(did you mean rollouts",
    ),
    ("--config=configs/nope.py", r"--config=configs/nope\.py: FileNotFoundError"),
    (
      "--config=configs/world.py:nosuchvariant",
      r"configs/world\.py:\d+: ValueError: configs/world\.py variants",
    ),
    ("--config.rounds.rollouts=abc", r"--config\.rounds\.rollouts=abc: invalid literal for int"),
  ],
  ids=["unknown_field", "missing_file", "raising_file", "wrong_type"],
)
def test_launcher_refuses_a_bad_command_line_by_name(tmp_path, flag, message):
  """An unknown override, a config file that is missing or raises, a value of the wrong type:
  one message naming the flag, no traceback."""
  run_dir = tmp_path / "run"
  proc = smoke_launcher.self_evolve(run_dir, flag, "--check_only")
  assert proc.returncode != 0
  assert re.search(message, proc.stderr), proc.stderr[-2000:]
  assert "Traceback" not in proc.stderr
  assert not run_dir.exists()
