"""Canonical text of an answer: one spelling for what people write many ways.

Each rule rewrites a notation into the one the comparison understands (unicode into LaTeX, number
words into digits, `C_n^k` into `\\binom{n}{k}`, `0.1\\overline{6}` into a fraction, degrees inside
a trigonometric function into radians) or drops what carries no meaning (spacing, `\\left`, units,
`\\text{}` wrappers, `$`).
"""

from __future__ import annotations

from fractions import Fraction
import re

from rstar_jax.grading import numbers

ROW = "\ue000"  # matrix row separator after normalisation (not whitespace, unlike \x1e)

_UNICODE = {
  "−": "-",
  "–": "-",
  "×": r"\times ",
  "·": r"\cdot ",
  "÷": r"\div ",
  "∞": r"\infty ",
  "π": r"\pi ",
  "≤": r"\le ",
  "≥": r"\ge ",
  "≠": r"\ne ",
  "∪": r"\cup ",
  "∩": r"\cap ",
  "∈": r"\in ",
  "∅": r"\emptyset ",
  "°": r"^\circ ",
  "²": "^2",
  "³": "^3",
  "½": r"\frac{1}{2}",
  "⅓": r"\frac{1}{3}",
  "⅔": r"\frac{2}{3}",
  "¼": r"\frac{1}{4}",
  "¾": r"\frac{3}{4}",
  "⅕": r"\frac{1}{5}",
  "⅛": r"\frac{1}{8}",
}
_UNICODE_SQRT = re.compile(r"√\s*(\d+(?:\.\d+)?|[a-zA-Z]|\([^()]*\)|\{[^{}]*\})")
_REMOVE = (r"\left", r"\right", r"\displaystyle", r"\limits", r"\!", r"\$", "$")
_SPACES = re.compile(r"\\[,;: ]|~|\\(?:hspace|vspace)\{[^{}]*\}")
_THOUSANDS_MARK = re.compile(r"(\d)(?:,\\!|\{,\})\s*(?=\d{3}(?!\d))")
_THOUSANDS = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_BOX = re.compile(r"^\\(?:boxed|fbox)\{(.*)\}$")
_TOKEN = r"(\{[^{}]*\}|\w)"
_BINOMIALS = (
  re.compile(r"\{\s*([^{}]*?)\s*\\choose\s*([^{}]*?)\s*\}"),  # {n \choose k}
  re.compile(r"(?:\{\}|(?<![\w}]))_" + _TOKEN + r"\s*C_" + _TOKEN),  # {}_nC_k
  re.compile(r"(?<![\w\\])C_" + _TOKEN + r"\^" + _TOKEN),  # C_n^k
)
_BINOMIAL_SUPER_FIRST = re.compile(r"(?<![\w\\])C\^" + _TOKEN + r"_" + _TOKEN)  # C^k_n
_TRIG = re.compile(r"\\(?:sin|cos|tan|cot|sec|csc)\b")
_DEGREE_MARK = r"\s*\^\s*\{?\s*\\circ\s*\}?|\\degree"
_DEGREES = re.compile(_DEGREE_MARK)
_DEGREE_VALUE = re.compile(r"(\d+(?:\.\d+)?)(?:" + _DEGREE_MARK + ")")
_WRAPPER = re.compile(
  r"\\(?:text|textbf|textit|textrm|textnormal|mathrm|mathbf|mathit|mbox|operatorname|hbox)"
  r"\s*\{((?:[^{}]|\{[^{}]*\})*)\}"
)
_IDENTITY = re.compile(r"\\(?:mathbf|mathbb|mathbbm)\s*(?:\{\s*I\s*\}|I(?![a-zA-Z]))")
IDENTITY = r"\IdentityMatrix"
_EMPTY_SET = re.compile(
  r"^(?:\\varnothing|\\emptyset|\\\{\s*\\\}|\{\s*\}|no (?:real )?solutions?|empty set)$", re.I
)
_REALS = re.compile(
  r"\\mathbb\s*\{?\s*R\s*\}?|\\R\b|^(?:all real numbers|all reals|every real number)$", re.I
)
_INFINITY_WORD = re.compile(r"(?<![\\a-zA-Z])(?:infinity|inf)(?![a-zA-Z])")
_CONJUNCTION = re.compile(r"\s*,?\s+(?:and|or)\s+|\s*,?\s*\\(?:quad|qquad)\s*")
_SCALED = re.compile(r"^(-?\d+(?:\.\d+)?)\s*(thousand|million|billion|trillion)$", re.I)
_UNIT_WORD = r"[a-zA-Z]{2,}\.?"
_UNIT_ABBREVIATION = r"(?:cm|mm|km|kg|mg|ml|mL|ft|mph|sec|min|hrs?|in)"
_SI_LETTER = r"[mgsLJNWV]"
_EXPONENT = r"(?:\^\{?-?\d\}?)?"
_UNIT = (
  rf"(?:\s+(?:{_UNIT_WORD}|{_SI_LETTER})|\s*{_UNIT_ABBREVIATION})(?:\s*/\s*[a-zA-Z]+)?{_EXPONENT}"
)
_TRAILING_UNIT = re.compile(
  rf"^(?P<head>.*?(?:\d|\}}|\\pi)){_UNIT}(?:\s+{_UNIT_WORD})*{_EXPONENT}$"
)
_BASE_SUBSCRIPT = re.compile(r"^(\d+)_\{?(\d+)\}?$")  # 52_8: digits in base 8
_MIXED = re.compile(r"^(-?)(\d+)\s*\\frac\{(\d+)\}\{(\d+)\}$")
_OVER = re.compile(r"^\{?([^{}]+?)\\over([^{}]+?)\}?$")


