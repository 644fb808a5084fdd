"""Answer equivalence: cheap structural and numeric rules first, sympy (bounded) only when needed.

Deliberately stricter than math-verify where it is lenient: no x100 percent leniency unless the
gold has `%`, `\\pm 2` never equals `2`, and exact values are compared exactly (1/2004! != 1/2006!).
"""

from __future__ import annotations

from fractions import Fraction
import functools
import re

from rstar_jax.grading.intervals import inequality_to_interval
from rstar_jax.grading.symbolic import symbolic_equivalent

_ROW = "\x1e"  # matrix row separator after normalisation
MAX_ANSWER_CHARS = 1000  # longer answers are compared as strings only (hostile or degenerate)
REL_TOL = 1e-6

_REMOVE = [
  r"\left",
  r"\right",
  r"\displaystyle",
  r"\!",
  r"\,",
  r"\;",
  r"\:",
  r"\ ",
  r"\$",
  "$",
  r"\(",
  r"\)",
  r"\[",
  r"\]",
  "{,}",
  r"\limits",
]
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°|\\degree")
_WRAPPERS = re.compile(
  r"\\(?:text|textbf|mathrm|mathbf|mbox|operatorname|textnormal)\s*\{([^{}]*)\}"
)
# `5\text{ cm}^2`, `12 meters`, `10 km/h`; a bare word must be spaced off (`2xy` is a product) unless it
# is a common unit abbreviation (`5cm`).
_TRAILING_UNIT = re.compile(
  r"^(.*?[\d}])\s*(?:\\(?:text|mathrm|mbox)\s*\{\s*~?[a-zA-Z][a-zA-Z\s.^0-9/]*\}"
  r"(?:\^\{?\d\}?)?|(?:(?<=\s)[a-zA-Z]{2,}|cm|mm|km|kg|mg|ml|mL|ft|mph|sec|min|hrs?)(?:/[a-zA-Z]+)?(?:\s+[a-zA-Z]+)*(?:\^\{?\d\}?)?)$"
)
_THOUSANDS = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_NUMBER = re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$")
_FRAC = re.compile(r"^([-+]?)\\frac\{([-+]?\d+)\}\{([-+]?\d+)\}$")
_SLASH = re.compile(r"^([-+]?\d+)\s*/\s*([-+]?\d+)$")
_CHOICE = re.compile(r"^\(?([A-E])\)?$")
_CHOICE_WITH_VALUE = re.compile(r"^\(([A-E])\)\s*\S")  # `(C) 12`: the letter is the answer
_VAR_PREFIX = re.compile(r"^([a-zA-Z](?:_\{?\w+\}?)?)\s*(?:=|\\approx|\\in)\s*(?!.*=)")
_CONJUNCTION = re.compile(r"\s*,?\s+(?:and|or)\s+|\s*,?\s*\\(?:quad|qquad)\s*")
_MATRIX = re.compile(
  r"\\begin\{(?:[pbvB]?matrix|array)\}(?:\{[^{}]*\})?(.*)\\end\{(?:[pbvB]?matrix|array)\}", re.S
)


def normalize(answer: str) -> tuple[str, bool]:
  """Canonical text of an answer and whether it was a percentage."""
  s = answer.strip().replace("\\\\", _ROW)  # keep matrix row breaks apart from spacing commands
  for token in _REMOVE:
    s = s.replace(token, "")
  s = s.replace(r"\dfrac", r"\frac").replace(r"\tfrac", r"\frac").replace("\n", " ")
  s = re.sub(r"\\frac\s*(\d)\s*(\d)", r"\\frac{\1}{\2}", s)
  s = re.sub(r"\\frac\s*\{([^{}]*)\}\s*(\d)", r"\\frac{\1}{\2}", s)
  s = _DEGREES.sub("", s)
  s = s.strip().rstrip(".").strip()
  percent = s.endswith("%")
  s = s.replace(r"\%", "").replace("%", "").strip()
  unit = _TRAILING_UNIT.match(s)
  if unit:
    s = unit.group(1)
  s = _WRAPPERS.sub(r"\1", s).strip()
  s = _CONJUNCTION.sub(", ", s).strip(", ")  # "1 or 2", "1, and 2": a list of answers
  if s.startswith("+"):
    s = s[1:].lstrip()
  if _THOUSANDS.match(s):
    s = s.replace(",", "")
  return s, percent


