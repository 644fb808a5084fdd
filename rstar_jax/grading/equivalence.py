"""Answer equivalence: cheap structural and numeric rules first, sympy (bounded) only when needed.

Deliberately stricter than math-verify where a person is strict: no x100 percent leniency unless
the gold has `%`, `\\pm 2` never equals `2`, written numbers are exact (`3.1416` is not `\\pi`,
`2.9999999999999999` is not `3`), and exact values are compared exactly (1/2004! != 1/2006!).
How lenient numbers may be is a `Rules` value, so that `lenient` grading reuses every rule here.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction
import functools
import re

from rstar_jax.grading import matrices
from rstar_jax.grading import naming
from rstar_jax.grading import plusminus
from rstar_jax.grading import symbolic
from rstar_jax.grading.canonical import normalize
from rstar_jax.grading.intervals import inequality_to_interval
from rstar_jax.grading.numbers import parse_number
from rstar_jax.grading.structure import balanced
from rstar_jax.grading.structure import brackets
from rstar_jax.grading.structure import split_top_level
from rstar_jax.grading.symbolic import symbolic_equivalent

__all__ = ["STRICT", "Rules", "equal", "is_equivalent", "normalize", "parse_number"]

MAX_ANSWER_CHARS = 1000  # longer answers are compared as strings only (hostile or degenerate)
TIME_BOUND_S = 4.0  # all symbolic work of one comparison together
_CHOICE = re.compile(r"^\(?([A-E])\)?$")
_CHOICE_WITH_VALUE = re.compile(r"^\(([A-E])\)\s*\S")  # `(C) 12`: the letter is the answer
_RELATION = re.compile(r"<|>|\\[lg]eq?(?:slant)?\b|\\neq?\b|\\[lg]t\b|\\setminus")


@dataclasses.dataclass(frozen=True)
class Rules:
  """How close two numbers must be.

  rel_tol: None compares written numbers exactly; a float accepts that relative difference
    (also between a decimal and an irrational value).
  any_percent: a number also equals its gold times 100 or divided by 100, `%` or not.
  """

  rel_tol: float | None = None
  any_percent: bool = False


STRICT = Rules()


def _numbers_equal(p: Fraction, g: Fraction, rules: Rules) -> bool:
  if rules.rel_tol is None:
    return p == g
  return abs(p - g) <= rules.rel_tol * max(abs(p), abs(g))


def _same_multiset(preds: list[str], golds: list[str], rules: Rules) -> bool:
  if len(preds) != len(golds):
    return False
  remaining = list(golds)
  for p in preds:
    match = next((i for i, g in enumerate(remaining) if _equal(p, g, rules)), None)
    if match is None:
      return False
    remaining.pop(match)
  return True


def _union_parts(s: str) -> list[str]:
  """`A \\cup B` and a list `A, B` of intervals both stand for the union of their parts."""
  return [q for p in s.split(r"\cup") for q in split_top_level(p)]


def _collections_equal(
  pred: str,
  pb: tuple[str, str, str] | None,
  gold: str,
  gb: tuple[str, str, str] | None,
  rules: Rules,
) -> bool:
  """Sets are unordered; tuples and intervals are ordered and keep their brackets. A bare list
  `1, 2` (no brackets) stands for either a set or an ordered pair, never for an interval `[1, 2)`."""
  if pb and gb:
    if (gb[0] == "{") != (pb[0] == "{"):
      return False
    gp, pp = split_top_level(gb[1]), split_top_level(pb[1])
    if gb[0] == "{":
      return _same_multiset(pp, gp, rules)
    return (
      (gb[0], gb[2]) == (pb[0], pb[2])
      and len(gp) == len(pp)
      and all(_equal(p, g, rules) for p, g in zip(pp, gp))
    )
  bracketed, bare = (gb, pred) if gb else (pb, gold)
  items, bare_items = split_top_level(bracketed[1]), split_top_level(bare)
  if bracketed[0] == "{":
    return (
      _same_multiset(bare_items, items, rules) if gb else _same_multiset(items, bare_items, rules)
    )
  return (
    (bracketed[0], bracketed[2]) == ("(", ")")
    and len(items) == len(bare_items)
    and all(_equal(*(b, i) if gb else (i, b), rules) for b, i in zip(bare_items, items))
  )


def _named_equal(pred: str, gold: str, rules: Rules) -> bool | None:
  """Equal values under equal names (`x=5` is not `y=5`; a bare `5` matches either)."""
  pu, gu = naming.unname(pred), naming.unname(gold)
  if pu and gu:
    if pu[0] and gu[0] and pu[0] != gu[0]:
      return False
    return _equal(pu[1], gu[1], rules)
  if pu and not naming.is_equation(gold):
    return _equal(pu[1], gold, rules)
  if gu and not naming.is_equation(pred):
    return _equal(pred, gu[1], rules)
  return None


def _matrices_equal(pred: str, gold: str, rules: Rules) -> bool:
  pr, gr = matrices.rows(pred), matrices.rows(gold)
  if pr and gr:
    return [len(r) for r in pr] == [len(r) for r in gr] and all(
      _equal(a, b, rules) for rp, rg in zip(pr, gr) for a, b in zip(rp, rg)
    )
  pv, gv = matrices.vector(pred), matrices.vector(gold)
  if pv and gv and (pr or gr):
    return len(pv) == len(gv) and all(_equal(a, b, rules) for a, b in zip(pv, gv))
  if (pr or gr) and (brackets(pred) or brackets(gold)):
    return False  # a matrix is no tuple of the wrong shape
  p, g = matrices.with_identity(pred, gold), matrices.with_identity(gold, pred)
  if p is None or g is None:
    return False
  return symbolic_equivalent(p, g, rules.rel_tol)


def _equal(pred: str, gold: str, rules: Rules) -> bool:
  """Equivalence of two normalised answers."""
  if pred.replace(" ", "") == gold.replace(" ", ""):  # spacing means nothing in LaTeX math
    return True
  if not pred or not gold:
    return False
  choice = _CHOICE.match(gold)
  if choice:
    p = _CHOICE.match(pred) or _CHOICE_WITH_VALUE.match(pred)
    return bool(p) and p.group(1) == choice.group(1)
  if plusminus.has_sign(pred) or plusminus.has_sign(gold):  # \pm is the list of its values
    ps, gs = plusminus.expand(pred), plusminus.expand(gold)
    return ps is not None and gs is not None and _same_multiset(ps, gs, rules)
  named = _named_equal(pred, gold, rules)
  if named is not None:
    return named
  pred, gold = inequality_to_interval(pred) or pred, inequality_to_interval(gold) or gold
  if pred.replace(" ", "") == gold.replace(" ", ""):
    return True
  relation = bool(_RELATION.search(pred) or _RELATION.search(gold))
  if r"\cup" in gold or r"\cup" in pred:
    if _same_multiset(_union_parts(pred), _union_parts(gold), rules):
      return True
    return relation and symbolic_equivalent(pred, gold, rules.rel_tol)
  if relation:
    return symbolic_equivalent(pred, gold, rules.rel_tol)  # solved as sets
  if matrices.has_matrix(pred) or matrices.has_matrix(gold):
    return _matrices_equal(pred, gold, rules)
  gb, pb = brackets(gold), brackets(pred)
  if gb and gb[0] + gb[2] == "()" and len(split_top_level(gb[1])) == 1:  # `(55)` is 55
    return _equal(pred, gb[1], rules)
  if pb and pb[0] + pb[2] == "()" and len(split_top_level(pb[1])) == 1:
    return _equal(pb[1], gold, rules)
  if (gb and len(split_top_level(gb[1])) > 1) or (pb and len(split_top_level(pb[1])) > 1):
    return _collections_equal(pred, pb, gold, gb, rules)
  gold_items, pred_items = split_top_level(gold), split_top_level(pred)
  if len(gold_items) > 1 or len(pred_items) > 1:
    return _same_multiset(pred_items, gold_items, rules)
  pn, gn = parse_number(pred), parse_number(gold)
  if pn is not None and gn is not None:
    return _numbers_equal(pn, gn, rules)
  if _is_text(gold) or _is_text(pred):
    return _words(pred) == _words(gold)
  return symbolic_equivalent(pred, gold, rules.rel_tol)


def _is_text(s: str) -> bool:
  """Words (`east`, `Evelyn`), not products of letters (`p - q`)."""
  return bool(re.fullmatch(r"[A-Za-z][A-Za-z\s'\-]*[A-Za-z]", s)) and bool(
    re.search("[A-Za-z]{3}", s)
  )


def _words(s: str) -> str:
  return " ".join(s.lower().replace("-", " ").split())


def _percent_equal(p: str, g: str, g_percent: bool, p_percent: bool, rules: Rules) -> bool:
  """A percentage gold also matches its fraction (`50\\%` and `0.5`); leniently, any number
  matches its gold scaled by 100 either way."""
  if not (rules.any_percent or (g_percent and not p_percent)):
    return False
  pn, gn = parse_number(p), parse_number(g)
  if pn is None or gn is None:
    return False
  scales = (Fraction(1, 100), Fraction(100)) if rules.any_percent else (Fraction(1, 100),)
  return any(_numbers_equal(pn, gn * s, rules) for s in scales)


def equal(pred: str | None, gold: str | None, rules: Rules = STRICT) -> bool:
  """Whether a predicted final answer equals the gold answer under `rules`, within the time
  bound (all symbolic work together)."""
  if pred is None or gold is None:
    return False
  pred, gold = str(pred), str(gold)
  if len(pred) > MAX_ANSWER_CHARS or len(gold) > MAX_ANSWER_CHARS:
    return pred.strip() == gold.strip()
  with symbolic.deadline(TIME_BOUND_S):
    (p, p_percent), (g, g_percent) = normalize(pred), normalize(gold)
    if not (balanced(p) and balanced(g)):
      return p == g  # broken LaTeX: nothing to parse, only the very same text matches
    return _percent_equal(p, g, g_percent, p_percent, rules) or _equal(p, g, rules)


@functools.lru_cache(maxsize=65536)
def is_equivalent(pred: str | None, gold: str | None) -> bool:
  """Whether a predicted final answer equals the gold answer (both as written inside \\boxed{});
  the strict grader, used for search rewards."""
  return equal(pred, gold, STRICT)
