"""`loop.EarlyStop`: training ends at the first check that reaches its goal, exactly where a run
cut at that step ends; a resumed stopped run trains no further; another rule is refused."""

import dataclasses

import numpy as np
import pytest
from test_checkpoint_resume import CFG
from test_checkpoint_resume import _params
from test_checkpoint_resume import _train
from test_input_pipeline import sft_rows
from test_train_helpers import train_tiny_sft
from test_train_helpers import write

from rstar_jax.training import ResumeMismatchError
from rstar_jax.training import loop


@pytest.fixture(scope="module")
def data(tmp_path_factory):
  return write(tmp_path_factory.mktemp("data"), sft_rows(8), "sft")


def _stopping_at(goal: int, checked: list, rule: str = "step >= goal") -> loop.EarlyStop:
  def check(step, model):
    checked.append(step)
    assert model.embed.embedding.value.shape[1] == 32  # The model being trained, at this step.
    return step >= goal, {"probe": float(step)}

  return loop.EarlyStop(every=2, start=2, check=check, rule=rule)


def _stopped_train(data, out, stop, callbacks=()) -> loop.TrainResult:
  return train_tiny_sft(data, out, CFG, callbacks=callbacks, stop=stop)


def test_stop_ends_where_a_cut_run_ends_and_resumes_as_finished(tmp_path, data):
  checked = []
  stopped = _stopped_train(data, tmp_path / "stopped", _stopping_at(4, checked))
  assert checked == [2, 4] and stopped.step == 4
  assert [h["step"] for h in stopped.history] == [1, 2, 3, 4]
  assert stopped.history[1]["probe"] == 2.0 and loop.STOPPED not in stopped.history[1]
  assert stopped.history[-1][loop.STOPPED] == 1.0
  assert (tmp_path / "stopped" / "checkpoints" / "4").is_dir()  # Saved off the 3-step cadence.

  cut = _train(data, tmp_path / "cut", dataclasses.replace(CFG, max_steps=4))
  for a, b in zip(_params(stopped), _params(cut)):
    np.testing.assert_array_equal(a, b)

  checked_again, trained = [], []
  again = _stopped_train(
    data,
    tmp_path / "stopped",
    _stopping_at(4, checked_again),
    callbacks=[lambda step, m: trained.append(step)],
  )
  assert again.step == 4 and not checked_again and not trained
  for a, b in zip(_params(again), _params(stopped)):
    np.testing.assert_array_equal(a, b)

  with pytest.raises(ResumeMismatchError, match="early_stop"):
    _stopped_train(data, tmp_path / "stopped", _stopping_at(4, [], rule="another rule"))


def test_a_goal_never_reached_trains_the_whole_schedule(tmp_path, data):
  checked = []
  result = _stopped_train(data, tmp_path, _stopping_at(99, checked))
  assert checked == [2, 4, 6] and result.step == 6
  assert not any(loop.STOPPED in h for h in result.history)


def test_a_bad_cadence_is_refused():
  with pytest.raises(ValueError, match="every must be >= 1"):
    loop.EarlyStop(every=0, start=0, check=lambda step, model: (False, {}), rule="r")
