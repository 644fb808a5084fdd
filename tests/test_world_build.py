"""build_world: the files the round driver reads, a loadable bootstrap policy, resumable stages."""

import dataclasses
import json

import pytest

from rstar_jax import hf
from rstar_jax import world
from rstar_jax.data import problems as problems_lib
from rstar_jax.data import records
from rstar_jax.format import prompts

TINY = world.BootstrapConfig(
  num_teacher_problems=24,
  vocab_size=400,
  hidden_size=32,
  intermediate_size=64,
  num_layers=1,
  max_steps=3,
  batch_size=8,
  max_len=384,
  eval_problems=2,
  eval_max_depth=3,
  eval_step_max_tokens=16,
)
WORLD = world.WorldConfig(seed=5, num_train=5, num_heldout=4, process_problems=6, bootstrap=TINY)


def test_paths_are_inside_out_dir(tmp_path):
  for fn in (world.train_path, world.heldout_path, world.policy_path, world.tokenizer_path):
    assert fn(tmp_path).parent == tmp_path
  assert len({world.train_path(tmp_path), world.heldout_path(tmp_path)}) == 2


@pytest.mark.parametrize(
  "kwargs", [{"num_train": 0, "num_heldout": 3}, {"num_train": 3, "num_heldout": 0}]
)
def test_empty_splits_are_refused(tmp_path, kwargs):
  with pytest.raises(ValueError, match=r"world\.num_train and world\.num_heldout must be >= 1"):
    world.WorldConfig(seed=0, **kwargs)


@pytest.mark.parametrize("domain,level", [("math", 1), ("math", -2), ("code", -1)])
def test_teacher_max_level_below_the_lowest_level_is_refused(domain, level):
  with pytest.raises(ValueError, match=f"teacher_max_level must be 0 .* {domain} world"):
    world.WorldConfig(domain=domain, teacher_max_level=level)


def test_bootstrap_config_checks_heads():
  with pytest.raises(ValueError, match="num_heads"):
    world.BootstrapConfig(hidden_size=100, num_heads=3)


def test_build_world_end_to_end_and_resume(tmp_path):
  out = tmp_path / "world"
  summary = world.build_world(out, WORLD, sandbox_workers=2)
  json.dumps(summary)
  train = problems_lib.load_problems(world.train_path(out), on_error="raise")
  heldout = problems_lib.load_problems(world.heldout_path(out), on_error="raise")
  assert (len(train), len(heldout)) == (5, 4)
  assert not {p.question for p in train} & {p.question for p in heldout}
  sft = records.read_dataset(out / "teacher" / "sft")
  assert len(sft) == summary["stages"]["teacher"]["sft_examples"] > 0
  assert all(
    r["prompt"].startswith(prompts.USER) and r["response"].endswith(prompts.END_OF_ANSWER)
    for r in sft
  )
  assert not {r["problem_id"] for r in sft} & {p.id for p in train + heldout}
  policy = hf.load_model(world.policy_path(out))
  tok = hf.load_tokenizer(world.policy_path(out))
  assert policy.config.vocab_size == len(tok) and policy.config.tie_embeddings
  assert policy.config.eos_token_id == tok.eos_token_id
  evaluated = summary["stages"]["evaluate"]
  assert evaluated["problems"] == 2 and 0.0 <= summary["bootstrap_heldout_greedy_accuracy"] <= 1.0
  # The bootstrap's per-problem verdicts (what the paired claims compare with), with levels.
  rows = json.loads(world.bootstrap_report_path(out).read_text())["problems"]
  assert [r["id"] for r in rows] == [p.id for p in heldout[:2]]
  assert [r["level"] for r in rows] == [p.level for p in heldout[:2]] == ["2", "3"]
  # Process sets: labelled teacher solutions of problems neither searched nor evaluated.
  dev, held = (world.read_process_set(world.process_set_path(out, s)) for s in ("dev", "heldout"))
  assert len(dev) == len(held) == 6 and summary["stages"]["process_set"]["dev"]["examples"] == 6
  assert {e.first_error >= 0 for e in held} == {True, False}
  used = {p.question for p in train + heldout}
  assert not {e.question for e in dev + held} & used
  # The tokenizer saw only the teacher's data: the same world with other search and held-out
  # splits trains the same vocabulary.
  other = tmp_path / "other"
  world.build_world(
    other,
    dataclasses.replace(WORLD, num_train=3, num_heldout=2, process_problems=0),
    sandbox_workers=2,
  )
  assert (world.tokenizer_path(other) / "tokenizer.json").read_bytes() == (
    world.tokenizer_path(out) / "tokenizer.json"
  ).read_bytes()
  # A finished build returns its summary; a build missing its last stage redoes only that stage.
  assert world.build_world(out, WORLD) == summary
  (out / "summary.json").unlink()
  (out / "stages" / "evaluate.done.json").unlink()
  again = world.build_world(out, WORLD, sandbox_workers=2)
  for stage in ("problems", "teacher", "tokenizer", "bootstrap"):
    assert again["stages"][stage] == summary["stages"][stage]
  assert again["stages"]["evaluate"]["problems"] == 2


