"""Answer extraction (`\\boxed{}`) and equivalence against gold answers."""

from rstar_jax.grading.equivalence import is_equivalent
from rstar_jax.grading.equivalence import normalize
from rstar_jax.grading.equivalence import parse_number
from rstar_jax.grading.extract import extract_answer

__all__ = ["extract_answer", "is_equivalent", "normalize", "parse_number"]
