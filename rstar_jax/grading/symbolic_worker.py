"""Child process that compares two answers symbolically (LaTeX -> sympy), one JSON line per request.

It runs apart from the caller so that every comparison is bounded in time whatever thread or worker
process the caller is (math-verify's `signal.alarm` needs the caller's main thread): the worker is its
own main thread and interrupts itself with a timer, and the caller kills it if even that fails. A
pathological expression (`9^{9^{9^9}}`) can only exhaust this process's own memory limit.
"""

from __future__ import annotations

import cmath
import json
import random
import re
import resource
import signal
import sys

from latex2sympy2_extended import latex2sympy
from latex2sympy2_extended.latex2sympy2 import ConversionConfig
from latex2sympy2_extended.math_normalization import NormalizationConfig
from latex2sympy2_extended.math_normalization import normalize_latex
import sympy
from sympy.core.evalf import PrecisionExhausted
from sympy.parsing.sympy_parser import convert_xor
from sympy.parsing.sympy_parser import implicit_multiplication_application
from sympy.parsing.sympy_parser import parse_expr
from sympy.parsing.sympy_parser import standard_transformations

from rstar_jax.grading.canonical import ROW

_MEMORY_LIMIT_BYTES = 2 * 2**30
_PROBES = 3  # random points tried by the numeric refutation
_PROBE_TOL = 1e-6
_DIGITS = 60  # precision of the numeric comparison of exact values
_MAX_DIGITS = 300  # working precision up to which a difference of exact values must show
# latex2sympy's own repairs (`\\sqrt3`, `\\frac12`, `a/b`); units stay (our caller strips them).
_LATEX_FIXES = NormalizationConfig(
  basic_latex=True, units=False, malformed_operators=True, nits=False, boxed="none"
)
_CONVERSION = ConversionConfig(lowercase_symbols=False)  # `R` is not `r`
_SCIENTIFIC = re.compile(r"(?<![\w.])(\d+\.?\d*|\.\d+)[eE]([-+]?\d+)(?![\w.])")  # 4.4e7
_DECIMAL = re.compile(r"(?<![\w.])(\d*)\.(\d+)(?![\w.])")
# Plain (non-LaTeX) math such as `sqrt(3)/3` or `2*x**2`: sympy's parse_expr evaluates Python, so
# only digits, operators, single-letter symbols and a few function names may reach it.
_PLAIN_MATH = re.compile(
  r"^(?:[0-9.+\-*/^()\s]|\b(?:sqrt|pi|exp|log|ln|sin|cos|tan)\b|\b[a-zA-Z]\b)+$"
)
_SET_TYPES = (sympy.Set, sympy.core.relational.Relational, sympy.And, sympy.Or)


def _exact_decimals(text: str, latex: bool) -> str:
  """Decimals as exact fractions: `0.1` is 1/10, and `2.9999999999999999` is not 3."""

  def exact(m: re.Match) -> str:
    digits, scale = (m.group(1) or "0") + m.group(2), 10 ** len(m.group(2))
    return rf"\frac{{{digits}}}{{{scale}}}" if latex else f"({digits}/{scale})"

  return _DECIMAL.sub(exact, text)


def _parse_plain(text: str):
  if "__" in text or not _PLAIN_MATH.match(text):
    return None
  text = re.sub(r"\bln\b", "log", text)
  text = re.sub(r"(?<![\d.])0+(?=\d)", "", text)  # Python reads `055` as 0 times 55
  text = _exact_decimals(text, latex=False)
  # Single letters are symbols (not sympy's `S`, `N`, `O`, `I`, ...); `e` is Euler's number.
  names = {c: sympy.Symbol(c) for c in set(re.findall(r"\b[a-zA-Z]\b", text))}
  names["e"] = sympy.E
  return parse_expr(
    text,
    local_dict=names,
    evaluate=True,
    transformations=standard_transformations + (implicit_multiplication_application, convert_xor),
  )


