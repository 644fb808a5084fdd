"""PPM (Bradley-Terry) learns a distinguishable pair set; ORM and PQM baselines train too."""

import numpy as np
import pytest
from test_train_helpers import tiny_policy
from test_train_helpers import tiny_tokenizer
from test_train_helpers import write

from rstar_jax import models
from rstar_jax.format import prompts
from rstar_jax.runtime.mesh import single_device_mesh
from rstar_jax.training import inputs
from rstar_jax.training import ppm_data
from rstar_jax.training.config import PPMConfig
from rstar_jax.training.ppm import train_ppm


def pair_rows(n_problems: int) -> list[dict]:
  """Positive steps compute the sum, negative steps a product: distinguishable by content."""
  rows = []
  for i in range(n_problems):
    a, b = i % 7 + 1, i % 5 + 2
    prompt = prompts.policy_prompt(f"What is {a} plus {b}?") + "<code>\n"
    for j in range(2):
      rows.append(
        {
          "problem_id": f"p{i}",
          "prompt": prompt,
          "pos": f"# Step {j + 1}: add\nx = {a} + {b}\n<end_of_step>",
          "neg": f"# Step {j + 1}: multiply\nx = {a} * {b} * {j + 2}\n<end_of_step>",
          "pos_q": 0.8,
          "neg_q": -0.6,
          "pos_count": 1,
          "neg_count": 2,
        }
      )
  return rows


def _train(tmp_path, objective, rows, **kw):
  tok = tiny_tokenizer()
  mesh = single_device_mesh()
  cfg = PPMConfig(
    objective=objective,
    lr=3e-3,
    epochs=kw.pop("epochs", 6),
    batch_size=8,
    max_len=128,
    warmup_steps=3,
    eval_fraction=0.25,
    export_hf=False,
    progress_bar=False,
    checkpoint_every=1000,
    **kw,
  )
  policy = tiny_policy(len(tok), mesh)
  result = train_ppm(
    cfg,
    data_dir=write(tmp_path / "data", rows, "ppm_pairs"),
    init=policy,
    tokenizer=tok,
    out_dir=tmp_path / "out",
    mesh=mesh,
  )
  return policy, result


def test_bt_ppm_reaches_high_heldout_accuracy(tmp_path):
  # Length-grouped batches (the pairs' longer side sets a row's length) learn as well.
  policy, result = _train(tmp_path, "bt", pair_rows(40), group_by_length=4)
  assert isinstance(result.model, models.ValueModel)
  assert result.final_metrics["eval_acc"] > 0.95, result.final_metrics
  # Fresh head: r ~ 0; each pair weighs 1 / (1 · 2), its node's official factor.
  assert result.history[0]["loss"] == pytest.approx(0.5 * np.log(2), abs=0.03)
  assert result.history[-1]["loss"] < 0.1
  # The policy the PPM started from is untouched (its arrays were copied, not donated).
  assert np.isfinite(np.asarray(policy.lm_head[...])).all()


def test_pair_weights_follow_the_config_and_old_datasets_weigh_one(tmp_path):
  rows = pair_rows(3)
  rows[0].update(pos_count=2, neg_count=2)
  rows[1].update(pos_count=3, neg_count=0)
  del rows[2]["pos_count"], rows[2]["neg_count"]  # Written before the counts existed.
  data_dir = write(tmp_path, rows, "ppm_pairs")
  tok = tiny_tokenizer()
  official, _ = ppm_data.load_pairs(data_dir, tok, PPMConfig())
  np.testing.assert_allclose(official.weight_n, [1 / 4, 1 / 3, 1.0, 1 / 2, 1 / 2, 1 / 2])
  uniform, _ = ppm_data.load_pairs(data_dir, tok, PPMConfig(pair_weighting="uniform"))
  np.testing.assert_array_equal(uniform.weight_n, np.ones(6))
  batch = ppm_data.make_pair_batcher(official, pad_id=tok.pad_token_id, cfg=PPMConfig())(
    np.array([1, 0]), inputs.Layout(2, 1, 0, 1)
  )
  np.testing.assert_allclose(batch["pair_weight"], [[1 / 3, 1 / 4]])
  with pytest.raises(ValueError, match=r"pair_weighting must be official\|uniform"):
    PPMConfig(pair_weighting="mean")


def test_orm_scores_each_side_with_its_completion(tmp_path):
  rows = pair_rows(2)
  answers = ("<answer>\\boxed{7}<end_of_answer>", "<answer>\\boxed{9}<end_of_answer>")
  rows[0].update(pos_completion="print(x)\n" + answers[0], neg_completion=answers[1])
  data_dir = write(tmp_path, rows, "ppm_pairs")
  tok = tiny_tokenizer()
  orm, stats = ppm_data.load_pairs(data_dir, tok, PPMConfig(objective="orm"))
  # Only the pair with completions ends in answers; the other three are filtered out.
  assert stats.filtered == 3 and len(orm) == 1
  r = rows[0]
  assert orm.pos[0].tolist() == tok.encode(r["prompt"] + r["pos"] + r["pos_completion"])
  assert orm.neg[0].tolist() == tok.encode(r["prompt"] + r["neg"] + r["neg_completion"])
  bt, _ = ppm_data.load_pairs(data_dir, tok, PPMConfig())  # The PPM scores the step alone.
  assert bt.pos[0].tolist() == tok.encode(r["prompt"] + r["pos"])


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
