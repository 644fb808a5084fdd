"""PPM (Bradley-Terry) learns a distinguishable pair set; ORM and PQM baselines train too."""
import numpy as np
import pytest
from test_train_helpers import tiny_policy
from test_train_helpers import tiny_tokenizer
from test_train_helpers import write

from rstar_jax import models
from rstar_jax.format import prompts
from rstar_jax.runtime.mesh import single_device_mesh
from rstar_jax.training.config import PPMConfig
from rstar_jax.training.ppm import train_ppm


def pair_rows(n_problems: int) -> list[dict]:
  """Positive steps compute the sum, negative steps a product: distinguishable by content."""
  rows = []
  for i in range(n_problems):
    a, b = i % 7 + 1, i % 5 + 2
    prompt = prompts.policy_prompt(f"What is {a} plus {b}?") + "<code>\n"
    for j in range(2):
      rows.append({"problem_id": f"p{i}", "prompt": prompt,
                   "pos": f"# Step {j + 1}: add\nx = {a} + {b}\n<end_of_step>",
                   "neg": f"# Step {j + 1}: multiply\nx = {a} * {b} * {j + 2}\n<end_of_step>",
                   "pos_q": 0.8, "neg_q": -0.6})
  return rows


def _train(tmp_path, objective, rows, **kw):
  tok = tiny_tokenizer()
  mesh = single_device_mesh()
  cfg = PPMConfig(objective=objective, lr=3e-3, epochs=kw.pop("epochs", 6), batch_size=8,
                  max_len=128, warmup_steps=3, eval_fraction=0.25, export_hf=False,
                  progress_bar=False, checkpoint_every=1000, **kw)
  policy = tiny_policy(len(tok), mesh)
  result = train_ppm(cfg, data_dir=write(tmp_path / "data", rows, "ppm_pairs"), init=policy,
                     tokenizer=tok, out_dir=tmp_path / "out", mesh=mesh)
  return policy, result


def test_bt_ppm_reaches_high_heldout_accuracy(tmp_path):
  policy, result = _train(tmp_path, "bt", pair_rows(40))
  assert isinstance(result.model, models.ValueModel)
  assert result.final_metrics["eval_acc"] > 0.95, result.final_metrics
  assert result.history[0]["loss"] == pytest.approx(np.log(2), abs=0.05)  # Fresh head: r ~ 0.
  assert result.history[-1]["loss"] < 0.2
  # The policy the PPM started from is untouched (its arrays were copied, not donated).
  assert np.isfinite(np.asarray(policy.lm_head[...])).all()


@pytest.mark.slow
@pytest.mark.parametrize("objective", ["orm", "pqm"])
def test_ablation_baselines_train(tmp_path, objective):
  rows = pair_rows(24)
  if objective == "orm":  # Only complete trajectories count for the outcome model.
    for r in rows[::2]:
      r["pos"] += "<answer>\\boxed{1}<end_of_answer>"
      r["neg"] += "<answer>\\boxed{2}<end_of_answer>"
  _, result = _train(tmp_path, objective, rows, epochs=8)
  assert result.data_stats["filtered"] == (24 if objective == "orm" else 0)
  assert result.history[-1]["loss"] < 0.5 * result.history[0]["loss"]
  assert result.final_metrics["eval_acc"] > 0.8
