"""Grading benchmark: rstar-jax's grader vs math-verify on labelled answer pairs.

The pairs (`tests/data/grading_pairs.jsonl`: prediction, gold, whether a person marks them equal,
and the kind of notation) go through the strict grader, the lenient one and math-verify, each call
timed. Reported: accuracy and false positives per grader, accuracy per kind, every miss of the
strict grader, the slowest case against the time bound, and a thousand adversarial strings graded
against golds of every shape. Last line: `grading accuracy A (math-verify B) on N pairs`.
"""

import collections
import json
import pathlib
import random
import time

from absl import flags
import math_verify

from rstar_jax import grading
from rstar_jax.grading import equivalence

PAIRS_PATH = pathlib.Path(__file__).resolve().parents[2] / "tests" / "data" / "grading_pairs.jsonl"
_PAIRS = flags.DEFINE_string("grading_pairs", str(PAIRS_PATH), "Labelled answer pairs (JSONL).")
_ADVERSARIAL = flags.DEFINE_integer("grading_adversarial", 1000, "Adversarial strings to grade.")
_FRAGMENTS = (
  r"\frac{",
  "}",
  "{",
  r"\sqrt{",
  "^{",
  r"\pm",
  "(",
  ")",
  "[",
  "]",
  r"\{",
  r"\}",
  ",",
  "=",
  "<",
  r"\le",
  r"\infty",
  r"\cup",
  r"\begin{pmatrix}",
  r"\end{pmatrix}",
  "&",
  r"\\",
  r"\overline{",
  "0.",
  "9",
  "99",
  "x",
  "i",
  "e",
  r"\pi",
  r"\cos",
  r"\binom",
  r"\text{",
  r"\mathbf{I}",
  "%",
  "$",
  r"\left(",
  r"\right)",
  "!",
  "^",
  "_",
  "-",
  "+",
  "/",
  r"\cdot",
  r"\times 10^{",
  "\x00",
  "√",
  "∞",
)
ADVERSARIAL_GOLDS = ("1", r"\frac{1}{2}", r"(1, 2]", r"\pm 3", r"\begin{pmatrix}1\\2\end{pmatrix}")


def load_pairs(path: str | pathlib.Path = PAIRS_PATH) -> list[dict]:
  return [json.loads(line) for line in pathlib.Path(path).read_text().splitlines() if line.strip()]


def adversarial_strings(n: int, seed: int = 0) -> list[str]:
  """Random splices of LaTeX fragments, deep nestings and huge powers: inputs that must neither
  hang nor crash a grader."""
  rng = random.Random(seed)
  out = []
  for i in range(n):
    kind = i % 4
    if kind == 0:
      out.append("".join(rng.choice(_FRAGMENTS) for _ in range(rng.randint(1, 40))))
    elif kind == 1:
      depth = rng.randint(10, 300)
      opener = rng.choice((r"\sqrt{", r"\frac{1}{", "{", "(", "^{"))
      out.append(opener * depth + "2" + "}" * depth * rng.randint(0, 1))
    elif kind == 2:
      base = rng.randint(2, 99)
      out.append("^".join(["{" + str(base)] * rng.randint(2, 6)) + "}" * rng.randint(0, 6))
    else:
      out.append(rng.choice(_FRAGMENTS) * rng.randint(50, 900))
  return out


def _math_verify(pred: str, gold: str) -> bool:
  try:
    return bool(
      math_verify.verify(
        math_verify.parse(f"\\boxed{{{gold}}}"), math_verify.parse(f"\\boxed{{{pred}}}")
      )
    )
  except Exception:  # its own errors on hostile input count as "not equal"
    return False


def _score(name: str, judge, pairs: list[dict]) -> tuple[float, list[dict], float]:
  """Accuracy, the pairs it got wrong, and its slowest single call in seconds."""
  misses, slowest = [], 0.0
  for pair in pairs:
    start = time.perf_counter()
    got = judge(pair["prediction"], pair["gold"])
    slowest = max(slowest, time.perf_counter() - start)
    if got != pair["equal"]:
      misses.append(pair)
  accuracy = 1 - len(misses) / len(pairs)
  false_positives = sum(not m["equal"] for m in misses)
  print(
    f"{name:<12} accuracy {accuracy:.3f}  misses {len(misses):3d}  "
    f"false positives {false_positives:2d}  slowest case {slowest:.2f} s"
  )
  return accuracy, misses, slowest


def run(argv: list[str]) -> None:
  del argv
  pairs = load_pairs(_PAIRS.value)
  kinds = collections.Counter(p["kind"] for p in pairs)
  print(
    f"grading: {len(pairs)} pairs ({sum(p['equal'] for p in pairs)} equal), kinds {dict(kinds)}"
  )
  start = time.perf_counter()
  grading.is_equivalent.__wrapped__("x^2", "x*x")  # starts the symbolic worker
  print(f"symbolic worker start-up {time.perf_counter() - start:.2f} s (not counted below)")
  strict = equivalence.is_equivalent.__wrapped__  # uncached: every call is timed for real
  accuracy, misses, slowest = _score("rstar-jax", strict, pairs)
  _score("lenient", grading.grader("lenient").__wrapped__, pairs)
  mv_accuracy, mv_misses, _ = _score("math-verify", _math_verify, pairs)
  print(
    f"time bound per case {equivalence.TIME_BOUND_S:.1f} s (+1 s kill grace); "
    f"slowest case {slowest:.2f} s"
  )
  print("accuracy per kind (rstar-jax / math-verify):")
  for kind in kinds:
    ours = sum(m["kind"] == kind for m in misses)
    theirs = sum(m["kind"] == kind for m in mv_misses)
    print(
      f"  {kind:<22} {1 - ours / kinds[kind]:.3f} / {1 - theirs / kinds[kind]:.3f}  ({kinds[kind]})"
    )
  for miss in misses:
    print(f"  miss: {miss['prediction']!r} vs {miss['gold']!r} (equal={miss['equal']})")
  strings = adversarial_strings(_ADVERSARIAL.value)
  start, worst = time.perf_counter(), 0.0
  for i, s in enumerate(strings):
    t = time.perf_counter()
    strict(s, ADVERSARIAL_GOLDS[i % len(ADVERSARIAL_GOLDS)])
    worst = max(worst, time.perf_counter() - t)
  print(
    f"{len(strings)} adversarial strings: {time.perf_counter() - start:.1f} s in all, "
    f"slowest {worst:.2f} s"
  )
  print(f"grading accuracy {accuracy:.3f} (math-verify {mv_accuracy:.3f}) on {len(pairs)} pairs")
