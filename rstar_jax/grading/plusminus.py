"""`\\pm` as the list of values it stands for: `2 \\pm \\sqrt{7}` is `2+\\sqrt{7}, 2-\\sqrt{7}`.

Each item of a list expands on its own; inside one item every `\\pm` takes its sign independently
(`(\\pm 1, \\pm 4)` is four points) and every `\\mp` takes the sign opposite to the item's first
`\\pm` (or, without one, they all share one sign).
"""

from __future__ import annotations

import itertools
import re

from rstar_jax.grading import structure

MAX_VALUES = 64  # more alternatives than a person would write out: not compared
_SIGN = re.compile(r"\\pm|\\mp")


def has_sign(s: str) -> bool:
  return bool(_SIGN.search(s))


def _expand_item(item: str) -> list[str] | None:
  signs = _SIGN.findall(item)
  pieces = _SIGN.split(item)
  free = max(signs.count(r"\pm"), 1)
  if 2**free > MAX_VALUES:
    return None
  values = []
  for choice in itertools.product("+-", repeat=free):
    free_signs, chosen = iter(choice), []
    for sign in signs:
      chosen.append(next(free_signs) if sign == r"\pm" else "+-"[choice[0] == "+"])
    text = pieces[0] + "".join(s + p for s, p in zip(chosen, pieces[1:]))
    values.append(re.sub(r"([(,{=]\s*|^\s*)\+", r"\1", text).strip())
  return values


def expand(s: str) -> list[str] | None:
  """Every value a list with `\\pm` stands for; None when there are too many to compare."""
  braces = structure.brackets(s)
  inner = braces[1] if braces and braces[0] == "{" else s
  values: list[str] = []
  for item in structure.split_top_level(inner):
    expanded = _expand_item(item) if has_sign(item) else [item]
    if expanded is None or len(values) + len(expanded) > MAX_VALUES:
      return None
    values.extend(expanded)
  return values
