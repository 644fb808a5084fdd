"""Answer extraction and equivalence, category by category, plus hostile inputs."""

import concurrent.futures
import multiprocessing
import threading
import time

import pytest

from rstar_jax.grading import equivalence
from rstar_jax.grading import extract_answer
from rstar_jax.grading import is_equivalent


@pytest.mark.parametrize(
  "text, expected",
  [
    (r"The answer is \boxed{18}.", "18"),
    (r"first \boxed{1} then \boxed{\frac{1}{2}}.", r"\frac{1}{2}"),
    (r"\boxed{x^{2}+\{1\}}", r"x^{2}+\{1\}"),
    (r"\boxed{\text{(C)}}", r"\text{(C)}"),
    (r"\boxed 5.", "5"),
    (r"\fbox{7}", "7"),
    (r"\boxed{  42  }", "42"),
    (r"\boxed{unbalanced", None),
    (r"\boxed{}", None),
    (r"so \boxed{\frac{\sqrt{2}}{2}}, done.", r"\frac{\sqrt{2}}{2}"),
    (r"\boxed{\text{Monday}}!", r"\text{Monday}"),
    (r"\boxed{1} and finally \boxed{\left(1, \{2\}\right)}.", r"\left(1, \{2\}\right)"),
    (r"\boxed{2} then a broken \boxed{3", "2"),
    ("no box here", None),
    ("", None),
    (None, None),
  ],
)
def test_extract_answer(text, expected):
  assert extract_answer(text) == expected


EQUIVALENT = [
  # numbers: integers, decimals, thousands separators, signs
  ("18", "18"),
  ("18.0", "18"),
  ("1,000", "1000"),
  ("1{,}000", "1000"),
  ("-3", "-3"),
  ("+4", "4"),
  ("0.333333333", "0.333333333"),
  ("1e3", "1000"),
  # fractions
  (r"\frac12", "0.5"),
  (r"\dfrac{1}{2}", "1/2"),
  (r"-\frac{3}{4}", "-0.75"),
  (r"\tfrac{6}{8}", r"\frac{3}{4}"),
  # units, currency, degrees, wrappers
  (r"\$18.00", "18"),
  (r"27 \text{ dollars}", "27"),
  ("30^\\circ", "30"),
  ("30°", "30"),
  (r"5\text{ cm}", "5"),
  ("12 meters", "12"),
  (r"\text{Monday}", "Monday"),
  ("5cm^2", "5"),
  ("10 km/h", "10"),
  # percent only when the gold is a percentage
  ("50", r"50\%"),
  ("0.5", r"50\%"),
  (r"50\%", r"50\%"),
  # radicals and symbolic expressions
  (r"2\sqrt{2}", r"\sqrt{8}"),
  (r"\frac{\sqrt{3}}{3}", r"\frac{1}{\sqrt{3}}"),
  ("(x+1)^2", "x^2+2x+1"),
  (r"2\pi", r"\frac{4\pi}{2}"),
  # equations vs values
  ("x=5", "5"),
  ("y = -2", "-2"),
  # tuples, sets, intervals
  ("(1,2)", "(1, 2)"),
  (r"\{1,2\}", r"\{2,1\}"),
  ("(1,2]", "(1, 2]"),
  ("-2, 1", "1, -2"),
  (r"(-\infty, 3) \cup (5, \infty)", r"(5,\infty)\cup(-\infty,3)"),
  (r"\left( 3, \frac{\pi}{2} \right)", r"(3,\frac{\pi}{2})"),
  # matrices
  (r"\begin{pmatrix}1&2\\3&4\end{pmatrix}", r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}"),
  (r"\begin{array}{cc}1&2\\3&4\end{array}", r"\begin{bmatrix}1&2\\3&4\end{bmatrix}"),
  # spacing inside LaTeX carries no meaning
  (r"\frac {a} {b}", r"\frac{a}{b}"),
  (r"\sqrt {2}", r"\sqrt2"),
  # multiple choice
  (r"\text{(C)}", "C"),
  ("(B)", "B"),
  ("A", "(A)"),
  # plus-minus as a pair
  (r"\pm 2", r"\pm2"),
  # lists written with words, bare lists against sets and pairs, leading zeros, +infinity
  (r"x=1 \text{ or } x=2", "1, 2"),
  ("19, 46, and 82", "82, 46, 19"),
  (r"\{1, 2, 3\}", "3, 2, 1"),
  ("x=2, y=3", "(2, 3)"),
  ("055", "55"),
  (r"\textbf{(55) }", "055"),
  (r"+\infty", r"\infty"),
  (r"\frac{1}{2}\text{ cm}^2", "0.5"),
  # plain (non-LaTeX) math, assumptions, scaled equations
  ("sqrt(3)/3", r"\frac{\sqrt3}{3}"),
  ("2*x**2", "2x^2"),
  (r"\sqrt{1/n}", r"\frac{1}{\sqrt{n}}"),
  ("2x+2y=2", "x+y=1"),
  (r"\text{13}", "13"),
  # scientific notation
  (r"7.44 \times 10^{-4}", "0.000744"),
  (r"4.4 \times 10^7", "4.4e7"),
  # inequalities as intervals, set-builder notation, unions written as words
  ("x>2", r"(2,\infty)"),
  (r"2 \le x", r"[2, \infty)"),
  ("3 > x > 1", "(1,3)"),
  (r"\{x|-2\leq x < 1\}", "[-2,1)"),
  (r"x<1 \text{ or } x>2", r"(-\infty,1)\cup(2,\infty)"),
  # a choice letter with its value
  (r"\text{(C) } 12", "C"),
]

