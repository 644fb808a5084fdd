"""Contamination report: word n-gram overlap of training problems with evaluation sets.

The rule is the common decontamination practice of GPT-3 (Brown et al., 2020, appendix C): an
evaluation problem is contaminated when a training problem contains one of its word 13-grams,
after lower-casing and dropping punctuation; problems shorter than 13 words are checked as one
n-gram of all their words, down to 8 words (GPT-3's shortest N), and shorter ones are not checked.
Only the question texts are compared. LaTeX markup that only lays text out (`$`, braces,
`\\left`, `\\text`, `\\dfrac`, thin spaces) is dropped, so the same problem typeset differently
still matches; commands that carry meaning (`\\sqrt`, `\\pi`) stay as words.

The evaluation sets are small and indexed in memory; the training problems are streamed once, so
a training set of any size costs memory only for the problems that share an n-gram.

Overlap of a (training, evaluation) pair: the fraction of the evaluation problem's n-grams that
the training problem contains (1.0: the whole evaluation question appears in it). Coverage of an
evaluation problem: the fraction of its n-grams found in any training problem.
"""

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
import heapq
import logging
import os
import pathlib
import re
import time
from typing import Any

from rstar_jax.data import benchmarks
from rstar_jax.data.problems import Problem
from rstar_jax.runtime import files

NGRAM = 13
MIN_WORDS = 8
EXAMPLES = 5
REPORT_JSON = "contamination.json"
REPORT_MD = "contamination.md"
TRAIN_SUFFIX = "_train"  # Benchmark files that are training splits (gsm8k_train) are not checked.

_LAYOUT_COMMANDS = (
  "left|right|big|Big|bigg|Bigg|displaystyle|textstyle|text|textbf|textit|textrm|mathrm|"
  "mathbf|mathit|mbox|operatorname|quad|qquad|limits|dfrac|tfrac|frac"
)
_LAYOUT = re.compile(rf"\\(?:{_LAYOUT_COMMANDS})(?![a-zA-Z])|\\[,;:! ]")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_WORD = re.compile(r"[a-z]+|\d+(?:\.\d+)?")

Gram = tuple[str, ...]


def words(text: str) -> list[str]:
  """The words compared: letters or numbers (1,000 → 1000), lower-case, markup dropped."""
  return _WORD.findall(_THOUSANDS.sub("", _LAYOUT.sub(" ", text)).lower())


def normalize(text: str) -> str:
  return " ".join(words(text))


def ngrams(tokens: Sequence[str], n: int) -> set[Gram]:
  return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


class Index:
  """The n-grams of every evaluation problem, keyed to the problems that contain them."""

  def __init__(
    self, sets: Mapping[str, Sequence[Problem]], ngram: int = NGRAM, min_words: int = MIN_WORDS
  ):
    if ngram < 1:
      raise ValueError(f"ngram must be >= 1, got {ngram}")
    self.ngram = ngram
    self.min_words = min(min_words, ngram)
    self.sets = {name: list(problems) for name, problems in sets.items()}
    self.owner: list[tuple[str, str]] = []  # Problem key -> (set, problem id).
    self.size: list[int] = []  # Problem key -> its number of distinct n-grams.
    self.too_short: Counter[str] = Counter()
    self.table: dict[Gram, list[int]] = {}
    lengths = set()
    for name, problems in self.sets.items():
      for problem in problems:
        tokens = words(problem.question)
        if len(tokens) < self.min_words:
          self.too_short[name] += 1
          continue
        length = min(ngram, len(tokens))
        lengths.add(length)
        grams = ngrams(tokens, length)
        key = len(self.owner)
        self.owner.append((name, problem.id))
        self.size.append(len(grams))
        for gram in grams:
          self.table.setdefault(gram, []).append(key)
    self.lengths = sorted(lengths)  # Short evaluation problems are whole-text n-grams.

  def matches(self, question: str) -> dict[int, set[Gram]]:
    """{evaluation problem key: its n-grams that `question` contains}."""
    tokens = words(question)
    hits: dict[int, set[Gram]] = {}
    for length in self.lengths:
      for gram in ngrams(tokens, length):
        for key in self.table.get(gram, ()):
          hits.setdefault(key, set()).add(gram)
    return hits


def load_eval_sets(
  directory: str | os.PathLike, exclude: Iterable[str | os.PathLike] = ()
) -> dict[str, list[Problem]]:
  """Every `*.jsonl` of a benchmarks directory by file stem, except training splits (`*_train`)
  and the files in `exclude` (the training file itself)."""
  directory = pathlib.Path(directory)
  if not directory.is_dir():
    raise FileNotFoundError(f"benchmarks directory {directory} does not exist")
  skip = {pathlib.Path(p).resolve() for p in exclude}
  return {
    path.stem: benchmarks.load_benchmark(path)
    for path in sorted(directory.glob("*.jsonl"))
    if not path.stem.endswith(TRAIN_SUFFIX) and path.resolve() not in skip
  }


