"""Answer extraction and equivalence, category by category, plus hostile inputs."""
import threading
import time

import pytest

from rstar_jax.grading import extract_answer, is_equivalent


@pytest.mark.parametrize("text, expected", [
    (r"The answer is \boxed{18}.", "18"),
    (r"first \boxed{1} then \boxed{\frac{1}{2}}.", r"\frac{1}{2}"),
    (r"\boxed{x^{2}+\{1\}}", r"x^{2}+\{1\}"),
    (r"\boxed{\text{(C)}}", r"\text{(C)}"),
    (r"\boxed 5.", "5"),
    (r"\fbox{7}", "7"),
    (r"\boxed{  42  }", "42"),
    (r"\boxed{unbalanced", None),
    (r"\boxed{}", None),
    ("no box here", None),
    ("", None),
    (None, None),
])
def test_extract_answer(text, expected):
  assert extract_answer(text) == expected


EQUIVALENT = [
    # numbers: integers, decimals, thousands separators, signs
    ("18", "18"), ("18.0", "18"), ("1,000", "1000"), ("1{,}000", "1000"), ("-3", "-3"), ("+4", "4"),
    ("0.333333333", "0.333333333"), ("1e3", "1000"),
    # fractions
    (r"\frac12", "0.5"), (r"\dfrac{1}{2}", "1/2"), (r"-\frac{3}{4}", "-0.75"), (r"\tfrac{6}{8}", r"\frac{3}{4}"),
    # units, currency, degrees, wrappers
    (r"\$18.00", "18"), (r"27 \text{ dollars}", "27"), ("30^\\circ", "30"), ("30°", "30"),
    (r"5\text{ cm}", "5"), ("12 meters", "12"), (r"\text{Monday}", "Monday"),
    # percent only when the gold is a percentage
    ("50", r"50\%"), ("0.5", r"50\%"), (r"50\%", r"50\%"),
    # radicals and symbolic expressions
    (r"2\sqrt{2}", r"\sqrt{8}"), (r"\frac{\sqrt{3}}{3}", r"\frac{1}{\sqrt{3}}"), ("(x+1)^2", "x^2+2x+1"),
    (r"2\pi", r"\frac{4\pi}{2}"),
    # equations vs values
    ("x=5", "5"), ("y = -2", "-2"),
    # tuples, sets, intervals
    ("(1,2)", "(1, 2)"), (r"\{1,2\}", r"\{2,1\}"), ("(1,2]", "(1, 2]"), ("-2, 1", "1, -2"),
    (r"(-\infty, 3) \cup (5, \infty)", r"(5,\infty)\cup(-\infty,3)"),
    (r"\left( 3, \frac{\pi}{2} \right)", r"(3,\frac{\pi}{2})"),
    # matrices
    (r"\begin{pmatrix}1&2\\3&4\end{pmatrix}", r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}"),
    # multiple choice
    (r"\text{(C)}", "C"), ("(B)", "B"), ("A", "(A)"),
    # plus-minus as a pair
    (r"\pm 2", r"\pm2"),
]

NOT_EQUIVALENT = [
    ("17", "18"), ("0.5", "0.51"), ("3", "3x"), ("3x", "3"),
    # known math-verify false positives
    (r"\frac{1}{2004!}", r"\frac{1}{2006!}"), ("2", r"\pm 2"), (r"\pm 2", "2"),
    # no x100 percent leniency unless the gold has %
    (r"50\%", "0.5"), ("50", "0.5"),
    ("(1,2)", "(2,1)"), ("[1,2)", "[1,2]"), (r"\{1,2\}", r"\{1,2,3\}"), ("(1,2)", r"\{1,2\}"),
    (r"\begin{pmatrix}1&2\\3&5\end{pmatrix}", r"\begin{pmatrix}1&2\\3&4\end{pmatrix}"),
    (r"\begin{pmatrix}1&2\end{pmatrix}", r"\begin{pmatrix}1\\2\end{pmatrix}"),
    ("(B)", "C"), ("Tuesday", "Monday"), ("10^{-9}", "10^{-10}"), (r"\sqrt{2}", "1.41"),
]


@pytest.mark.parametrize("pred, gold", EQUIVALENT)
def test_equivalent(pred, gold):
  assert is_equivalent(pred, gold)


@pytest.mark.parametrize("pred, gold", NOT_EQUIVALENT)
def test_not_equivalent(pred, gold):
  assert not is_equivalent(pred, gold)


@pytest.mark.parametrize("pred", [
    "", None, "{" * 5000, "}}}{{{", "x" * 10_000, "1+" * 5000 + "1", r"9^{9^{9^{9}}}", r"\frac{", "\\" * 100,
    r"\begin{pmatrix}", "((((", "\x00\x01", "=" * 50,
])
def test_hostile_answers_are_false_and_fast(pred):
  start = time.monotonic()
  assert not is_equivalent(pred, "1")
  assert time.monotonic() - start < 10  # the symbolic stage is bounded by its worker timeout (3 s)


def test_works_off_the_main_thread():
  results = []
  thread = threading.Thread(target=lambda: results.append(
      (is_equivalent("(x+2)^2", "x^2+4x+4"), is_equivalent(r"\frac{1}{2004!}", r"\frac{1}{2006!}"))))
  thread.start()
  thread.join(timeout=60)
  assert results == [(True, False)]
