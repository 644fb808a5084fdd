"""Round driver: schedule, stage markers, resume after failure and after a real process kill."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from rstar_jax.evaluation import report
from rstar_jax.evolution import driver
from rstar_jax.evolution import plan as plan_lib
from rstar_jax.evolution.layout import RunLayout
from rstar_jax.runtime import stages as markers

REPO = pathlib.Path(__file__).resolve().parents[1]


def paper_plan(**overrides):
  kwargs = dict(
    num_rounds=4,
    bootstrap_rollouts=8,
    rollouts=16,
    ppm_from_round=3,
    extra_rollouts=(64, 128),
    baseline_rounds=(4,),
  )
  kwargs.update(overrides)
  return plan_lib.make_plan(plan_lib.RoundsConfig(**kwargs))


def test_plan_follows_the_paper_schedule():
  plans = paper_plan()
  assert [
    (p.index, p.search_mode, p.rollouts, p.extra_rollouts, p.policy_round, p.ppm_round)
    for p in plans
  ] == [
    (1, "terminal", 8, (), 0, None),
    (2, "terminal", 16, (), 1, None),
    (3, "ppm", 16, (), 2, 2),
    (4, "ppm", 16, (64, 128), 3, 3),
  ]
  assert "train_baselines" in plans[3].stages and "train_baselines" not in plans[2].stages
  assert plans[0].stages[0] == "search" and plans[0].stages[-1] == "evaluate"
  assert not any(p.greedy_eval_only for p in plans)
  light = paper_plan(greedy_eval_only_rounds=(1, 3))
  assert [p.greedy_eval_only for p in light] == [True, False, True, False]


@pytest.mark.parametrize(
  "bad",
  [
    dict(num_rounds=0),
    dict(ppm_from_round=1),
    dict(rollouts=0),
    dict(baseline_rounds=(5,)),
    dict(greedy_eval_only_rounds=(0,)),
    dict(extra_rollouts=(4, 0)),
    dict(sft_init="last"),
  ],
)
def test_plan_rejects_bad_schedules(bad):
  with pytest.raises(ValueError):
    paper_plan(**bad)


def test_marker_roundtrip_and_bad_marker(tmp_path):
  path = markers.marker_path(tmp_path / "stages", "search")
  assert markers.read_marker(path) is None
  markers.write_marker(path, {"trees": 3})
  assert markers.read_marker(path) == {"trees": 3}
  assert not list(path.parent.glob(".tmp-*"))
  path.write_text("{not json")
  with pytest.raises(ValueError, match=r"search\.done\.json"):
    markers.read_marker(path)


class FakeStages:
  """Records every stage call; optionally fails once at a given (round, stage)."""

  def __init__(self, fail_at=None):
    self.calls = []
    self.fail_at = fail_at

  def _do(self, k, name):
    if (k, name) == self.fail_at:
      self.fail_at = None
      raise RuntimeError(f"boom in {name}")
    self.calls.append((k, name))
    return {"round": k, "accuracy": {"greedy": 0.1 * k}} if name == "evaluate" else {"k": k}

  def prepare(self):
    return self._do(0, "prepare")

  def __getattr__(self, name):
    if name in ("search", "extract", "train_sft", "train_ppm", "train_baselines", "evaluate"):
      return lambda plan: self._do(plan.index, name)
    raise AttributeError(name)


def expected_calls(plans):
  return [(0, "prepare")] + [(p.index, s) for p in plans for s in p.stages]


def test_driver_runs_every_stage_once_and_skips_finished_ones(tmp_path):
  plans, layout = paper_plan(), RunLayout(tmp_path)
  stages = FakeStages()
  seen = []
  results = driver.run_rounds(stages, plans, layout, on_round=lambda k, r: seen.append(k))
  assert stages.calls == expected_calls(plans)
  assert seen == [1, 2, 3, 4]
  assert results[4]["evaluate"]["accuracy"] == {"greedy": pytest.approx(0.4)}
  again = FakeStages()
  assert driver.run_rounds(again, plans, layout)[3]["evaluate"]["round"] == 3
  assert again.calls == []


def test_driver_resumes_at_the_failed_stage(tmp_path):
  plans, layout = paper_plan(), RunLayout(tmp_path)
  first = FakeStages(fail_at=(2, "train_sft"))
  with pytest.raises(RuntimeError, match="boom"):
    driver.run_rounds(first, plans, layout)
  done = expected_calls(plans)
  cut = done.index((2, "train_sft"))
  assert first.calls == done[:cut]
  second = FakeStages()
  driver.run_rounds(second, plans, layout)
  assert second.calls == done[cut:]


_KILLABLE = textwrap.dedent("""
    import json, pathlib, sys, time
    from rstar_jax.evolution import driver, plan as plan_lib
    from rstar_jax.evolution.layout import RunLayout

    root = pathlib.Path(sys.argv[1])
    log = root / "calls.log"

    class Stages:
      def prepare(self):
        return self._do(0, "prepare")
      def __getattr__(self, name):
        return lambda plan: self._do(plan.index, name)
      def _do(self, k, name):
        with open(log, "a") as f:
          f.write(f"{k} {name}\\n")
        # A stage in progress appends one line per unit of work (like search shards).
        work = root / f"work-{k}-{name}"
        done = len(work.read_text().splitlines()) if work.exists() else 0
        for i in range(done, 3):
          time.sleep(0.15)
          with open(work, "a") as f:
            f.write(f"{i}\\n")
        return {"units": 3}

    plans = plan_lib.make_plan(plan_lib.RoundsConfig(
        num_rounds=2, bootstrap_rollouts=1, rollouts=1, ppm_from_round=2, extra_rollouts=(),
        baseline_rounds=()))
    driver.run_rounds(Stages(), plans, RunLayout(root / "run"))
