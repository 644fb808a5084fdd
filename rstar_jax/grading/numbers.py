"""Numbers as exact rationals: decimals, fractions, scientific notation, repeating decimals, words.

Every written number is read exactly (`0.1` is 1/10, never a float), so that strictness is a
choice of the caller: `2.9999999999999999` is not 3 unless written `2.\\overline{9}`.
"""

from __future__ import annotations

from fractions import Fraction
import re

MAX_DIGITS = 4000  # longer numerals are not numbers we compare (`1e999999` stays text)

_DECIMAL = re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$")
_FRAC = re.compile(r"^([-+]?)\\frac\{([-+]?\d+)\}\{([-+]?\d+)\}$")
_SLASH = re.compile(r"^([-+]?\d+)/([-+]?\d+)$")
_TIMES_TEN = re.compile(r"^([-+]?(?:\d+\.?\d*|\.\d+))(?:\\times|\\cdot|\*)10\^\{?([-+]?\d+)\}?$")
_POWER_OF_TEN = re.compile(r"^([-+]?)10\^\{?([-+]?\d+)\}?$")
# `0.1\overline{6}`, `2.\overline{142857}`, `0.\dot{3}`: the repetend repeats forever.
REPEATING = re.compile(r"(?<![\d.])(-?)(\d*)\.(\d*)\\(?:overline|dot)\{?(\d+)\}?(?![\d])")

_UNITS = (
  *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"),
  *("eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen"),
  "nineteen",
)
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_SCALES = {
  "hundred": 100,
  "thousand": 10**3,
  "million": 10**6,
  "billion": 10**9,
  "trillion": 10**12,
}
_FRACTION_WORDS = {"half": 2, "halves": 2, "third": 3, "thirds": 3, "quarter": 4, "quarters": 4}
_WORD_VALUES = {w: i for i, w in enumerate(_UNITS)} | {w: 10 * i for i, w in enumerate(_TENS) if w}


def parse_number(s: str) -> Fraction | None:
  """Integers, decimals, a/b, \\frac{a}{b}, `a \\times 10^{b}` and `10^{b}` exactly; else None."""
  s = s.replace(" ", "")
  if len(s) > MAX_DIGITS:
    return None
  try:
    if _DECIMAL.match(s):
      mantissa, _, exponent = s.lower().partition("e")
      if exponent and abs(int(exponent)) > MAX_DIGITS:
        return None
      return Fraction(mantissa) * Fraction(10) ** int(exponent or 0)
    m = _TIMES_TEN.match(s)
    if m and abs(int(m.group(2))) <= MAX_DIGITS:
      return Fraction(m.group(1)) * Fraction(10) ** int(m.group(2))
    m = _POWER_OF_TEN.match(s)
    if m and abs(int(m.group(2))) <= MAX_DIGITS:
      return (-1 if m.group(1) == "-" else 1) * Fraction(10) ** int(m.group(2))
  except (ValueError, ZeroDivisionError):
    return None
  m = _FRAC.match(s)
  if m:
    sign, num, den = m.groups()
    return None if int(den) == 0 else (-1 if sign == "-" else 1) * Fraction(int(num), int(den))
  m = _SLASH.match(s)
  if m:
    return None if int(m.group(2)) == 0 else Fraction(int(m.group(1)), int(m.group(2)))
  return None


def repeating_value(sign: str, whole: str, fixed: str, repetend: str) -> Fraction:
  """`whole.fixed(repetend)(repetend)...` as a fraction."""
  shift = Fraction(10) ** len(fixed)
  head = Fraction(int(whole or "0")) + Fraction(int(fixed or "0")) / shift
  tail = Fraction(int(repetend), 10 ** len(repetend) - 1) / shift
  return -(head + tail) if sign == "-" else head + tail


def fraction_latex(value: Fraction) -> str:
  if value.denominator == 1:
    return str(value.numerator)
  sign = "-" if value < 0 else ""
  return f"{sign}\\frac{{{abs(value.numerator)}}}{{{value.denominator}}}"


def words_to_number(text: str) -> Fraction | None:
  """`twelve`, `twenty-one`, `one hundred five`, `three thousand`, `one half`; None otherwise."""
  words = text.lower().replace("-", " ").replace(" and ", " ").split()
  if not words or len(words) > 12:
    return None
  if len(words) == 2 and words[1] in _FRACTION_WORDS:  # `one half`, `two thirds`
    count = _WORD_VALUES.get(words[0]) if words[0] != "a" else 1
    return None if count is None else Fraction(count, _FRACTION_WORDS[words[1]])
  total, current = 0, None
  for word in words:
    if word in _WORD_VALUES:
      current = (current or 0) + _WORD_VALUES[word]
    elif word in _SCALES and current is not None:
      if word == "hundred":
        current *= 100
      else:
        total, current = total + current * _SCALES[word], 0
    else:
      return None
  return Fraction(total + (current or 0))


def scale_word(word: str) -> int | None:
  """The multiplier a scale word (`thousand`, `million`, ...) stands for."""
  return _SCALES.get(word.lower()) if word.lower() != "hundred" else 100