def test_teacher_problems_do_not_depend_on_the_search_split():
  """The bootstrap policy's data is the same for any num_train and never holds a searched or
  held-out question."""
  from rstar_jax.world import build  # pylint: disable=g-import-not-at-top
  from rstar_jax.world import generator  # pylint: disable=g-import-not-at-top

  small, large = (generator.generate("train", n, seed=0) for n in (4, 40))
  taught = build._teacher_problems(generator, 30, 0, large)  # pylint: disable=protected-access
  assert len(taught) == 30
  assert [p.problem.question for p in taught] == [
    p.problem.question for p in build._teacher_problems(generator, 30, 0, small)
  ]  # pylint: disable=protected-access
  heldout = generator.generate("heldout", 40, seed=0)
  assert not {p.problem.question for p in taught} & {p.problem.question for p in large + heldout}


@pytest.mark.parametrize("domain", ["math", "code"])
def test_teacher_max_level_keeps_the_easy_levels_and_a_hard_share_of_the_same_stream(domain):
  """A `max_level` keeps the unlimited stream's problems of those levels, in its order, and
  `hard_share` of them come from the levels above, also in order: the bootstrap sees mostly
  easy problems, and still none of the search split."""
  from rstar_jax.world import build  # pylint: disable=g-import-not-at-top

  teacher_problems = build._teacher_problems  # pylint: disable=protected-access
  problems_of = build._KITS[domain][0]  # pylint: disable=protected-access
  train = problems_of.generate("train", 20, seed=3)
  every = teacher_problems(problems_of, 100, 3, train)
  lowest = min(int(p.problem.level) for p in every)
  assert max(int(p.problem.level) for p in every) > lowest + 1
  easy_ids = [p.problem.id for p in every if int(p.problem.level) <= lowest + 1]
  hard_ids = [p.problem.id for p in every if int(p.problem.level) > lowest + 1]
  easy = teacher_problems(problems_of, 12, 3, train, lowest + 1)
  assert [p.problem.id for p in easy] == easy_ids[:12]
  mixed = teacher_problems(problems_of, 12, 3, train, lowest + 1, 0.25)
  assert [p.problem.id for p in mixed] == easy_ids[:9] + hard_ids[:3]
  assert not {p.problem.question for p in easy + mixed} & {p.problem.question for p in train}


@pytest.mark.parametrize(
  "kwargs,match",
  [
    (
      {"teacher_max_level": 4, "teacher_hard_share": 1.0},
      r"teacher_hard_share must be in \[0, 1\)",
    ),
    ({"teacher_max_level": 4, "teacher_hard_share": -0.1}, r"teacher_hard_share must be in"),
    (
      {"teacher_hard_share": 0.1},
      "needs a teacher_max_level below the math world's hardest level 6",
    ),
    ({"teacher_max_level": 6, "teacher_hard_share": 0.1}, "got 6"),
  ],
)
def test_a_hard_share_needs_levels_above_the_teachers(kwargs, match):
  with pytest.raises(ValueError, match=match):
    world.WorldConfig(**kwargs)


def test_bootstrap_stops_at_its_development_target(tmp_path, monkeypatch):
  """Pre-training ends at the first check that reaches `target_dev_accuracy` on problems of their
  own stream (none held-out); a target never reached trains the whole budget, checking as it goes."""
  from rstar_jax.world import bootstrap  # pylint: disable=g-import-not-at-top

  tiny = dataclasses.replace(TINY, max_steps=4, dev_problems=3, check_every=1, check_from=2)
  never = dataclasses.replace(
    WORLD, process_problems=0, bootstrap=dataclasses.replace(tiny, target_dev_accuracy=1.0)
  )
  summary = world.build_world(tmp_path / "never", never, sandbox_workers=2)
  trained = summary["stages"]["bootstrap"]
  assert trained["steps"] == 4 and not trained["stopped_early"]
  assert list(trained["dev_greedy_by_step"]) == ["2", "3", "4"]  # Real greedy checks.
  dev = problems_lib.load_problems(world.dev_path(tmp_path / "never"), on_error="raise")
  heldout = problems_lib.load_problems(world.heldout_path(tmp_path / "never"), on_error="raise")
  train = problems_lib.load_problems(world.train_path(tmp_path / "never"), on_error="raise")
  assert len(dev) == 3 and not {p.question for p in dev} & {p.question for p in heldout + train}

  real = bootstrap.greedy_accuracy
  dev_ids = {p.id for p in dev}
  scores = iter([0.2, 0.5])

  def scripted(engine, problems, pool, cfg, **kwargs):
    report = real(engine, problems, pool, cfg, **kwargs)
    if {p.id for p in problems} == dev_ids:  # The development checks read a scripted accuracy.
      report["accuracy"]["greedy"] = next(scores)
    return report

  monkeypatch.setattr(bootstrap, "greedy_accuracy", scripted)
  reached = dataclasses.replace(never, bootstrap=dataclasses.replace(tiny, target_dev_accuracy=0.5))
  summary = world.build_world(tmp_path / "reached", reached, sandbox_workers=2)
  trained = summary["stages"]["bootstrap"]
  assert trained["steps"] == 3 and trained["stopped_early"]
  assert trained["dev_greedy_by_step"] == {"2": 0.2, "3": 0.5}
  assert summary["stages"]["evaluate"]["problems"] == 2  # The held-out evaluation is unscripted.
  assert world.build_world(tmp_path / "reached", reached) == summary


def test_a_target_outside_0_1_is_refused():
  with pytest.raises(ValueError, match="target_dev_accuracy must be in"):
    world.BootstrapConfig(target_dev_accuracy=1.5)