""")


def test_driver_killed_mid_stage_resumes_without_redoing_work(tmp_path):
  script = tmp_path / "killable.py"
  script.write_text(_KILLABLE)
  env = {**os.environ, "PYTHONPATH": str(REPO)}
  proc = subprocess.Popen([sys.executable, str(script), str(tmp_path)], env=env)
  target = tmp_path / "work-1-train_sft"
  deadline = time.monotonic() + 120
  while not (target.exists() and target.read_text().count("\n") >= 1):
    assert proc.poll() is None, "driver exited before reaching round 1 train_sft"
    assert time.monotonic() < deadline
    time.sleep(0.02)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  assert subprocess.run([sys.executable, str(script), str(tmp_path)], env=env).returncode == 0
  calls = (tmp_path / "calls.log").read_text().split("\n")
  # Every finished stage ran once; only the killed stage was entered twice.
  entries = [c for c in calls if c]
  assert entries.count("1 train_sft") == 2
  assert all(entries.count(c) == 1 for c in set(entries) - {"1 train_sft"})
  for work in tmp_path.glob("work-*"):
    assert work.read_text().split() == ["0", "1", "2"], work.name
  layout = RunLayout(tmp_path / "run")
  assert markers.read_marker(layout.marker(2, "evaluate")) is not None


def test_report_table_and_plot(tmp_path):
  results = {
    0: {"prepare": {}},
    1: {"train_ppm": {"eval_acc": 0.6}, "evaluate": {"accuracy": {"greedy": 0.25, "maj@8": 0.5}}},
    2: {"train_ppm": {"eval_acc": 0.7}, "evaluate": {"accuracy": {"greedy": 0.375, "maj@8": 0.5}}},
  }
  rows = report.round_rows(results)
  assert rows[1] == {"round": 2, "greedy": 0.375, "maj@8": 0.5, report.PPM_PAIR_ACC: 0.7}
  table = report.format_table(rows)
  assert table.splitlines()[0] == f"| round | greedy | maj@8 | {report.PPM_PAIR_ACC} |"
  assert "| 2 | 37.5% | 50.0% | 70.0% |" in table
  text = report.write_run_report(
    results, tmp_path / "r.json", tmp_path / "r.md", tmp_path / "a.png"
  )
  assert text == table
  assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"
  assert json.loads((tmp_path / "r.json").read_text())["2"]["train_ppm"]["eval_acc"] == 0.7
  # The bootstrap's greedy accuracy, when prepare measured it, is round 0 of the table.
  results[0]["prepare"][report.BOOTSTRAP_GREEDY] = 0.125
  rows = report.round_rows(results)
  assert rows[0] == {"round": 0, "greedy": 0.125} and rows[2]["round"] == 2
  assert "| 0 | 12.5% | – | – |" in report.format_table(rows)


def test_report_columns_keep_one_order_whatever_the_rows_say():
  methods = ["best_of_8[pqm]", "mcts+ppm", "maj@8", "best_of_8[orm]", "pass@8", "greedy"]
  rows = [
    {"round": 1, report.PPM_PAIR_ACC: 0.5, **dict.fromkeys(methods, 0.5)},
    {"round": 2, "best_of_8[ppm]": 0.25, "greedy": 0.5},
  ]
  header = report.format_table(rows).splitlines()[0]
  assert header == (
    "| round | greedy | pass@8 | maj@8 | best_of_8[ppm] | mcts+ppm | best_of_8[orm] | "
    f"best_of_8[pqm] | {report.PPM_PAIR_ACC} |"
  )
  assert report.format_table(rows[::-1]).splitlines()[0] == header