def check(
  train: Iterable[Problem], index: Index, *, examples: int = EXAMPLES, source: str = ""
) -> dict[str, Any]:
  """The report of `train` (consumed once, in order) against the indexed evaluation sets."""
  covered: dict[int, set[Gram]] = {}
  sharing: Counter[str] = Counter()
  closest: dict[str, list[tuple]] = {name: [] for name in index.sets}
  train_overlap: dict[str, float] = {}
  count, start = 0, time.perf_counter()
  for count, problem in enumerate(train, start=1):
    hits = index.matches(problem.question)
    for key, grams in hits.items():
      name, eval_id = index.owner[key]
      overlap = len(grams) / index.size[key]
      train_overlap[problem.id] = max(overlap, train_overlap.get(problem.id, 0.0))
      covered.setdefault(key, set()).update(grams)
      # Ties keep the earlier training problem: -count ranks it higher.
      item = (overlap, len(grams), -count, problem.id, eval_id)
      (heapq.heappush if len(closest[name]) < examples else heapq.heappushpop)(closest[name], item)
    sharing.update({index.owner[key][0] for key in hits})
    if count % 100_000 == 0:
      logging.info("contamination: %d training problems checked", count)
  logging.info("contamination: %d training problems in %.1fs", count, time.perf_counter() - start)
  sets = {}
  for name, problems in index.sets.items():
    coverage = {
      index.owner[key][1]: len(grams) / index.size[key]
      for key, grams in sorted(covered.items())
      if index.owner[key][0] == name
    }
    sets[name] = {
      "problems": len(problems),
      "too_short": index.too_short[name],
      "contaminated": len(coverage),
      "train_sharing": sharing[name],
      "max_overlap": max((item[0] for item in closest[name]), default=0.0),
      "examples": [
        {"train_id": t, "eval_id": e, "overlap": o, "shared_ngrams": s}
        for o, s, _, t, e in sorted(closest[name], reverse=True)
      ],
      "coverage": coverage,
    }
  return {
    "ngram": index.ngram,
    "min_words": index.min_words,
    "train": {"source": source, "problems": count, "sharing": len(train_overlap)},
    "sets": sets,
    "train_overlap": train_overlap,
  }


def flagged(report: Mapping[str, Any], threshold: float) -> set[str]:
  """Training problems whose overlap with some evaluation problem is at least `threshold`."""
  return {pid for pid, overlap in report["train_overlap"].items() if overlap >= threshold}


def markdown(report: Mapping[str, Any]) -> str:
  train = report["train"]
  lines = [
    "# Contamination report",
    "",
    f"{train['problems']} training problems ({train['source'] or 'given'}), "
    f"{report['ngram']}-gram overlap of the question texts; {train['sharing']} share at "
    "least one n-gram with an evaluation set. Overlap: the fraction of an evaluation "
    "problem's n-grams that a training problem contains.",
    "",
    "| set | problems | contaminated | % | too short | training problems sharing | max overlap |",
    "|---|---|---|---|---|---|---|",
  ]
  for name, s in report["sets"].items():
    share = 100 * s["contaminated"] / s["problems"] if s["problems"] else 0.0
    lines.append(
      f"| {name} | {s['problems']} | {s['contaminated']} | {share:.1f} | {s['too_short']} "
      f"| {s['train_sharing']} | {s['max_overlap']:.2f} |"
    )
  lines += ["", "## Closest pairs", "", "| set | training problem | evaluation problem | overlap |"]
  lines.append("|---|---|---|---|")
  for name, s in report["sets"].items():
    for x in s["examples"]:
      lines.append(f"| {name} | {x['train_id']} | {x['eval_id']} | {x['overlap']:.2f} |")
  return "\n".join(lines) + "\n"


def write_report(report: Mapping[str, Any], out_dir: str | os.PathLike) -> None:
  """`contamination.json` and `contamination.md` in `out_dir`, each written atomically."""
  out_dir = pathlib.Path(out_dir)
  files.write_json(out_dir / REPORT_JSON, report)
  files.write_text(out_dir / REPORT_MD, markdown(report))


def summary(report: Mapping[str, Any]) -> dict[str, Any]:
  """The counts a stage marker keeps: contaminated evaluation problems per set."""
  return {
    "train_sharing": report["train"]["sharing"],
    "contaminated": {name: s["contaminated"] for name, s in report["sets"].items()},
  }