def _conventions(expr):
  """`i` is the imaginary unit unless it is a summation index."""
  i = sympy.Symbol("i")
  if not isinstance(expr, sympy.Basic) or i not in expr.free_symbols:
    return expr
  if any(isinstance(node, (sympy.Sum, sympy.Product)) for node in sympy.preorder_traversal(expr)):
    return expr
  return expr.xreplace({i: sympy.I})


def to_sympy(text: str):
  """LaTeX (or plain math like `sqrt(3)/3`) -> sympy expression; None when it does not parse."""
  text = _SCIENTIFIC.sub(r"\1 \\times 10^{\2}", text.replace(ROW, "\\\\"))
  if "\\" not in text and "{" not in text:
    try:
      expr = _parse_plain(text)
      if expr is not None:
        return _conventions(expr)
    except Exception:
      pass
  try:
    latex = normalize_latex(_exact_decimals(text, latex=True), _LATEX_FIXES)
    return _conventions(latex2sympy(latex, conversion_config=_CONVERSION))
  except Exception:
    return None


def _close(a: complex, b: complex, rel_tol: float) -> bool:
  return abs(a - b) <= rel_tol * max(abs(a), abs(b))


def equal_numbers(a, b, rel_tol: float | None) -> bool:
  """Rationals exactly; other exact values when their difference has no nonzero digit even at
  high precision; with `rel_tol` (lenient grading) any values that close. Infinities only equal
  themselves. Arithmetic stays in sympy floats, whose exponents do not overflow (`10^{10^{10}}`).
  """
  if a.is_Rational and b.is_Rational and rel_tol is None:
    return a == b
  va, vb = a.evalf(_DIGITS), b.evalf(_DIGITS)
  if not (va.is_finite and vb.is_finite):
    return va == vb
  if abs(va - vb) > (rel_tol or _PROBE_TOL) * max(abs(va), abs(vb)):
    return False
  if rel_tol is not None:
    return True
  try:  # the difference as a whole, to full relative precision: nonzero means different
    return (a - b).evalf(_DIGITS, strict=True, maxn=_MAX_DIGITS) == 0
  except PrecisionExhausted:
    return True  # no digit of the difference is nonzero up to _MAX_DIGITS


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


def _zero(expr) -> bool:
  if expr.has(sympy.binomial, sympy.factorial):
    expr = sympy.combsimp(expr.rewrite(sympy.factorial))
  return sympy.simplify(expr) == 0


def _same(a, b) -> bool:
  """Whether a - b simplifies to 0, also once the symbols are taken as positive reals (as lengths,
  counts and most unknowns of competition answers are: `\\sqrt{1/n}` is `1/\\sqrt{n}`)."""
  expr = a - b
  symbols = [x for x in expr.free_symbols if isinstance(x, sympy.Symbol)]
  if symbols and _differ_somewhere(a, b, symbols):
    return False
  if _zero(expr):
    return True
  if expr.has(sympy.Abs, sympy.sign, sympy.Piecewise):
    return False  # positivity would erase exactly what these say (|x| is not x)
  positive = {x: sympy.Symbol(x.name, positive=True) for x in symbols}
  return bool(positive) and _zero(expr.xreplace(positive))


def _same_equation(a, b) -> bool:
  """Equations are equal when one side-difference is a nonzero constant multiple of the other."""
  da, db = a.lhs - a.rhs, b.lhs - b.rhs
  if _same(da, db) or _same(da, -db):
    return True
  if db == 0:
    return False
  ratio = sympy.simplify(da / db)
  return ratio.is_number and ratio != 0 and ratio.is_finite is True


def _as_set(expr):
  """A relation in one unknown as the set of its solutions; a set as itself; else None."""
  if isinstance(expr, sympy.Set):
    return expr
  if isinstance(expr, sympy.Eq):
    return None
  if len(expr.free_symbols) != 1:
    return None
  symbol = next(iter(expr.free_symbols))
  real = sympy.Symbol(symbol.name, real=True)
  return expr.xreplace({symbol: real}).as_set()


