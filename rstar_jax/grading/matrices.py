"""Matrices and vectors across notations: `pmatrix`/`bmatrix`/`array`, tuples, `\\mathbf{I}`.

A matrix with one row or one column is a vector and equals the tuple of its entries. The identity
`\\mathbf{I}` takes the size of the matrix it is compared with, so `2\\mathbf{I}` can be evaluated.
"""

from __future__ import annotations

import re

from rstar_jax.grading import structure
from rstar_jax.grading.canonical import IDENTITY
from rstar_jax.grading.canonical import ROW

_ENV = r"(?:[pbB]?matrix|array)"
_MATRIX = re.compile(
  r"\\begin\{" + _ENV + r"\}(?:\{[^{}]*\})?((?:(?!\\begin\{).)*?)\\end\{" + _ENV + r"\}", re.S
)


def rows(s: str) -> list[list[str]] | None:
  """Entries, row by row, when `s` is exactly one matrix; None otherwise."""
  m = _MATRIX.fullmatch(s.strip())
  if not m:
    return None
  table = [structure.split_top_level(r, "&") for r in m.group(1).split(ROW) if r.strip()]
  return table or None


def vector(s: str) -> list[str] | None:
  """Entries of a one-row or one-column matrix, or of a tuple `(a, b, ...)`."""
  table = rows(s)
  if table is not None:
    if len(table) == 1:
      return table[0]
    return [r[0] for r in table] if all(len(r) == 1 for r in table) else None
  group = structure.brackets(s)
  if group and group[0] + group[2] == "()":
    items = structure.split_top_level(group[1])
    return items if len(items) > 1 else None
  return None


def has_matrix(s: str) -> bool:
  return bool(_MATRIX.search(s)) or IDENTITY in s


def with_identity(s: str, other: str) -> str | None:
  """`s` with `\\mathbf{I}` written out at the size of the square matrices in `s` or `other`."""
  if IDENTITY not in s:
    return s
  for m in _MATRIX.finditer(s + " " + other):
    table = rows(m.group(0))
    if table and all(len(r) == len(table) for r in table):
      n = len(table)
      identity = ROW.join("&".join("1" if i == j else "0" for j in range(n)) for i in range(n))
      return s.replace(IDENTITY, r"\begin{pmatrix}" + identity + r"\end{pmatrix}")
  return None
