"""One-variable inequalities as intervals, so `x \\geq 2`, `2 \\le x` and `[2, \\infty)` compare equal.

The quantity bounded may be a variable (`t`, `x_1`) or a function value (`g(x)`); anything else
(`-y < 3`, `x^2 < 4`) is left to the symbolic stage, which solves it.
"""

from __future__ import annotations

import re

_LESS = {
  "<": False,
  r"\lt": False,
  r"\le": True,
  r"\leq": True,
  r"\leqslant": True,
  "≤": True,
  "<=": True,
}
_GREATER = {
  ">": False,
  r"\gt": False,
  r"\ge": True,
  r"\geq": True,
  r"\geqslant": True,
  "≥": True,
  ">=": True,
}
_REL = "|".join(re.escape(r) for r in sorted({**_LESS, **_GREATER}, key=len, reverse=True))
_END = r"(?!(?<=[a-zA-Z])[a-zA-Z])"  # `\\le` is not the start of `\\left`
_VAR = r"[a-zA-Z](?:_\{?\w+\}?)?(?:\([a-zA-Z]\))?"
_VALUE = r"[^<>=≤≥]+?"
_SINGLE_LEFT = re.compile(rf"^({_VAR})\s*({_REL}){_END}\s*({_VALUE})$")
_SINGLE_RIGHT = re.compile(rf"^({_VALUE})\s*({_REL}){_END}\s*({_VAR})$")
_DOUBLE = re.compile(rf"^({_VALUE})\s*({_REL}){_END}\s*({_VAR})\s*({_REL}){_END}\s*({_VALUE})$")
_SET_BUILDER = re.compile(rf"^\\\{{\s*{_VAR}\s*(?:\||\\mid|:)\s*(.*)\\\}}$")


def _interval(low: str, low_closed: bool, high: str, high_closed: bool) -> str:
  return f"{'[' if low_closed else '('}{low.strip()}, {high.strip()}{']' if high_closed else ')'}"


def _bound(var_on_left: bool, rel: str, value: str) -> str:
  """`x REL value` (or `value REL x`) as an interval."""
  less = rel in _LESS
  closed = _LESS[rel] if less else _GREATER[rel]
  upper = less == var_on_left  # x < v and v > x bound x from above
  return (
    _interval(value, closed, r"\infty", False)
    if not upper
    else _interval(r"-\infty", False, value, closed)
  )


def inequality_to_interval(s: str) -> str | None:
  """Interval text for `x > 2`, `2 \\le x`, `-2 \\le x < 1`, `\\{x | x \\geq 0\\}`; None otherwise."""
  builder = _SET_BUILDER.match(s)
  if builder:
    s = builder.group(1).strip()
  m = _DOUBLE.match(s)
  if m:
    low, rel1, _, rel2, high = m.groups()
    if rel1 in _LESS and rel2 in _LESS:
      return _interval(low, _LESS[rel1], high, _LESS[rel2])
    if rel1 in _GREATER and rel2 in _GREATER:
      return _interval(high, _GREATER[rel2], low, _GREATER[rel1])
    return None
  m = _SINGLE_LEFT.match(s)
  if m:
    return _bound(True, m.group(2), m.group(3))
  m = _SINGLE_RIGHT.match(s)
  if m:
    return _bound(False, m.group(2), m.group(1))
  return None
