"""Answers written as an equation that names the quantity: `h(2)=7`, `(m,n)=(4,1)`, `BC=6, DE=9`.

The name is what the question asked for, the value is the answer. Only a name is dropped (a
letter or short word, with a subscript, an inverse or an argument list of plain symbols, an angle,
a tuple of such names); `x^2+y^2=25` is an equation, not a named 25. A worked computation
`i^{117} = (i^4)^{29} i = i` (no unknown on the left) is its last value.
"""

from __future__ import annotations

import re

from rstar_jax.grading import structure

_NAME = (
  r"(?:m?\\angle\s*)?[A-Za-z]{1,4}'*(?:_\{?\w+\}?)?(?:\^\{?-1\}?)?"
  r"(?:\s*\([A-Za-z0-9_{}\s,]*\))?"
)
_NAMED = re.compile(rf"^({_NAME})\s*(?:=|\\in(?![a-zA-Z]))\s*(.+)$", re.S)
_TUPLE_NAME = re.compile(rf"^\(\s*({_NAME}(?:\s*,\s*{_NAME})+)\s*\)\s*=\s*(.+)$", re.S)
_COMMAND = re.compile(r"\\[a-zA-Z]+")


def _names(text: str) -> tuple[str, ...]:
  return tuple(n.replace(" ", "") for n in structure.split_top_level(text))


def _is_closed_form(lhs: str) -> bool:
  """No unknown on the left: digits and operators, `i` and `e` at most."""
  letters = set(re.findall(r"[A-Za-z]", _COMMAND.sub("", lhs)))
  return bool(re.search(r"\d", lhs)) and letters <= {"i", "e"}


def _one(item: str) -> tuple[tuple[str, ...], str] | None:
  if item.count("=") > 1:
    parts = [p.strip() for p in item.split("=")]
    return ((), parts[-1]) if all(parts) and _is_closed_form(parts[0]) else None
  m = _TUPLE_NAME.match(item)
  if m:
    return _names(m.group(1)), m.group(2).strip()
  m = _NAMED.match(item)
  if m and "=" not in m.group(2):
    return (m.group(1).replace(" ", ""),), m.group(2).strip()
  if m is None and "=" in item:
    lhs, value = item.split("=")
    if _is_closed_form(lhs):
      return (), value.strip()
  return None


def unname(s: str) -> tuple[tuple[str, ...], str] | None:
  """(names, value) of a named answer or list of named answers; None when nothing is named."""
  items = structure.split_top_level(s)
  parts = [_one(item) for item in items]
  if all(p is not None for p in parts):
    return sum((p[0] for p in parts), ()), ", ".join(p[1] for p in parts)
  first = _one(items[0])
  if first is not None and len(first[0]) == 1 and s.count("=") == 1:  # `n=2, 3, 4`
    return first[0], ", ".join([first[1], *items[1:]])
  return None


def is_equation(s: str) -> bool:
  return "=" in s
