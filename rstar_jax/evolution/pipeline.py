"""The real stages of a self-evolution run: models, engine, sandbox, search, trainers, evaluation.

Multi-host (one process per host): search and evaluation run on each host's local devices over
its share of the problems (each host writes its own shards / partial report); extraction and
report merging are done by the leader; training runs on the global mesh with every process.
"""

from collections.abc import Iterator, Mapping, Sequence
import dataclasses
import itertools
import json
import logging
import math
import pathlib
import shutil
from typing import Any

from rstar_jax import domains
from rstar_jax import hf
from rstar_jax import inference
from rstar_jax import world
from rstar_jax.data import contamination
from rstar_jax.data import records
from rstar_jax.data import schemas
from rstar_jax.data import sources
from rstar_jax.evaluation import harness as evaluation
from rstar_jax.evaluation import heldout_pairs
from rstar_jax.evaluation import process_bench
from rstar_jax.evolution.config import RunConfig
from rstar_jax.evolution.layout import RunLayout
from rstar_jax.evolution.plan import RoundPlan
from rstar_jax.format import fewshot
from rstar_jax.models import ModelConfig
from rstar_jax.runtime import files
from rstar_jax.runtime import mesh as mesh_lib
from rstar_jax.runtime import stages as stages_lib
from rstar_jax.runtime.sync import ProcessSync
from rstar_jax.search import extract as extract_lib
from rstar_jax.search import run as search_run
from rstar_jax.search import showcase
from rstar_jax.search import viewer
from rstar_jax.search.config import SearchConfig
from rstar_jax.training import export
from rstar_jax.training import ppm as ppm_train
from rstar_jax.training import sft as sft_train
from rstar_jax.world import error_kinds
from rstar_jax.world import generator
from rstar_jax.world import pair_labels

BASELINES = ("orm", "pqm")


def _share(items: Sequence, sync: ProcessSync) -> list:
  return list(items[sync.index :: sync.count])


def batch_shards(mesh) -> int:
  return math.prod(mesh.shape[a] for a in ("data", "fsdp"))


