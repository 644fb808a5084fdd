"""Child process that compares two answers symbolically (LaTeX -> sympy), one JSON line per request.

It runs apart from the caller so that every comparison is bounded in time whatever thread or worker
process the caller is (math-verify's `signal.alarm` needs the caller's main thread): the worker is its
own main thread and interrupts itself with a timer, and the caller kills it if even that fails. A
pathological expression (`9^{9^{9^9}}`) can only exhaust this process's own memory limit.
"""

from __future__ import annotations

import cmath
from fractions import Fraction
import json
import random
import re
import resource
import signal
import sys

from latex2sympy2_extended import latex2sympy
from latex2sympy2_extended.math_normalization import NormalizationConfig
from latex2sympy2_extended.math_normalization import normalize_latex
import sympy
from sympy.parsing.sympy_parser import convert_xor
from sympy.parsing.sympy_parser import implicit_multiplication_application
from sympy.parsing.sympy_parser import parse_expr
from sympy.parsing.sympy_parser import standard_transformations

_MEMORY_LIMIT_BYTES = 2 * 2**30
_REL_TOL = 1e-6
_PROBES = 3  # random points tried by the numeric refutation
_PROBE_TOL = 1e-6
# latex2sympy's own repairs (`\\sqrt3`, `\\frac12`, `a/b`); units stay (our caller strips them).
_LATEX_FIXES = NormalizationConfig(
  basic_latex=True, units=False, malformed_operators=True, nits=False, boxed="none"
)
_SCIENTIFIC = re.compile(r"(?<![\w.])(\d+\.?\d*|\.\d+)[eE]([-+]?\d+)(?![\w.])")  # 4.4e7
# Plain (non-LaTeX) math such as `sqrt(3)/3` or `2*x**2`: sympy's parse_expr evaluates Python, so
# only digits, operators, single-letter symbols and a few function names may reach it.
_PLAIN_MATH = re.compile(
  r"^(?:[0-9.+\-*/^()\s]|\b(?:sqrt|pi|exp|log|ln|sin|cos|tan)\b|\b[a-zA-Z]\b)+$"
)


def _parse_plain(text: str):
  if "__" in text or not _PLAIN_MATH.match(text):
    return None
  text = re.sub(r"\bln\b", "log", text)
  text = re.sub(r"(?<![\d.])0+(?=\d)", "", text)  # Python reads `055` as 0 times 55
  # Single letters are symbols (not sympy's `S`, `N`, `O`, `I`, ...); `e` is Euler's number.
  names = {c: sympy.Symbol(c) for c in set(re.findall(r"\b[a-zA-Z]\b", text))}
  names["e"] = sympy.E
  return parse_expr(
    text,
    local_dict=names,
    evaluate=True,
    transformations=standard_transformations + (implicit_multiplication_application, convert_xor),
  )


def to_sympy(text: str):
  """LaTeX (or plain math like `sqrt(3)/3`) -> sympy expression; None when it does not parse."""
  text = _SCIENTIFIC.sub(r"\1 \\times 10^{\2}", text)
  if "\\" not in text and "{" not in text:
    try:
      expr = _parse_plain(text)
      if expr is not None:
        return expr
    except Exception:
      pass
  try:
    return latex2sympy(normalize_latex(text, _LATEX_FIXES))
  except Exception:
    return None


def equal_numbers(a, b) -> bool:
  """Exact for rationals; relative tolerance once a float (or irrational value) is involved;
  infinities only equal themselves."""
  if a.is_Rational and b.is_Rational:
    return Fraction(int(a.p), int(a.q)) == Fraction(int(b.p), int(b.q))
  fa, fb = complex(a.evalf(30)), complex(b.evalf(30))
  if not (cmath.isfinite(fa) and cmath.isfinite(fb)):
    return fa == fb
  return abs(fa - fb) <= _REL_TOL * max(abs(fb), abs(fa))