def _same_set(a, b) -> bool:
  sa, sb = _as_set(a), _as_set(b)
  if sa is None or sb is None:
    return False
  return sa == sb or sympy.simplify(sa.symmetric_difference(sb)) == sympy.EmptySet


def _matrix(expr):
  """The explicit matrix a matrix expression (sums, products, powers, inverses) evaluates to."""
  if isinstance(expr, sympy.MatrixBase):
    return expr
  if isinstance(expr, sympy.MatrixExpr):
    return sympy.Matrix(expr.doit())
  if isinstance(expr, sympy.Pow):
    base = _matrix(expr.base)
    return None if base is None else base**expr.exp
  return None


def _same_matrix(a, b, rel_tol: float | None) -> bool:
  ma, mb = _matrix(a), _matrix(b)
  if ma is None or mb is None or ma.shape != mb.shape:
    return False
  return all(_same_value(x, y, rel_tol) for x, y in zip(ma, mb))


def _integration_constant(a, b):
  """`C` and `c` both name the arbitrary constant of an antiderivative."""
  big, small = sympy.Symbol("C"), sympy.Symbol("c")
  if big in a.free_symbols and small in b.free_symbols and big not in b.free_symbols:
    return b.xreplace({small: big})
  return b


def _same_value(a, b, rel_tol: float | None) -> bool:
  if a == b:
    return True
  if a.is_number and b.is_number:
    return equal_numbers(a, b, rel_tol)
  return _same(a, b)


def equivalent(pred: str, gold: str, rel_tol: float | None = None) -> bool:
  a, b = to_sympy(pred), to_sympy(gold)
  if a is None or b is None:
    return False
  if any(isinstance(x, sympy.Basic) and x.has(sympy.zoo, sympy.nan) for x in (a, b)):
    return False  # `12:00` parses as 12/0: undefined values equal nothing
  if a == b:
    return True  # structurally equal; also the only way `oo` equals `oo` (oo - oo is nan)
  if isinstance(a, sympy.Eq) or isinstance(b, sympy.Eq):
    return isinstance(a, sympy.Eq) and isinstance(b, sympy.Eq) and _same_equation(a, b)
  if isinstance(a, _SET_TYPES) or isinstance(b, _SET_TYPES):
    return _same_set(a, b)
  if _matrix(a) is not None or _matrix(b) is not None:
    return _same_matrix(a, b, rel_tol)
  if not (isinstance(a, sympy.Expr) and isinstance(b, sympy.Expr)):
    return False  # Tuples and other structures: only structural equality (checked above) counts.
  return _same_value(a, _integration_constant(a, b), rel_tol)


class _Deadline(BaseException):
  """Raised by the timer; a BaseException so that no `except Exception` (ours or sympy's) eats it."""


def _on_alarm(signum, frame):
  raise _Deadline


def main() -> None:
  """Serves requests `[pred, gold, rel_tol, timeout_s]` until stdin closes, one JSON answer each.

  The worker bounds itself with an interval timer (it is its own main thread); the caller's kill
  is the backstop for computations that never return to the interpreter (huge integer powers).
  """
  resource.setrlimit(resource.RLIMIT_AS, (_MEMORY_LIMIT_BYTES, _MEMORY_LIMIT_BYTES))
  sys.set_int_max_str_digits(0)  # sympy prints big integers inside evalf; time and memory bound us
  signal.signal(signal.SIGALRM, _on_alarm)
  sys.stdout.write('"ready"\n')
  sys.stdout.flush()
  for line in sys.stdin:
    pred, gold, rel_tol, timeout_s = json.loads(line)
    try:
      signal.setitimer(signal.ITIMER_REAL, timeout_s)
      result = bool(equivalent(pred, gold, rel_tol))
    except (Exception, _Deadline):
      result = False
    finally:
      signal.setitimer(signal.ITIMER_REAL, 0)
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
  main()
