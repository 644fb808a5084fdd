"""Child process that compares two answers symbolically (LaTeX -> sympy), one JSON line per request.

It runs apart from the caller so that any comparison can be bounded in time by killing it — which
works from any thread and inside worker processes, unlike math-verify's `signal.alarm` — and so a
pathological expression (`9^{9^{9^9}}`) can only exhaust this process's own memory limit.
"""
from __future__ import annotations

import json
import resource
import sys
from fractions import Fraction

_MEMORY_LIMIT_BYTES = 2 * 2**30
_REL_TOL = 1e-6


def to_sympy(text: str):
  """LaTeX (or plain Python-like math) -> sympy expression; None when it does not parse."""
  import sympy
  from latex2sympy2_extended import latex2sympy
  try:
    return latex2sympy(text)
  except Exception:  # noqa: BLE001 - any parser failure means "not parseable as LaTeX"
    pass
  try:
    from sympy.parsing.sympy_parser import (convert_xor, implicit_multiplication_application, parse_expr,
                                            standard_transformations)
    return parse_expr(text, transformations=standard_transformations + (implicit_multiplication_application,
                                                                         convert_xor), evaluate=True)
  except Exception:  # noqa: BLE001
    return None
  finally:
    del sympy


def equal_numbers(a, b) -> bool:
  """Exact for rationals; relative tolerance once a float (or irrational value) is involved."""
  if a.is_Rational and b.is_Rational:
    return Fraction(int(a.p), int(a.q)) == Fraction(int(b.p), int(b.q))
  fa, fb = complex(a.evalf(30)), complex(b.evalf(30))
  return abs(fa - fb) <= _REL_TOL * max(abs(fb), abs(fa)) if fb != 0 or fa != 0 else True


def equivalent(pred: str, gold: str) -> bool:
  import sympy
  a, b = to_sympy(pred), to_sympy(gold)
  if a is None or b is None:
    return False
  if isinstance(a, sympy.Eq) or isinstance(b, sympy.Eq):
    if not (isinstance(a, sympy.Eq) and isinstance(b, sympy.Eq)):
      return False
    da, db = a.lhs - a.rhs, b.lhs - b.rhs
    return sympy.simplify(da - db) == 0 or sympy.simplify(da + db) == 0
  if not (isinstance(a, sympy.Expr) and isinstance(b, sympy.Expr)):
    return a == b
  if a.is_number and b.is_number:
    if a.has(sympy.Float) or b.has(sympy.Float):
      return equal_numbers(sympy.N(a, 30), sympy.N(b, 30))
    # Exact values stay exact: 1/2004! and 1/2006! differ although both are ~0 as floats.
    return sympy.simplify((a - b).doit()) == 0
  return sympy.simplify(a - b) == 0


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
