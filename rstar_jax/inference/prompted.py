"""An engine whose model sees another prompt style than the search that calls it."""

from collections.abc import Sequence
import dataclasses
from typing import Any

from rstar_jax.format import fewshot
from rstar_jax.inference.config import Candidate
from rstar_jax.inference.config import SamplingParams


@dataclasses.dataclass(frozen=True)
class PromptedEngine:
  """`engine` behind a prompt style (`fewshot.STYLES`).

  The search hands over `policy_prompt(question) + solution`; only the sampled model sees the
  restyled text (round 1's few-shot prompt), so the trees, their training data and the PPM keep
  the plain prompt, as the official data builders rebuild it from the question.
  """

  engine: Any
  style: str

  def __post_init__(self):
    if self.style not in fewshot.STYLES:
      raise ValueError(f"prompt style {self.style!r}; expected one of {fewshot.STYLES}")

  @property
  def stats(self) -> Any:
    return getattr(self.engine, "stats", None)

  def expand(
    self, prompts: Sequence[str], n: int, sampling: SamplingParams
  ) -> list[list[Candidate]]:
    return self.engine.expand([fewshot.restyle(p, self.style) for p in prompts], n, sampling)
