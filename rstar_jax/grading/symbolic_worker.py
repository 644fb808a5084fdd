"""Child process that compares two answers symbolically (LaTeX -> sympy), one JSON line per request.

It runs apart from the caller so that any comparison can be bounded in time by killing it — which
works from any thread and inside worker processes, unlike math-verify's `signal.alarm` — and so a
pathological expression (`9^{9^{9^9}}`) can only exhaust this process's own memory limit.
"""
from __future__ import annotations

import json
import re
import resource
import sys
from fractions import Fraction

from latex2sympy2_extended.math_normalization import NormalizationConfig, normalize_latex

_MEMORY_LIMIT_BYTES = 2 * 2**30
_REL_TOL = 1e-6
# latex2sympy's own repairs (`\\sqrt3`, `\\frac12`, `a/b`); units stay (our caller strips them).
_LATEX_FIXES = NormalizationConfig(basic_latex=True, units=False, malformed_operators=True, nits=False,
                                   boxed="none")


# Plain (non-LaTeX) math such as `sqrt(3)/3` or `2*x**2`: sympy's parse_expr evaluates Python, so
# only digits, operators, single-letter symbols and a few function names may reach it.
_PLAIN_MATH = re.compile(r"^(?:[0-9.+\-*/^()\s]|\b(?:sqrt|pi|exp|log|ln|sin|cos|tan)\b|\b[a-zA-Z]\b)+$")


def _parse_plain(text: str):
  from sympy.parsing.sympy_parser import (convert_xor, implicit_multiplication_application, parse_expr,
                                          standard_transformations)
  if "__" in text or not _PLAIN_MATH.match(text):
    return None
  import sympy
  text = re.sub(r"\bln\b", "log", text)
  text = re.sub(r"(?<![\d.])0+(?=\d)", "", text)  # Python reads `055` as 0 times 55
  # Single letters are symbols (not sympy's `S`, `N`, `O`, `I`, ...); `e` is Euler's number.
  names = {c: sympy.Symbol(c) for c in set(re.findall(r"\b[a-zA-Z]\b", text))}
  names["e"] = sympy.E
  return parse_expr(text, local_dict=names, evaluate=True,
                    transformations=standard_transformations + (implicit_multiplication_application, convert_xor))


def to_sympy(text: str):
  """LaTeX (or plain math like `sqrt(3)/3`) -> sympy expression; None when it does not parse."""
  from latex2sympy2_extended import latex2sympy
  if "\\" not in text and "{" not in text:
    try:
      expr = _parse_plain(text)
      if expr is not None:
        return expr
    except Exception:  # noqa: BLE001 - not plain math; try LaTeX
      pass
  try:
    return latex2sympy(normalize_latex(text, _LATEX_FIXES))
  except Exception:  # noqa: BLE001 - any parser failure means "not parseable"
    return None


def equal_numbers(a, b) -> bool:
  """Exact for rationals; relative tolerance once a float (or irrational value) is involved."""
  if a.is_Rational and b.is_Rational:
    return Fraction(int(a.p), int(a.q)) == Fraction(int(b.p), int(b.q))
  fa, fb = complex(a.evalf(30)), complex(b.evalf(30))
  return abs(fa - fb) <= _REL_TOL * max(abs(fb), abs(fa)) if fb != 0 or fa != 0 else True


def _zero(expr) -> bool:
  """Whether expr simplifies to 0, also once its symbols are taken as positive reals (as lengths,
  counts and most unknowns of competition answers are: `\\sqrt{1/n}` is `1/\\sqrt{n}`)."""
  import sympy
  if sympy.simplify(expr) == 0:
    return True
  if expr.has(sympy.Abs, sympy.sign, sympy.Piecewise):
    return False  # positivity would erase exactly what these say (|x| is not x)
  positive = {x: sympy.Symbol(x.name, positive=True) for x in expr.free_symbols if isinstance(x, sympy.Symbol)}
  return bool(positive) and sympy.simplify(expr.xreplace(positive)) == 0


def _same_equation(a, b) -> bool:
  """Equations are equal when one side-difference is a nonzero constant multiple of the other."""
  import sympy
  da, db = a.lhs - a.rhs, b.lhs - b.rhs
  if _zero(da - db) or _zero(da + db):
    return True
  if db == 0:
    return False
  ratio = sympy.simplify(da / db)
  return ratio.is_number and ratio != 0 and ratio.is_finite is True


def equivalent(pred: str, gold: str) -> bool:
  import sympy
  a, b = to_sympy(pred), to_sympy(gold)
  if a is None or b is None:
    return False
  if isinstance(a, sympy.Eq) or isinstance(b, sympy.Eq):
    return isinstance(a, sympy.Eq) and isinstance(b, sympy.Eq) and _same_equation(a, b)
  if not (isinstance(a, sympy.Expr) and isinstance(b, sympy.Expr)):
    return a == b
  if a.is_number and b.is_number:
    if a.has(sympy.Float) or b.has(sympy.Float):
      return equal_numbers(sympy.N(a, 30), sympy.N(b, 30))
    # Exact values stay exact: 1/2004! and 1/2006! differ although both are ~0 as floats.
    return sympy.simplify((a - b).doit()) == 0
  return _zero(a - b)


def main() -> None:
  resource.setrlimit(resource.RLIMIT_AS, (_MEMORY_LIMIT_BYTES, _MEMORY_LIMIT_BYTES))
  import sympy  # noqa: F401 - warm the imports before the first request
  import latex2sympy2_extended  # noqa: F401
  sys.stdout.write('"ready"\n')
  sys.stdout.flush()
  for line in sys.stdin:
    pred, gold = json.loads(line)
    try:
      result = bool(equivalent(pred, gold))
    except (Exception, RecursionError, MemoryError):  # noqa: BLE001 - unparseable or too big: not equal
      result = False
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
  main()
