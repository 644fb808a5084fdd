"""Answer extraction (`\\boxed{}`) and equivalence against gold answers."""

from rstar_jax.grading.equivalence import is_equivalent
from rstar_jax.grading.equivalence import normalize
from rstar_jax.grading.equivalence import parse_number
from rstar_jax.grading.extract import extract_answer
from rstar_jax.grading.graders import NAMES as GRADERS
from rstar_jax.grading.graders import grader
from rstar_jax.grading.lenient import is_equivalent_lenient

__all__ = [
  "GRADERS",
  "extract_answer",
  "grader",
  "is_equivalent",
  "is_equivalent_lenient",
  "normalize",
  "parse_number",
]