def _plain_text(s: str) -> str:
  """Unicode symbols as LaTeX, spacing commands as spaces, wrappers and `$` dropped."""
  for symbol, latex in _UNICODE.items():
    s = s.replace(symbol, latex)
  s = _UNICODE_SQRT.sub(lambda m: r"\sqrt{" + m.group(1).strip("(){}") + "}", s)
  s = s.replace("\\\\", ROW).replace("$,$", ", ").replace("\n", " ")
  s = s.replace(r"\langle", "(").replace(r"\rangle", ")")
  s = _THOUSANDS_MARK.sub(r"\1", s)
  for token in _REMOVE:
    s = s.replace(token, "")
  s = _SPACES.sub(" ", s)
  s = re.sub(r"\\[dt]frac", r"\\frac", s)
  s = re.sub(r"\\[dt]binom", r"\\binom", s)
  s = re.sub(r"\\frac\s*(\d)\s*(\d)", r"\\frac{\1}{\2}", s)
  s = re.sub(r"\\frac\s*\{([^{}]*)\}\s*(\d)", r"\\frac{\1}{\2}", s)
  s = _IDENTITY.sub(lambda _: IDENTITY + " ", s)
  while True:
    box = _BOX.match(s.strip())
    if not box:
      break
    s = box.group(1)
  return " ".join(s.split())


def _binom(n: str, k: str) -> str:
  return r"\binom{" + n.strip("{}") + "}{" + k.strip("{}") + "}"


def _binomials(s: str) -> str:
  for pattern in _BINOMIALS:
    s = pattern.sub(lambda m: _binom(m.group(1), m.group(2)), s)
  return _BINOMIAL_SUPER_FIRST.sub(lambda m: _binom(m.group(2), m.group(1)), s)


def _degrees(s: str) -> str:
  """Degrees are radians times pi/180 inside trigonometry; elsewhere a unit that is dropped."""
  if _TRIG.search(s):
    s = _DEGREE_VALUE.sub(lambda m: r"(\frac{" + m.group(1) + r"\pi}{180})", s)
  return _DEGREES.sub("", s)


def _repeating(s: str) -> str:
  """Repeating decimals as exact fractions (in parentheses inside a longer expression)."""
  whole = numbers.REPEATING.fullmatch(s)
  if whole:
    return numbers.fraction_latex(numbers.repeating_value(*whole.groups()))
  return numbers.REPEATING.sub(
    lambda m: "(" + numbers.fraction_latex(numbers.repeating_value(*m.groups())) + ")", s
  )


def _words(s: str) -> str:
  """Number words, scale words (`2.5 thousand`), names of the empty set, the reals and infinity."""
  if _EMPTY_SET.match(s):
    return r"\emptyset"
  s = _REALS.sub(r"(-\\infty, \\infty)", s)
  s = _INFINITY_WORD.sub(r"\\infty", s)
  scaled = _SCALED.match(s)
  if scaled:
    value = Fraction(scaled.group(1)) * numbers.scale_word(scaled.group(2))
    return numbers.fraction_latex(value)
  if re.fullmatch(r"[A-Za-z][A-Za-z\s\-]*", s):
    value = numbers.words_to_number(s)
    if value is not None:
      return numbers.fraction_latex(value)
  return s


def _strip_unit(s: str) -> str:
  """`5 \\text{cm}^2`, `12 apples`, `10 km/h`, `36\\sqrt{7}cm^{3}`: the number without its unit."""
  unit = _TRAILING_UNIT.match(s)
  return unit.group("head").strip() if unit else s


def normalize(answer: str) -> tuple[str, bool]:
  """Canonical text of an answer and whether it was a percentage."""
  s = _plain_text(answer.strip())
  s = _binomials(s)
  s = _degrees(s)
  s = s.strip().rstrip(".").strip()
  percent = s.endswith("%")
  s = s.replace(r"\%", "").replace("%", "").strip()
  for _ in range(2):  # `\textbf{\text{12}}`: wrappers nest
    s = _WRAPPER.sub(lambda m: m.group(1), s).strip()
  s = _CONJUNCTION.sub(", ", s).strip(", ")  # "1 or 2", "1, and 2": a list of answers
  s = _strip_unit(_words(s))
  if s.startswith("+"):
    s = s[1:].lstrip()
  s = s.replace(r"+\infty", r"\infty")
  if _THOUSANDS.match(s):
    s = s.replace(",", "")
  base = _BASE_SUBSCRIPT.match(s)
  if base:
    s = base.group(1)
  mixed = _MIXED.match(s)
  if mixed and int(mixed.group(3)) < int(mixed.group(4)):
    sign, whole, num, den = mixed.groups()
    value = int(whole) + Fraction(int(num), int(den))
    s = numbers.fraction_latex(-value if sign else value)
  over = _OVER.match(s)
  if over:
    s = r"\frac{" + over.group(1).strip() + "}{" + over.group(2).strip() + "}"
  return _repeating(s), percent