def fit_batch_size(cfg, usable: float, unit_shards: int) -> int | None:
  """The configured batch, shrunk (to a multiple of what the layout needs) when the data cannot
  fill two of them over the epochs; None when not even one minimal batch fits."""
  unit = cfg.grad_accum * unit_shards
  available = int(usable * cfg.epochs) // 2
  if usable < 1 or available < unit:
    return None
  return min(cfg.batch_size, available // unit * unit)


class PreflightError(ValueError):
  """The run config names inputs that cannot be used; one line per field."""


def _check_policy_dir(path: str, what: str) -> None:
  """An HF folder of a supported model family, with its own tokenizer."""
  ModelConfig.from_hf(hf.require_model_dir(path, what))
  hf.load_tokenizer(path)


def evaluate_models(
  config: RunConfig,
  problems: Sequence,
  policy_dir: pathlib.Path,
  reward_dirs: dict[str, pathlib.Path],
  out_dir: pathlib.Path,
) -> dict[str, Any]:
  """The config's evaluation of a policy and reward models (HF folders) on this host's devices
  (a reward model reads its own export's tokenizer, else the policy's); writes
  `out_dir/report.json` and returns the report."""
  mesh = config.local_mesh()
  policy = config.load_policy(policy_dir, mesh)
  scorers = {
    name: config.load_reward_model(path, mesh, policy_dir) for name, path in reward_dirs.items()
  }
  with config.sandbox_pool() as pool:
    return evaluation.evaluate_policy(
      problems, policy, pool, scorers, config.eval, out_dir=out_dir, progress=config.progress
    )


class Pipeline:
  """Implements `driver.Stages` for one config and run directory."""

  def __init__(self, config: RunConfig, layout: RunLayout, sync: ProcessSync = ProcessSync()):
    self.config = config
    self.layout = layout
    self.sync = sync

  # Resources --------------------------------------------------------------------------------

  def _world_paths(self) -> dict[str, str]:
    path = self.layout.prepare_dir / "paths.json"
    if not path.is_file():
      raise FileNotFoundError(f"{path}: missing; the prepare stage has not run")
    return json.loads(path.read_text(encoding="utf-8"))

  def problem_stream(
    self, split: str, *, decontaminate: bool = True, block: tuple[int, int] | None = None
  ) -> Iterator:
    """'train' or 'heldout' problems, read one at a time: a configured file (JSONL or ArrayRecord
    directory), else the prepared world split; only positions [start, stop) of it with a
    `block`. With `problems.contamination_drop` set, the training problems the contamination
    report flags are left out."""
    configured = self.config.problems.train if split == "train" else self.config.problems.heldout
    limit = self.config.problems.max_train if split == "train" else self.config.problems.max_heldout
    source = sources.stream_problem_file(configured or self._world_paths()[split])
    loaded = itertools.islice(source, limit or None)
    if block is not None:
      loaded = itertools.islice(loaded, *block)
    threshold = self.config.problems.contamination_drop
    if split != "train" or not threshold or not decontaminate:
      return loaded
    path = self.layout.root / contamination.REPORT_JSON
    if not path.is_file():
      raise FileNotFoundError(f"{path}: missing; problems.contamination_drop needs the report")
    dropped = contamination.flagged(json.loads(path.read_text(encoding="utf-8")), threshold)
    return (p for p in loaded if p.id not in dropped)

  def problems(self, split: str, *, decontaminate: bool = True) -> list:
    """`problem_stream` as a list, for the sets small enough to hold (held-out)."""
    return list(self.problem_stream(split, decontaminate=decontaminate))

  def policy_dir(self, k: int) -> pathlib.Path:
    """The HF folder of round k's policy (0: the bootstrap policy; a round whose SFT was skipped
    for lack of data keeps the policy it started from)."""
    if k == 0:
      return pathlib.Path(self.config.bootstrap.policy or self._world_paths()["policy"])
    trained = self.layout.hf_dir(k, "sft")
    return trained if (trained / "config.json").is_file() else self.policy_dir(k - 1)

  def reward_dirs(self, k: int) -> dict[str, pathlib.Path]:
    """Round k's evaluation reward models: the latest PPM, ORM and PQM trained in rounds 1..k."""
    dirs = {name: self.reward_dir(k, name) for name in ("ppm",) + BASELINES}
    return {name: path for name, path in dirs.items() if path is not None}

  def reward_dir(self, k: int, name: str) -> pathlib.Path | None:
    """The latest reward model `name` ('ppm', 'orm', 'pqm') trained in rounds 1..k, if any."""
    for j in range(k, 0, -1):
      if (self.layout.hf_dir(j, name) / "config.json").is_file():
        return self.layout.hf_dir(j, name)
    return None

  def tokenizer(self):
    """The trainers' tokenizer: the bootstrap's with every step marker as a special token (the
    trainers grow the model's vocabulary to it), so every exported model carries the markers."""
    return hf.with_step_markers(hf.load_tokenizer(self._tokenizer_dir()))[0]

  def global_mesh(self):
    return mesh_lib.global_mesh(
      self.config.mesh, self.config.train_devices, num_processes=self.sync.count
    )

  def _tokenizer_dir(self, model_dir: pathlib.Path | None = None) -> pathlib.Path:
    """A trained model's own tokenizer (its export holds one, with the step markers), else the
    bootstrap's: `bootstrap.tokenizer`, or the bootstrap policy's folder."""
    bootstrap = pathlib.Path(self.config.bootstrap.tokenizer or self.policy_dir(0))
    if model_dir is None or model_dir == self.policy_dir(0):
      return bootstrap
    return hf.tokenizer_dir(model_dir, fallback=bootstrap)

  def engine(self, k: int, mesh):
    """The sampler of round k+1: round k's policy; for round 1 `bootstrap.search_policy` when
    set, with its own folder's tokenizer (it need not share the base policy's vocabulary)."""
    search_policy = self.config.bootstrap.search_policy if k == 0 else ""
    if search_policy:
      return self.config.load_policy(search_policy, mesh)
    return self.config.load_policy(
      self.policy_dir(k), mesh, self._tokenizer_dir(self.policy_dir(k))
    )

  def scorer(self, path: pathlib.Path, mesh):
    return self.config.load_reward_model(path, mesh, self._tokenizer_dir())

  def sandbox(self):
    return self.config.sandbox_pool()

  def search_config(self, plan: RoundPlan) -> SearchConfig:
    overrides = {
      "temperature": plan.temperature,
      "max_code_errors": plan.max_code_errors,
      "stops": plan.stops,
    }
    return dataclasses.replace(
      self.config.search,
      mode=plan.search_mode,
      rollouts=plan.rollouts,
      extra_rollouts=plan.extra_rollouts,
      seed=self.config.seed + 1000 * plan.index,
      **{name: value for name, value in overrides.items() if value is not None},
    )

  def preflight(self) -> None:
    """Checks, before any stage runs, what would otherwise fail hours in: the configured problem
    files load, the configured models are HF folders, both meshes fit the devices. Raises
    `PreflightError` with one line per bad field."""
    c = self.config
    checks = {
      "problems.train": lambda: c.problems.train and sources.load_problem_file(c.problems.train),
      "problems.heldout": lambda: (
        c.problems.heldout and sources.load_problem_file(c.problems.heldout)
      ),
      "problems.benchmarks_dir": lambda: (
        c.problems.contamination_drop and contamination.load_eval_sets(c.problems.benchmarks_dir)
      ),
      "bootstrap.policy": lambda: c.bootstrap.policy and hf.require_model_dir(c.bootstrap.policy),
      "bootstrap.tokenizer": lambda: (
        c.bootstrap.tokenizer and hf.load_tokenizer(c.bootstrap.tokenizer)
      ),
      "bootstrap.search_policy": lambda: (
        c.bootstrap.search_policy
        and _check_policy_dir(c.bootstrap.search_policy, "round-1 search policy")
      ),
      "rounds.problems_per_round": self._check_round_blocks,
      "engine_mesh": self.config.local_mesh,
      "mesh": self.global_mesh,
    }
    errors = []
    for name, check in checks.items():
      try:
        check()
      except Exception as e:  # Every failure is reported with its field.
        errors.append(f"config.{name}: {e}")
    if errors:
      raise PreflightError("\n".join(errors))

  def _check_round_blocks(self) -> None:
    """Every round's block of `rounds.problems_per_round` training problems is there."""
    c = self.config
    needed = c.rounds.problems_needed
    if not needed:
      return
    if c.problems.train:
      source, have = c.problems.train, len(sources.load_problem_file(c.problems.train, needed))
    else:
      source, have = "the world's training split (world.num_train)", c.world.num_train
    if c.problems.max_train:
      have = min(have, c.problems.max_train)
    if have < needed:
      raise ValueError(
        f"{c.rounds.num_rounds} rounds of {c.rounds.problems_per_round} problems need "
        f"{needed} training problems; {source} gives {have}"
      )

  # Stages -----------------------------------------------------------------------------------

  def prepare(self) -> dict[str, Any]:
    """Builds the built-in world (`config.world`) unless problems and the bootstrap policy are
    configured, then the contamination report, its own checkpointed stage, so that it exists
    before round 1 (whose search may leave flagged problems out)."""
    c = self.config
    if not c.builtin_world:
      paths = {
        "train": c.problems.train,
        "heldout": c.problems.heldout,
        "policy": c.bootstrap.policy,
      }
      for name, path in paths.items():
        if not pathlib.Path(path).exists():
          raise FileNotFoundError(f"config {name} path {path} does not exist")
      summary: dict[str, Any] = {"source": "configured"}
    else:
      out = self.layout.prepare_dir / "world"
      summary = {}
      if self.sync.is_leader:
        summary = dict(
          world.build_world(
            out, c.world, sandbox_workers=c.sandbox_workers or None, progress=c.progress
          )
        )
      paths = {
        "train": str(world.train_path(out)),
        "heldout": str(world.heldout_path(out)),
        "policy": str(world.policy_path(out)),
        "bootstrap_eval": str(world.bootstrap_report_path(out)),
        **{
          f"process_{split}": str(world.process_set_path(out, split))
          for split in ("dev", "heldout")
          if c.world.process_problems and c.world.domain == "math"
        },
      }
    if self.sync.is_leader:
      files.write_json(self.layout.prepare_dir / "paths.json", paths)
    self.sync.barrier(f"{self.layout.root}:paths-written")
    contaminated = stages_lib.run_stage(
      self.layout.marker(0, "contamination"),
      lambda: self.contamination_report(paths["train"]),
      self.sync,
      label="prepare: contamination report",
    )
    return {**summary, "paths": paths, "contamination": contaminated}

  def contamination_report(self, train_path: str) -> dict[str, Any]:
    """Writes `contamination.json` / `.md` into the run directory (leader): the word n-gram
    overlap of the run's training problems, the built-in world's included, with every evaluation
    set of `problems.benchmarks_dir`. Skipped, with the reason logged, when there is none."""
    c = self.config.problems
    if not c.benchmarks_dir or not pathlib.Path(c.benchmarks_dir).is_dir():
      reason = f"problems.benchmarks_dir={c.benchmarks_dir!r} is no folder of evaluation sets"
      logging.warning("contamination report skipped: %s", reason)
      return {"skipped": reason}
    if not self.sync.is_leader:
      return {}
    sets = contamination.load_eval_sets(c.benchmarks_dir, exclude=[train_path])
    report = contamination.check(
      self.problem_stream("train", decontaminate=False),
      contamination.Index(sets, c.contamination_ngram),
      source=train_path,
    )
    contamination.write_report(report, self.layout.root)
    summary = contamination.summary(report)
    if c.contamination_drop:
      summary["dropped"] = len(contamination.flagged(report, c.contamination_drop))
    return summary

  def search(self, plan: RoundPlan) -> dict[str, Any]:
    mesh = self.config.local_mesh()
    engine = self.engine(plan.policy_round, mesh)
    if plan.prompt != fewshot.PLAIN:
      engine = inference.PromptedEngine(engine, plan.prompt)
    ppm_dir = self.reward_dir(plan.ppm_round, "ppm") if plan.ppm_round is not None else None
    cfg = self.search_config(plan)
    if plan.ppm_round is not None and ppm_dir is None:
      logging.warning(
        "round %d: no PPM was trained yet (no preference pairs so far); searching terminal-guided",
        plan.index,
      )
      cfg = dataclasses.replace(cfg, mode="terminal")
    scorer = self.scorer(ppm_dir, mesh) if ppm_dir is not None else None
    out = self.layout.search_dir(plan.index)
    block = self.config.rounds.search_block(plan.index)
    with self.sandbox() as pool:
      summary = search_run.run_search(
        self.problem_stream("train", block=block),
        engine,
        scorer,
        pool,
        cfg,
        out,
        progress=self.config.progress,
        process_index=self.sync.index,
        process_count=self.sync.count,
      )
    self.sync.barrier(f"{out}:searched")
    trees = len(search_run.finished_ids(out))
    return {**summary.to_dict(), "mode": cfg.mode, "trees": trees, "problems_block": block}

  def extract(self, plan: RoundPlan) -> dict[str, Any]:
    if not self.sync.is_leader:
      return {}
    trees = extract_lib.iter_trees(self.layout.search_dir(plan.index) / search_run.TREE_DIR)
    shown = showcase.Showcase(self.config.viewer_problems)
    summary = extract_lib.extract(
      shown.watch(trees),
      self.layout.sft_data(plan.index),
      self.layout.ppm_data(plan.index),
      self.config.extract,
    )
    self._write_viewer_pages(shown.trees, self.layout.search_dir(plan.index) / "viewer")
    labels = self.pair_labels(self.layout.ppm_data(plan.index))
    return {**summary.to_dict(), **({"pair_labels": labels} if labels else {})}

  def pair_labels(self, data: pathlib.Path) -> dict[str, Any]:
    """`pair_labels.pair_quality` of a round's PPM pairs when they come from the math world's own
    training split, whose values judge every step; otherwise nothing."""
    c = self.config
    if not c.builtin_world or c.world.domain != "math" or c.problems.train:
      return {}
    pairs = (pair for _, pair in records.read_examples(data, schemas.PPMPair))
    prompt = domains.get(c.domain).prompt
    return pair_labels.pair_quality(pairs, pair_labels.train_problems(c.world), prompt)

  def greedy_error_kinds(self, rows_by_round: Mapping[int, Sequence[dict]]) -> dict[int, dict]:
    """`error_kinds.greedy_error_kinds` of each round's held-out greedy solutions when they are
    the math world's own held-out split; rounds whose rows kept no texts (runs written before
    the harness kept them) are left out."""
    c = self.config
    if not c.builtin_world or c.world.domain != "math" or c.problems.heldout:
      return {}
    problems = generator.problems_by_id("heldout", c.world.num_heldout, c.world.seed)
    return {
      k: error_kinds.greedy_error_kinds(rows, problems)
      for k, rows in rows_by_round.items()
      if all("text" in r["answers"].get(evaluation.GREEDY, {"text": ""}) for r in rows)
    }

  def evaluate_process_set(self, scorers: dict[str, Any]) -> dict[str, Any]:
    """ProcessBench metrics of each reward model's scorer on the world's process sets (threshold
    chosen on the development set), when the world built them; leader only."""
    paths = self._world_paths()
    if "process_heldout" not in paths or not scorers:
      return {}
    dev, heldout = (world.read_process_set(paths[f"process_{s}"]) for s in ("dev", "heldout"))
    prompt = domains.get(self.config.domain).prompt
    return {
      name: process_bench.evaluate_scorer(scorer, dev, heldout, prompt)
      for name, scorer in scorers.items()
    }

  def _write_viewer_pages(self, trees: Sequence, out: pathlib.Path) -> None:
    """Pages for the first few problems, preferring ones with both right and wrong answers."""
    ranked = sorted(trees, key=lambda t: extract_lib.difficulty(t) != extract_lib.MEDIUM)
    out.mkdir(parents=True, exist_ok=True)
    for tree in ranked[: self.config.viewer_problems]:
      viewer.write_html(tree, out / f"{tree.problem_id}.html")

  def _train(
    self,
    kind: str,
    plan: RoundPlan,
    init: pathlib.Path,
    data: pathlib.Path,
    out: pathlib.Path,
    **fixed: Any,
  ) -> dict[str, Any]:
    fn = sft_train.train_sft if kind == "sft" else ppm_train.train_ppm
    section = self.config.sft if kind == "sft" else self.config.ppm
    cfg = dataclasses.replace(
      section,
      seed=self.config.seed + plan.index,
      progress_bar=self.config.progress,
      export_hf=False,
      **fixed,
    )
    mesh = self.global_mesh()
    usable = records.read_manifest(data)["num_records"] * (1 - getattr(cfg, "eval_fraction", 0))
    batch_size = fit_batch_size(cfg, usable, math.lcm(batch_shards(mesh), self.sync.count))
    if batch_size is None:
      logging.warning(
        "%s: %d records are too few to train on; %s skipped",
        data,
        records.read_manifest(data)["num_records"],
        out.name,
      )
      return {"skipped": f"too few records in {data}"}
    cfg = dataclasses.replace(cfg, batch_size=batch_size)
    model = hf.load_model(
      hf.require_model_dir(init, "initial model"),
      dtype=self.config.train_param_dtype,
      compute_dtype=self.config.train_compute_dtype,
      mesh=mesh,
    )
    tokenizer = self.tokenizer()
    result = fn(cfg, data_dir=data, init=model, tokenizer=tokenizer, out_dir=out, mesh=mesh)
    hf_dir = export.save_from_all(result.model, out / "hf", tokenizer, self.sync)
    return {
      "step": result.step,
      **result.final_metrics,
      "data": result.data_stats,
      "hf_dir": str(hf_dir),
    }

  def train_sft(self, plan: RoundPlan) -> dict[str, Any]:
    init_round = 0 if self.config.rounds.sft_init == "base" else plan.policy_round
    return self._train(
      "sft",
      plan,
      self.policy_dir(init_round),
      self.layout.sft_data(plan.index),
      self.layout.train_dir(plan.index, "sft"),
    )

  def train_ppm(self, plan: RoundPlan) -> dict[str, Any]:
    return self._train(
      "ppm",
      plan,
      self.policy_dir(plan.index),
      self.layout.ppm_data(plan.index),
      self.layout.train_dir(plan.index, "ppm"),
    )

  def train_baselines(self, plan: RoundPlan) -> dict[str, Any]:
    return {
      name: self._train(
        "ppm",
        plan,
        self.policy_dir(plan.index),
        self.layout.ppm_data(plan.index),
        self.layout.train_dir(plan.index, name),
        objective=name,
      )
      for name in BASELINES
    }

  def evaluate(self, plan: RoundPlan) -> dict[str, Any]:
    k = plan.index
    reward_models = self.reward_dirs(k)
    out = self.layout.eval_dir(k)
    share_dir = out / f"process_{self.sync.index}"
    shutil.rmtree(share_dir, ignore_errors=True)  # Evaluation restarts whole when interrupted.
    config = self.config
    if plan.greedy_eval_only:
      config = dataclasses.replace(
        config, eval=dataclasses.replace(config.eval, samples=0, mcts_runs=0)
      )
    # Each reward model is loaded once, for best-of-N and MCTS here and the process set below.
    mesh = self.config.local_mesh()
    scorers = {name: self.scorer(path, mesh) for name, path in reward_models.items()}
    with self.sandbox() as pool:
      evaluation.evaluate_policy(
        _share(self.problems("heldout"), self.sync),
        self.engine(k, mesh),
        pool,
        scorers,
        config.eval,
        out_dir=share_dir,
        progress=config.progress,
      )
    self.sync.barrier(f"{out}:evaluated")
    if not self.sync.is_leader:
      return {}
    shares = [
      json.loads((out / f"process_{i}" / "report.json").read_text(encoding="utf-8"))
      for i in range(self.sync.count)
    ]
    report = evaluation.make_report([p for r in shares for p in r["problems"]], shares[0]["config"])
    files.write_json(out / "report.json", report)
    tree_dirs = [
      out / f"process_{i}" / "mcts" / search_run.TREE_DIR for i in range(self.sync.count)
    ]
    mcts_trees = [t for d in tree_dirs if d.is_dir() for t in extract_lib.load_trees(d)]
    if mcts_trees:
      self._write_viewer_pages(mcts_trees, out / "viewer")
    logging.info("round %d held-out accuracy: %s", k, report["accuracy"])
    process = self.evaluate_process_set(scorers)
    return {
      **({"process": process} if process else {}),
      "accuracy": report["accuracy"],
      "num_problems": report["num_problems"],
      "num_problems_by_method": report["num_problems_by_method"],
      "by_level": report["by_level"],
      "pass_at_k": report["pass_at_k"],
      "heldout_pairs": heldout_pairs.pair_accuracy(mcts_trees),
    }
