"""Builds the built-in world: problem splits, teacher data, tokenizer and the bootstrap policy.

Each stage writes its outputs atomically and then a small `stages/<name>.json` record; a stage
whose record exists is skipped, so a killed build resumes where it stopped and a finished build
returns its summary at once.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterator
import dataclasses
import itertools
import json
import os
import pathlib
from typing import Any

from rstar_jax import domains
from rstar_jax import hf
from rstar_jax import inference
from rstar_jax.data import problems as problems_lib
from rstar_jax.data import records
from rstar_jax.data import schemas
from rstar_jax.evaluation import harness as evaluation_harness
from rstar_jax.runtime import files
from rstar_jax.runtime import stages
from rstar_jax.sandbox import SandboxPool
from rstar_jax.training import loop
from rstar_jax.world import bootstrap as bootstrap_lib
from rstar_jax.world import code_generator
from rstar_jax.world import code_teacher
from rstar_jax.world import generator
from rstar_jax.world import process_set
from rstar_jax.world import teacher as teacher_lib
from rstar_jax.world import tokenizer as tokenizer_lib
from rstar_jax.world.config import WorldConfig


def train_path(out_dir: str | os.PathLike) -> pathlib.Path:
  return pathlib.Path(out_dir) / "train.jsonl"


def heldout_path(out_dir: str | os.PathLike) -> pathlib.Path:
  return pathlib.Path(out_dir) / "heldout.jsonl"


def policy_path(out_dir: str | os.PathLike) -> pathlib.Path:
  """The HF folder of the bootstrap policy, tokenizer included."""
  return pathlib.Path(out_dir) / "policy"


def tokenizer_path(out_dir: str | os.PathLike) -> pathlib.Path:
  return pathlib.Path(out_dir) / "tokenizer"


def process_set_path(out_dir: str | os.PathLike, split: str) -> pathlib.Path:
  """The labelled process set of `split` ('dev' chooses thresholds, 'heldout' reports)."""
  return pathlib.Path(out_dir) / "process" / f"{split}.jsonl"


def dev_path(out_dir: str | os.PathLike) -> pathlib.Path:
  """The development problems the bootstrap's early stop is checked on."""
  return pathlib.Path(out_dir) / "dev.jsonl"


def bootstrap_report_path(out_dir: str | os.PathLike) -> pathlib.Path:
  """The bootstrap policy's held-out greedy evaluation (`harness.make_report` format)."""
  return pathlib.Path(out_dir) / "bootstrap_eval" / "report.json"


# Per domain, the module generating its problems (`generate`, `iter_problems`) and its teacher's
# (`solve`): the rest of the build is the same for every world.
_KITS: dict[str, tuple[Any, Any]] = {
  "math": (generator, teacher_lib),
  "code": (code_generator, code_teacher),
}


