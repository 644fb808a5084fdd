"""The PPM recipe's learning curve on step pairs the built-in math world labels by value.

For each size N, a PPM is trained from round k's policy with the run's PPM settings on the first
N pairs whose wrong steps are of one kind (`world.oracle_pairs`; train-split problems of their
own stream, world seed + 4) and scored on held-out pairs (held-out-split problems of stream
seed + 5, none of the run's held-out questions) next to round k's own reward models. It tells
whether the PPM lacks pairs or cannot learn the task; the method never trains on these pairs.
Resumable: a size whose PPM was exported is not trained again.
"""

import dataclasses
import pathlib
from typing import Any

import numpy as np

from rstar_jax import domains
from rstar_jax import hf
from rstar_jax.data import records
from rstar_jax.data import schemas
from rstar_jax.evaluation import stats
from rstar_jax.evolution import pipeline
from rstar_jax.evolution.config import RunConfig
from rstar_jax.evolution.layout import RunLayout
from rstar_jax.runtime import files
from rstar_jax.training import ppm
from rstar_jax.world import build
from rstar_jax.world import generator
from rstar_jax.world import oracle_pairs

TRAIN_STREAM, HELDOUT_STREAM = 4, 5  # Offsets from the world seed of the pairs' problem streams.


def write_pairs(path: pathlib.Path, pairs: list[schemas.PPMPair]) -> pathlib.Path:
  """A pair dataset at `path`, written once (atomically) and kept."""
  if not (path / "manifest.json").is_file():
    with files.atomic_path(path) as tmp:
      records.write_dataset(tmp, (p.to_record() for p in pairs), schema=schemas.PPMPair.SCHEMA)
  return path


def pair_accuracy(scorer: Any, pairs: list[schemas.PPMPair]) -> dict[str, Any]:
  """How many pairs `scorer` ranks right (pos strictly above neg), with the Wilson interval."""
  texts = [p.prompt + side for p in pairs for side in (p.pos, p.neg)]
  scores_n2 = np.asarray(scorer.score(texts), dtype=np.float64).reshape(len(pairs), 2)
  correct = int(np.sum(scores_n2[:, 0] > scores_n2[:, 1]))
  low, high = stats.wilson_interval(correct, len(pairs))
  return {
    "correct": correct,
    "total": len(pairs),
    "accuracy": correct / len(pairs),
    "low": low,
    "high": high,
  }


def learning_curve(
  config: RunConfig,
  layout: RunLayout,
  k: int,
  sizes: list[int],
  eval_pairs: int,
  errors: str,
  out: pathlib.Path,
) -> str:
  """Trains the curve's PPMs (resuming), scores them and round k's reward models on the
  held-out pairs; writes everything under `out`/`errors` (`report.json` and `report.md` there)
  and returns the table."""
  out = out / errors
  if not config.builtin_world or config.world.domain != "math":
    raise ValueError("the learning curve needs a run of the built-in math world")
  policy = layout.hf_dir(k, "sft")
  if not (policy / "config.json").is_file():
    raise FileNotFoundError(f"{policy}: round {k} has no trained policy")
  stages = pipeline.Pipeline(config, layout)
  taken = {p.question for p in stages.problem_stream("heldout")}
  prompt, seed = domains.get("math").prompt, config.world.seed

  def pairs(split: str, offset: int, count: int) -> list[schemas.PPMPair]:
    problems = build.fresh_problems(generator, split, seed + offset, taken)
    return oracle_pairs.step_pairs(
      problems, count, prompt=prompt, seed=seed + offset, errors=errors
    )

  train = pairs("train", TRAIN_STREAM, max(sizes))
  held = pairs("heldout", HELDOUT_STREAM, eval_pairs)
  write_pairs(out / "data" / "heldout", held)
  cfg = dataclasses.replace(
    config.ppm, objective="bt", eval_fraction=0.0, progress_bar=config.progress
  )
  tokenizer, train_mesh = hf.load_tokenizer(policy), stages.global_mesh()
  models = {}
  for n in sorted(sizes):
    model_dir = out / f"ppm_{n}"
    if not (model_dir / "hf" / "config.json").is_file():
      ppm.train_ppm(
        cfg,
        data_dir=write_pairs(out / "data" / f"train_{n}", train[:n]),
        init=policy,
        tokenizer=tokenizer,
        out_dir=model_dir,
        mesh=train_mesh,
      )
    models[f"{n} {errors} pairs"] = model_dir / "hf"
  models.update({f"round {k} {name}": path for name, path in stages.reward_dirs(k).items()})
  mesh = config.local_mesh()
  rows = [
    {"model": name, **pair_accuracy(config.load_reward_model(path, mesh, policy), held)}
    for name, path in models.items()
  ]
  files.write_json(
    out / "report.json", {"round": k, "errors": errors, "eval_pairs": eval_pairs, "rows": rows}
  )
  table = "\n".join(
    [
      f"Pairwise accuracy on {len(held)} held-out step pairs with {errors} errors, labelled by "
      f"the world (PPMs trained from round {k}'s policy):",
      "",
      "| model | accuracy | 95% interval |",
      "|---|---|---|",
      *(f"| {r['model']} | {r['accuracy']:.1%} | {r['low']:.1%}–{r['high']:.1%} |" for r in rows),
    ]
  )
  files.write_text(out / "report.md", table + "\n")
  return table