def parse_number(s: str) -> Fraction | None:
  """Integers, decimals, a/b and \\frac{a}{b} as exact rationals; None otherwise."""
  s = s.replace(" ", "")
  if _NUMBER.match(s):
    return Fraction(s)
  m = _FRAC.match(s) or _SLASH.match(s)
  if m:
    groups = m.groups()
    sign = -1 if groups[0] == "-" else 1
    num, den = (
      (int(groups[1]), int(groups[2])) if len(groups) == 3 else (int(groups[0]), int(groups[1]))
    )
    return None if den == 0 else sign * Fraction(num, den)
  return None


def _split_top_level(s: str, sep: str = ",") -> list[str]:
  parts, depth, start = [], 0, 0
  for i, ch in enumerate(s):
    if ch in "([{":
      depth += 1
    elif ch in ")]}":
      depth -= 1
    elif ch == sep and depth == 0:
      parts.append(s[start:i])
      start = i + 1
  parts.append(s[start:])
  return [p.strip() for p in parts]


def _brackets(s: str) -> tuple[str, str, str] | None:
  """(open, inner, close) when s is one bracketed group: (..), [..], \\{..\\}."""
  if s.startswith(r"\{") and s.endswith(r"\}"):
    return "{", s[2:-2], "}"
  if len(s) >= 2 and s[0] in "([" and s[-1] in ")]":
    depth = 0
    for i, ch in enumerate(s):
      depth += ch in "([{"
      depth -= ch in ")]}"
      if depth == 0 and i < len(s) - 1:
        return None
    return s[0], s[1:-1], s[-1]
  return None


def _same_multiset(preds: list[str], golds: list[str]) -> bool:
  if len(preds) != len(golds):
    return False
  remaining = list(golds)
  for p in preds:
    match = next((i for i, g in enumerate(remaining) if _equal(p, g)), None)
    if match is None:
      return False
    remaining.pop(match)
  return True


def _numbers_equal(p: Fraction, g: Fraction, exact: bool) -> bool:
  if exact:
    return p == g
  return abs(p - g) <= REL_TOL * abs(g) if g else p == 0


def _union_parts(s: str) -> list[str]:
  """`A \\cup B` and a list `A, B` of intervals both stand for the union of their parts."""
  return [q for p in s.split(r"\cup") for q in _split_top_level(p)]


def _collections_equal(
  pred: str, pb: tuple[str, str, str] | None, gold: str, gb: tuple[str, str, str] | None
) -> bool:
  """Sets are unordered; tuples and intervals are ordered and keep their brackets. A bare list
  `1, 2` (no brackets) stands for either a set or an ordered pair, never for an interval `[1, 2)`."""
  if pb and gb:
    if (gb[0] == "{") != (pb[0] == "{"):
      return False
    gp, pp = _split_top_level(gb[1]), _split_top_level(pb[1])
    if gb[0] == "{":
      return _same_multiset(pp, gp)
    return (gb[0], gb[2]) == (pb[0], pb[2]) and len(gp) == len(pp) and all(map(_equal, pp, gp))
  bracketed, bare = (gb, pred) if gb else (pb, gold)
  items, bare_items = _split_top_level(bracketed[1]), _split_top_level(bare)
  if bracketed[0] == "{":
    return _same_multiset(bare_items, items)
  return (
    (bracketed[0], bracketed[2]) == ("(", ")")
    and len(items) == len(bare_items)
    and all(map(_equal, bare_items, items) if gb else map(_equal, items, bare_items))
  )