def _stage(out: pathlib.Path, name: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
  return stages.run_stage(stages.marker_path(out / "stages", name), fn, label=f"world: {name}")


def _difficulties(world_problems: list[generator.WorldProblem]) -> dict[str, int]:
  counts = collections.Counter(p.difficulty for p in world_problems)
  return {str(k): counts[k] for k in sorted(counts)}


def _error_rates(solutions: list[teacher_lib.Solution]) -> dict[str, float]:
  """Observed per-operation error rates of the teacher and the accuracy of its answers."""
  per_op = [e for s in solutions for e in s.errors]
  kinds = (teacher_lib.WRONG_OPERATION, teacher_lib.WRONG_OPERAND, teacher_lib.MISSING_STEP)
  rates = {k: sum(e == k for e in per_op) / max(1, len(per_op)) for k in kinds}
  rates["solution_accuracy"] = sum(s.correct for s in solutions) / max(1, len(solutions))
  return rates


def build_world(
  out_dir: str | os.PathLike,
  cfg: WorldConfig = WorldConfig(),
  *,
  sandbox_workers: int | None = None,
  progress: bool = True,
) -> dict[str, Any]:
  """Builds (or finishes building) the world under `out_dir`; returns a JSON-able summary."""
  seed, teacher, bootstrap = cfg.seed, cfg.teacher, cfg.bootstrap
  problems_of, teacher_of = _KITS[cfg.domain]
  domain = domains.get(cfg.domain)
  out = pathlib.Path(out_dir)
  out.mkdir(parents=True, exist_ok=True)
  summary_file = out / "summary.json"
  if summary_file.is_file():
    return json.loads(summary_file.read_text(encoding="utf-8"))
  train = problems_of.generate("train", cfg.num_train, seed)
  heldout = problems_of.generate("heldout", cfg.num_heldout, seed)
  taught = _teacher_problems(
    problems_of,
    bootstrap.num_teacher_problems,
    seed,
    train,
    cfg.teacher_max_level,
    cfg.teacher_hard_share,
  )
  taught += train * bootstrap.rehearse_train
  with SandboxPool(num_workers=sandbox_workers) as pool:
    stages = {
      "problems": _stage(out, "problems", lambda: _write_splits(out, train, heldout)),
      "teacher": _stage(
        out, "teacher", lambda: _teach(out, taught, teacher_of, teacher, domain, pool, seed)
      ),
      "tokenizer": _stage(out, "tokenizer", lambda: _train_tokenizer(out, bootstrap)),
    }
    if cfg.process_problems and cfg.domain == "math":
      stages["process_set"] = _stage(
        out, "process_set", lambda: _write_process_sets(out, cfg, train, heldout)
      )
    stages["bootstrap"] = _stage(
      out,
      "bootstrap",
      lambda: _pretrain(out, bootstrap, progress, _dev_stop(out, cfg, heldout, domain, pool)),
    )
    stages["evaluate"] = _stage(
      out, "evaluate", lambda: _evaluate(out, heldout, pool, bootstrap, domain, progress)
    )
  summary = {
    "domain": cfg.domain,
    "seed": seed,
    "num_train": cfg.num_train,
    "num_heldout": cfg.num_heldout,
    "num_teacher_problems": len(taught),
    "teacher_max_level": cfg.teacher_max_level,
    "teacher_hard_share": cfg.teacher_hard_share,
    "teacher_config": {k: getattr(teacher, k) for k in teacher.__dataclass_fields__},
    "stages": stages,
    "total_wall_s": round(sum(s["wall_s"] for s in stages.values()), 2),
    "bootstrap_heldout_greedy_accuracy": stages["evaluate"].get("accuracy"),
  }
  files.write_json(summary_file, summary, sort_keys=True)
  return summary


def fresh_problems(problems_of: Any, split: str, seed: int, taken: set[str]) -> Iterator:
  """`split`'s stream `seed` without the problems whose question is in `taken`."""
  return (p for p in problems_of.iter_problems(split, seed) if p.problem.question not in taken)


def _fresh_problems(
  problems_of: Any,
  split: str,
  seed: int,
  used: list,
  count: int,
  keep: Callable[[Any], bool] | None = None,
) -> list:
  """The first `count` problems of `split`'s stream `seed` whose question none of `used` asks
  (and that `keep` accepts)."""
  taken = {p.problem.question for p in used}
  stream = fresh_problems(problems_of, split, seed, taken)
  return list(itertools.islice(filter(keep, stream) if keep else stream, count))


def _teacher_problems(
  problems_of: Any, count: int, seed: int, train: list, max_level: int = 0, hard_share: float = 0.0
) -> list:
  """The teacher's problems: train-split stories of a stream of their own (seed + 1) without
  any question of the search split, so the bootstrap policy is the same whatever `num_train` is
  and has never seen a problem it will search or be evaluated on (held-out is hash-disjoint);
  `BootstrapConfig.rehearse_train` alone adds the search split, for smoke runs. With a
  `max_level`, the stream's first problems of that level or below, then `hard_share` of `count`
  from its problems above it."""
  if not max_level:
    return _fresh_problems(problems_of, "train", seed + 1, train, count)
  num_hard = round(count * hard_share)

  def hard(p: Any) -> bool:
    return int(p.problem.level) > max_level

  easy = _fresh_problems(
    problems_of, "train", seed + 1, train, count - num_hard, lambda p: not hard(p)
  )
  return easy + _fresh_problems(problems_of, "train", seed + 1, train, num_hard, hard)


def _write_process_sets(
  out: pathlib.Path, cfg: WorldConfig, train: list, heldout: list
) -> dict[str, Any]:
  """Process sets of problems of their own stream (seed + 2), none of them searched or
  evaluated: development from the train split, held-out from the held-out split."""
  summary = {}
  for split, source, used in (("dev", "train", train), ("heldout", "heldout", heldout)):
    examples = process_set.build_process_set(
      _fresh_problems(generator, source, cfg.seed + 2, used, cfg.process_problems),
      seed=cfg.seed,
      teacher=cfg.teacher,
    )
    process_set.write_process_set(process_set_path(out, split), examples)
    summary[split] = {
      "examples": len(examples),
      "erroneous": sum(e.first_error >= 0 for e in examples),
    }
  return summary


def _write_splits(out: pathlib.Path, train: list, heldout: list) -> dict[str, Any]:
  problems_lib.write_problems(train_path(out), [p.problem for p in train])
  problems_lib.write_problems(heldout_path(out), [p.problem for p in heldout])
  return {
    "train": len(train),
    "heldout": len(heldout),
    "train_difficulty": _difficulties(train),
    "heldout_difficulty": _difficulties(heldout),
  }


def _teach(
  out: pathlib.Path,
  taught: list,
  teacher_of: Any,
  config: teacher_lib.TeacherConfig,
  domain: domains.Domain,
  pool: Any,
  seed: int,
) -> dict[str, Any]:
  """Teacher solutions (all kept, right or wrong: the teacher is imperfect) as an SFT dataset."""
  solutions = teacher_of.solve(taught, pool, config, seed=seed)
  by_id = {p.problem.id: p for p in taught}
  examples = [
    schemas.SFTExample(
      s.problem_id,
      domain.prompt(by_id[s.problem_id].problem.question),
      s.text,
      difficulty=by_id[s.problem_id].difficulty,
    )
    for s in solutions
  ]
  (out / "teacher").mkdir(exist_ok=True)
  records.write_jsonl(
    out / "teacher" / "solutions.jsonl", [dataclasses.asdict(s) for s in solutions]
  )
  records.write_dataset(
    out / "teacher" / "sft",
    [e.to_record() for e in examples],
    schema=schemas.SFTExample.SCHEMA,
    manifest_extra={"difficulty_counts": _difficulties(taught)},
  )
  return {
    "solutions": len(solutions),
    "sft_examples": len(examples),
    "error_rates": _error_rates(solutions),
  }


def _train_tokenizer(out: pathlib.Path, cfg: bootstrap_lib.BootstrapConfig) -> dict[str, Any]:
  """A byte-level BPE of the teacher's data only: no text of a searched or held-out problem
  shapes the vocabulary (the world's words and number format all occur in the teacher's)."""
  examples = records.read_examples(out / "teacher" / "sft", schemas.SFTExample)
  texts = [e.prompt + e.response for _, e in examples]
  tok = tokenizer_lib.train_tokenizer(texts, cfg.vocab_size)
  tokenizer_lib.save_tokenizer(tok, tokenizer_path(out))
  lengths = sorted(len(tok(t)["input_ids"]) for t in texts)
  return {
    "vocab_size": len(tok),
    "max_tokens": lengths[-1] if lengths else 0,
    "median_tokens": lengths[len(lengths) // 2] if lengths else 0,
  }


def _dev_stop(
  out: pathlib.Path, cfg: WorldConfig, heldout: list, domain: domains.Domain, pool: Any
) -> loop.EarlyStop | None:
  """The bootstrap's early stop (`BootstrapConfig.target_dev_accuracy`), checked on held-out-split
  problems of their own stream (seed + 3), none of the held-out set; written to `dev.jsonl`."""
  bootstrap = cfg.bootstrap
  if not bootstrap.target_dev_accuracy:
    return None
  fresh = _fresh_problems(
    _KITS[cfg.domain][0], "heldout", cfg.seed + 3, heldout, bootstrap.dev_problems
  )
  dev = [p.problem for p in fresh]
  problems_lib.write_problems(dev_path(out), dev)
  tok = hf.load_tokenizer(tokenizer_path(out))
  return bootstrap_lib.dev_stop(bootstrap, dev, pool, tok, domain=domain.name)


def _pretrain(
  out: pathlib.Path,
  cfg: bootstrap_lib.BootstrapConfig,
  progress: bool,
  stop: loop.EarlyStop | None,
) -> dict[str, Any]:
  tok = hf.load_tokenizer(tokenizer_path(out))
  model, history = bootstrap_lib.pretrain(
    cfg,
    data_dir=out / "teacher" / "sft",
    tokenizer=tok,
    work_dir=out / "bootstrap_sft",
    progress=progress,
    stop=stop,
  )
  with files.atomic_path(policy_path(out)) as tmp:
    hf.save_model(model, tmp, tokenizer=tok)
  losses = [h["loss"] for h in history if "loss" in h]
  checks = {str(h["step"]): h["dev_greedy"] for h in history if "dev_greedy" in h}
  return {
    "steps": len(history),
    **(
      {"dev_greedy_by_step": checks, "stopped_early": bool(history[-1].get(loop.STOPPED))}
      if stop is not None and history
      else {}
    ),
    "first_loss": losses[0] if losses else None,
    "final_loss": losses[-1] if losses else None,
    "model": {
      k: getattr(cfg, k)
      for k in ("hidden_size", "num_layers", "num_heads", "num_kv_heads", "intermediate_size")
    },
  }


def _evaluate(
  out: pathlib.Path,
  heldout: list,
  pool: Any,
  cfg: bootstrap_lib.BootstrapConfig,
  domain: domains.Domain,
  progress: bool,
) -> dict[str, Any]:
  chosen = [p.problem for p in heldout[: cfg.eval_problems]]
  if not chosen:
    return {"problems": 0, "accuracy": None}
  report = bootstrap_lib.greedy_accuracy(
    inference.load_engine(policy_path(out)),
    chosen,
    pool,
    cfg,
    domain=domain.name,
    progress=progress,
  )
  files.write_json(bootstrap_report_path(out), report)
  return {
    "problems": report["num_problems"],
    "accuracy": report["accuracy"][evaluation_harness.GREEDY],
    "by_level": report["by_level"],
  }