NOT_EQUIVALENT = [
  ("17", "18"),
  ("0.5", "0.51"),
  ("3", "3x"),
  ("3x", "3"),
  # known math-verify false positives
  (r"\frac{1}{2004!}", r"\frac{1}{2006!}"),
  ("2", r"\pm 2"),
  (r"\pm 2", "2"),
  # no x100 percent leniency unless the gold has %
  (r"50\%", "0.5"),
  ("50", "0.5"),
  ("(1,2)", "(2,1)"),
  ("[1,2)", "[1,2]"),
  (r"\{1,2\}", r"\{1,2,3\}"),
  ("(1,2)", r"\{1,2\}"),
  (r"\begin{pmatrix}1&2\\3&5\end{pmatrix}", r"\begin{pmatrix}1&2\\3&4\end{pmatrix}"),
  (r"\begin{pmatrix}1&2\end{pmatrix}", r"\begin{pmatrix}1\\2\end{pmatrix}"),
  ("(B)", "C"),
  ("Tuesday", "Monday"),
  ("10^{-9}", "10^{-10}"),
  (r"\sqrt{2}", "1.41"),
  ("x=5", "y=5"),
  (r"x \ge 2", r"(2, \infty)"),
  (r"x<1 \text{ or } x>2", r"(-\infty,1]\cup(2,\infty)"),
  ("(B) 5", "C"),
  ("2xy", "2"),
  (r"\frac{1}{2}ab", r"\frac12"),
  ("1,2", "[1,2)"),
  ("|x|", "x"),
  (r"7.44 \times 10^{-4}", r"\infty"),
  (r"-\infty", r"\infty"),
  # more math-verify false positives (huggingface/Math-Verify issues 14, 41, 60)
  (r"\frac{1}{2^{99}}", r"\frac{1}{2^{98}}"),
  ("n=2, 3, 4", "n=1, 2, 3"),
  ("D = (0, 1)", "D = (0, 1.5)"),
  (r"19, 46, \text{ and } 82", "21, 36, and 82"),
  (r"\frac{2^{2005}+1}{3 \cdot 2^{2006}}", r"\frac{1}{3 \cdot 2^{2006}}"),
  (r"1 - \frac{1}{\mathrm{e}}", r"1 + \frac{1}{\mathrm{e}}"),
  (r"\pm 2021", "2021"),
  ("12:00", "1:00"),
  (r"1, 2, \ldots, n", r"1, 3, 5, \ldots, 2n-1"),
  (r"1:2:3:\ldots", r"1:4:9:\ldots"),
  ("3x-y+13=0", "3x+4y+14=0"),
  ("4", r"4\sqrt{2}"),
  ("4", r"4\sqrt(2)"),
  (r"F_n = \sum_{k=0}^{n-1} F_k F_{n-k-1}", r"F_n = \sum_{k=0}^{n-2} F_k F_{n-k-2}"),
  # float tolerance is relative 1e-6: closer is equal, farther is not
  ("1000000", "1000001"),
  ("0", "0.000001"),
  ("1/3", "0.33"),
]


