"""Exports an orbax checkpoint of a round's policy or PPM as a Hugging Face folder.

  python -m launch.export_hf --run_dir=runs/world --round=4 --model=ppm --out=export/ppm-r4
  python -m launch.export_hf --checkpoint=runs/world/round_2/sft/checkpoints --step=40 \
      --like=runs/world/round_1/sft/hf --out=export/policy-r2-step40

The folder loads with transformers (`AutoModelForCausalLM` for the policy,
`AutoModelForTokenClassification` with one label for the PPM / ORM / PQM).
"""

import pathlib

from absl import app
from absl import flags

from rstar_jax.evolution.layout import RunLayout
from rstar_jax.training import export

_RUN_DIR = flags.DEFINE_string("run_dir", None, "A self-evolution run directory.")
_ROUND = flags.DEFINE_integer("round", None, "Round whose model to export (with --run_dir).")
_MODEL = flags.DEFINE_enum(
  "model", "sft", ["sft", "ppm", "orm", "pqm"], "Which trainer of the round (with --run_dir)."
)
_CHECKPOINT = flags.DEFINE_string("checkpoint", None, "orbax checkpoint directory.")
_STEP = flags.DEFINE_integer("step", None, "Checkpoint step; default: the latest.")
_LIKE = flags.DEFINE_string(
  "like",
  None,
  "HF folder of the same architecture (default with --run_dir: the trainer's "
  "hf/ export, else the round's starting model).",
)
_TOKENIZER = flags.DEFINE_string("tokenizer", None, "Tokenizer folder; default: --like.")
_OUT = flags.DEFINE_string("out", None, "Output HF folder.", required=True)


def _from_run() -> tuple[pathlib.Path, pathlib.Path]:
  if _ROUND.value is None:
    raise app.UsageError("--run_dir needs --round")
  layout = RunLayout(pathlib.Path(_RUN_DIR.value))
  k, model = _ROUND.value, _MODEL.value
  checkpoint = layout.train_dir(k, model) / "checkpoints"
  candidates = [layout.hf_dir(k, model)]
  candidates += [layout.hf_dir(k, "sft")] if model != "sft" else [layout.hf_dir(k - 1, "sft")]
  like = next((c for c in candidates if (c / "config.json").is_file()), None)
  if _LIKE.value:
    like = pathlib.Path(_LIKE.value)
  if like is None:
    raise app.UsageError(
      f"no template model found among {[str(c) for c in candidates]}; "
      "pass --like=<HF folder of the same architecture>"
    )
  return checkpoint, like


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  if _RUN_DIR.value:
    checkpoint, like = _from_run()
    kind = "policy" if _MODEL.value == "sft" else "ppm"
  elif _CHECKPOINT.value and _LIKE.value:
    checkpoint, like, kind = pathlib.Path(_CHECKPOINT.value), pathlib.Path(_LIKE.value), "auto"
  else:
    raise app.UsageError("pass --run_dir/--round/--model, or --checkpoint and --like")
  out = export.export_checkpoint(
    checkpoint, like, _OUT.value, step=_STEP.value, kind=kind, tokenizer_dir=_TOKENIZER.value
  )
  print(f"exported {checkpoint} -> {out}")


if __name__ == "__main__":
  app.run(main)