def _equal(pred: str, gold: str) -> bool:
  """Equivalence of two normalised answers."""
  if pred.replace(" ", "") == gold.replace(" ", ""):  # spacing means nothing in LaTeX math
    return True
  if not pred or not gold:
    return False
  # \pm is a pair of values: compare both branches, never one value against the pair.
  if (r"\pm" in pred) != (r"\pm" in gold) or (r"\mp" in pred) != (r"\mp" in gold):
    return False
  if r"\pm" in gold:
    return all(_equal(pred.replace(r"\pm", s), gold.replace(r"\pm", s)) for s in ("+", "-"))
  choice = _CHOICE.match(gold)
  if choice:
    p = _CHOICE.match(pred) or _CHOICE_WITH_VALUE.match(pred)
    return bool(p) and p.group(1) == choice.group(1)
  pv, gv = _VAR_PREFIX.match(pred), _VAR_PREFIX.match(gold)
  if pv and gv and pv.group(1) != gv.group(1):
    return False  # `x=5` is not `y=5`; a bare `5` matches either
  pred, gold = _VAR_PREFIX.sub("", pred), _VAR_PREFIX.sub("", gold)
  if pred == gold:
    return True
  pred, gold = inequality_to_interval(pred) or pred, inequality_to_interval(gold) or gold
  gm, pm = _MATRIX.search(gold), _MATRIX.search(pred)
  if gm or pm:
    if not (gm and pm):
      return False
    rows_g = [_split_top_level(r, "&") for r in gm.group(1).split(_ROW) if r.strip()]
    rows_p = [_split_top_level(r, "&") for r in pm.group(1).split(_ROW) if r.strip()]
    return [len(r) for r in rows_g] == [len(r) for r in rows_p] and all(
      _equal(a, b) for rp, rg in zip(rows_p, rows_g) for a, b in zip(rp, rg)
    )
  if r"\cup" in gold or r"\cup" in pred:
    return _same_multiset(_union_parts(pred), _union_parts(gold))
  gb, pb = _brackets(gold), _brackets(pred)
  if gb and gb[0] + gb[2] == "()" and len(_split_top_level(gb[1])) == 1:  # `(55)` is 55
    return _equal(pred, gb[1])
  if pb and pb[0] + pb[2] == "()" and len(_split_top_level(pb[1])) == 1:
    return _equal(pb[1], gold)
  if (gb and len(_split_top_level(gb[1])) > 1) or (pb and len(_split_top_level(pb[1])) > 1):
    return _collections_equal(pred, pb, gold, gb)
  gold_items, pred_items = _split_top_level(gold), _split_top_level(pred)
  if len(gold_items) > 1 or len(pred_items) > 1:
    return _same_multiset(pred_items, gold_items)
  pn, gn = parse_number(pred), parse_number(gold)
  if pn is not None and gn is not None:
    exact = (
      "." not in pred and "." not in gold and "e" not in pred.lower() and "e" not in gold.lower()
    )
    return _numbers_equal(pn, gn, exact)
  if _is_text(gold) or _is_text(pred):
    return _words(pred) == _words(gold)
  return symbolic_equivalent(pred, gold)


def _is_text(s: str) -> bool:
  return (
    bool(re.fullmatch(r"[A-Za-z][A-Za-z\s'\-]*[A-Za-z]", s)) and len(s.split()) >= 1 and len(s) > 2
  )


def _words(s: str) -> str:
  return " ".join(s.lower().replace("-", " ").split())


@functools.lru_cache(maxsize=65536)
def is_equivalent(pred: str | None, gold: str | None) -> bool:
  """Whether a predicted final answer equals the gold answer (both as written inside \\boxed{})."""
  if pred is None or gold is None:
    return False
  pred, gold = str(pred), str(gold)
  if len(pred) > MAX_ANSWER_CHARS or len(gold) > MAX_ANSWER_CHARS:
    return pred.strip() == gold.strip()
  (p, p_percent), (g, g_percent) = normalize(pred), normalize(gold)
  if g_percent and not p_percent:
    gn, pn = parse_number(g), parse_number(p)
    if gn is not None and pn is not None and _numbers_equal(pn, gn / 100, exact=False):
      return True
  return _equal(p, g)