@pytest.mark.parametrize("pred, gold", EQUIVALENT)
def test_equivalent(pred, gold):
  assert is_equivalent(pred, gold)


@pytest.mark.parametrize("pred, gold", NOT_EQUIVALENT)
def test_not_equivalent(pred, gold):
  assert not is_equivalent(pred, gold)


@pytest.mark.parametrize(
  "pred",
  [
    "",
    None,
    "{" * 5000,
    "}}}{{{",
    "x" * 10_000,
    "1+" * 5000 + "1",
    r"9^{9^{9^{9}}}",
    r"\frac{",
    "\\" * 100,
    r"\begin{pmatrix}",
    "((((",
    "\x00\x01",
    "=" * 50,
    "9**9**9**9",
    "x" * 999,
    r"\sqrt{" * 300 + "}" * 300,
    "(" * 400 + ")" * 400,
    r"\boxed{\boxed{",
    "1/0",
    r"\frac{1}{0}",
    "nan",
    "inf",
  ],
)
def test_hostile_answers_are_false_and_fast(pred):
  start = time.monotonic()
  assert not is_equivalent(pred, "1")
  assert (
    time.monotonic() - start < 30
  )  # generous: symbolic stage is bounded by its 2 s timer (+1 s kill)


def test_works_off_the_main_thread():
  results = []
  thread = threading.Thread(
    target=lambda: results.append(
      (is_equivalent("(x+2)^2", "x^2+4x+4"), is_equivalent(r"\frac{1}{2004!}", r"\frac{1}{2006!}"))
    )
  )
  thread.start()
  thread.join(timeout=60)
  assert results == [(True, False)]


def test_answer_text_is_never_evaluated_as_python(tmp_path):
  marker = tmp_path / "pwned"
  assert not is_equivalent(f"__import__('os').system('touch {marker}')", "x")
  assert not is_equivalent(f"open('{marker}', 'w')", "x")
  assert not marker.exists()


def test_integers_and_simple_fractions_skip_sympy(monkeypatch):
  def refuse(pred, gold):
    raise AssertionError(f"symbolic stage reached for {pred!r} vs {gold!r}")

  monkeypatch.setattr(equivalence, "symbolic_equivalent", refuse)
  for pred, gold, expected in [
    ("42", "42", True),
    ("41", "42", False),
    ("-7", "7", False),
    ("1,000", "1000", True),
    (r"\frac{3}{4}", "0.75", True),
    (r"\dfrac{2}{4}", "1/2", True),
    ("2/3", "3/2", False),
    (r"\$1,234.50", "1234.5", True),
    (r"25\%", "25", True),
    ("(B)", "B", True),
  ]:
    assert equivalence.is_equivalent.__wrapped__(pred, gold) is expected, (pred, gold)


def _grade_in_child(pair):
  return is_equivalent(*pair)


def test_works_in_worker_processes_and_concurrent_threads():
  pairs = [("(x+2)^2", "x^2+4x+4"), (r"\frac{1}{2004!}", r"\frac{1}{2006!}"), ("3", "4")]
  with concurrent.futures.ProcessPoolExecutor(
    2, mp_context=multiprocessing.get_context("fork")
  ) as pool:
    assert list(pool.map(_grade_in_child, pairs)) == [True, False, False]
  with concurrent.futures.ThreadPoolExecutor(4) as pool:
    assert (
      list(pool.map(lambda p: equivalence.is_equivalent.__wrapped__(*p), pairs * 2))
      == [True, False, False] * 2
    )