def _differ_somewhere(a, b, symbols) -> bool:
  """Cheap refutation before `simplify`: a and b clearly differ at a random positive point.

  Most wrong answers are refuted here in milliseconds; agreement proves nothing, so equality
  is still left to `simplify`.
  """
  rng = random.Random(0)
  for _ in range(_PROBES):
    point = {x: sympy.Rational(rng.randint(3, 29), 10) for x in symbols}
    try:
      va, vb = complex(a.xreplace(point).evalf(30)), complex(b.xreplace(point).evalf(30))
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
      continue  # undefined there, or not numeric (unknown functions)
    if (
      cmath.isfinite(va)
      and cmath.isfinite(vb)
      and abs(va - vb) > _PROBE_TOL * max(1.0, abs(va), abs(vb))
    ):
      return True
  return False


def _same(a, b) -> bool:
  """Whether a - b simplifies to 0, also once the symbols are taken as positive reals (as lengths,
  counts and most unknowns of competition answers are: `\\sqrt{1/n}` is `1/\\sqrt{n}`)."""
  expr = a - b
  symbols = [x for x in expr.free_symbols if isinstance(x, sympy.Symbol)]
  if symbols and _differ_somewhere(a, b, symbols):
    return False
  if sympy.simplify(expr) == 0:
    return True
  if expr.has(sympy.Abs, sympy.sign, sympy.Piecewise):
    return False  # positivity would erase exactly what these say (|x| is not x)
  positive = {x: sympy.Symbol(x.name, positive=True) for x in symbols}
  return bool(positive) and sympy.simplify(expr.xreplace(positive)) == 0


def _same_equation(a, b) -> bool:
  """Equations are equal when one side-difference is a nonzero constant multiple of the other."""
  da, db = a.lhs - a.rhs, b.lhs - b.rhs
  if _same(da, db) or _same(da, -db):
    return True
  if db == 0:
    return False
  ratio = sympy.simplify(da / db)
  return ratio.is_number and ratio != 0 and ratio.is_finite is True


def equivalent(pred: str, gold: str) -> bool:
  a, b = to_sympy(pred), to_sympy(gold)
  if a is None or b is None:
    return False
  if any(isinstance(x, sympy.Basic) and x.has(sympy.zoo, sympy.nan) for x in (a, b)):
    return False  # `12:00` parses as 12/0: undefined values equal nothing
  if a == b:
    return True  # structurally equal; also the only way `oo` equals `oo` (oo - oo is nan)
  if isinstance(a, sympy.Eq) or isinstance(b, sympy.Eq):
    return isinstance(a, sympy.Eq) and isinstance(b, sympy.Eq) and _same_equation(a, b)
  if not (isinstance(a, sympy.Expr) and isinstance(b, sympy.Expr)):
    return False  # Sets, tuples, relations: only structural equality (checked above) counts.
  if a.is_number and b.is_number:
    if a.has(sympy.Float) or b.has(sympy.Float):
      return equal_numbers(sympy.N(a, 30), sympy.N(b, 30))
    # Exact values stay exact: 1/2004! and 1/2006! differ although both are ~0 as floats.
    return sympy.simplify((a - b).doit()) == 0
  return _same(a, b)


class _Deadline(BaseException):
  """Raised by the timer; a BaseException so that no `except Exception` (ours or sympy's) eats it."""


def _on_alarm(signum, frame):
  raise _Deadline


def main() -> None:
  """Serves requests until stdin closes; argv[1] is the per-comparison time budget in seconds.

  The worker bounds itself with an interval timer (it is its own main thread); the caller's kill
  is the backstop for computations that never return to the interpreter (huge integer powers).
  """
  timeout_s = float(sys.argv[1])
  resource.setrlimit(resource.RLIMIT_AS, (_MEMORY_LIMIT_BYTES, _MEMORY_LIMIT_BYTES))
  signal.signal(signal.SIGALRM, _on_alarm)
  sys.stdout.write('"ready"\n')
  sys.stdout.flush()
  for line in sys.stdin:
    pred, gold = json.loads(line)
    try:
      signal.setitimer(signal.ITIMER_REAL, timeout_s)
      result = bool(equivalent(pred, gold))
    except (Exception, _Deadline):
      result = False
    finally:
      signal.setitimer(signal.ITIMER_REAL, 0)
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
  main()
