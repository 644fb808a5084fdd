"""Where a self-evolution run keeps its artefacts: one directory, one sub-directory per round.

<run_dir>/
  prepare/                 problems, tokenizer, bootstrap policy (built-in world)
  round_<k>/
    search/trees/          tree shards (one prefix per process on multi-host runs)
    data/sft/, data/ppm/   extracted datasets
    sft/, ppm/, orm/, pqm/ trainer outputs (checkpoints/, metrics.jsonl, hf/)
    eval/                  evaluation report, trees of the MCTS evaluation, viewer pages
    stages/<stage>.done.json
  report.json, report.md, accuracy.png
  contamination.json, .md  n-gram overlap of the training problems with the evaluation sets
"""

import dataclasses
import pathlib

from rstar_jax.runtime import stages


@dataclasses.dataclass(frozen=True)
class RunLayout:
  root: pathlib.Path

  @property
  def prepare_dir(self) -> pathlib.Path:
    return self.root / "prepare"

  def round_dir(self, k: int) -> pathlib.Path:
    return self.root / f"round_{k}"

  def search_dir(self, k: int) -> pathlib.Path:
    return self.round_dir(k) / "search"

  def sft_data(self, k: int) -> pathlib.Path:
    return self.round_dir(k) / "data" / "sft"

  def ppm_data(self, k: int) -> pathlib.Path:
    return self.round_dir(k) / "data" / "ppm"

  def train_dir(self, k: int, model: str) -> pathlib.Path:
    """Trainer output of round k for `model` in {'sft', 'ppm', 'orm', 'pqm'}."""
    return self.round_dir(k) / model

  def hf_dir(self, k: int, model: str) -> pathlib.Path:
    return self.train_dir(k, model) / "hf"

  def eval_dir(self, k: int) -> pathlib.Path:
    return self.round_dir(k) / "eval"

  def marker(self, k: int, stage: str) -> pathlib.Path:
    """Round 0 holds the markers of the preparation stages."""
    base = self.prepare_dir if k == 0 else self.round_dir(k)
    return stages.marker_path(base / "stages", stage)

  @property
  def report_json(self) -> pathlib.Path:
    return self.root / "report.json"

  @property
  def report_md(self) -> pathlib.Path:
    return self.root / "report.md"

  @property
  def plot_png(self) -> pathlib.Path:
    return self.root / "accuracy.png"
