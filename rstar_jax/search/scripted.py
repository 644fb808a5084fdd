"""Scripted stand-ins for the policy engine and the PPM, for tests and the search benchmark.

They follow the `Engine.expand` / `Scorer.score` contracts (docs/architecture.md) and return
known outputs, so the search can be checked against hand computation and its own host overhead
measured without any model time.
"""

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from rstar_jax.format import prompts
from rstar_jax.inference import Candidate
from rstar_jax.inference import SamplingParams


def make_candidate(text: str, stop_reason: str | None = None) -> Candidate:
  """A candidate as the engine returns it; `stop_reason` follows from the text by default."""
  if stop_reason is None:
    stop_reason = "stop" if text.endswith(prompts.STEP_STOPS) else "eos"
  return Candidate(text=text, token_ids=[], stop_reason=stop_reason, logprob_sum=0.0)


class ScriptedPolicy:
  """`expand` returns, for each prompt, the scripted steps for its partial solution.

  `script` maps a partial solution (the text after the policy prompt) to the candidate step
  texts; the i-th of the n samples is `steps[i % len(steps)]`. Unscripted prefixes raise, so a
  test notices when the search goes somewhere unexpected. Every call is logged in `calls`.
  """

  def __init__(self, script: Mapping[str, Sequence[str]]):
    self.script = dict(script)
    self.calls: list[list[str]] = []

  def expand(
    self, prompt_texts: Sequence[str], n: int, sampling: SamplingParams
  ) -> list[list[Candidate]]:
    del sampling
    self.calls.append(list(prompt_texts))
    rows = []
    for text in prompt_texts:
      _, solution = prompts.split_prompt(text)
      if solution not in self.script:
        raise KeyError(f"no scripted steps after partial solution {solution!r}")
      steps = self.script[solution]
      rows.append([make_candidate(steps[i % len(steps)]) for i in range(n)])
    return rows


class GeneratedPolicy:
  """`expand` computes candidates with `step_fn(question, solution, sample_index, seed)`.

  Used where a script table would be too large (benchmarks, deep trees).
  """

  def __init__(self, step_fn: Callable[[str, str, int, int], str]):
    self.step_fn = step_fn
    self.calls = 0

  def expand(
    self, prompt_texts: Sequence[str], n: int, sampling: SamplingParams
  ) -> list[list[Candidate]]:
    self.calls += 1
    rows = []
    for text in prompt_texts:
      question, solution = prompts.split_prompt(text)
      rows.append(
        [make_candidate(self.step_fn(question, solution, i, sampling.seed)) for i in range(n)]
      )
    return rows


class ScriptedScorer:
  """`score` returns `value_fn(question, solution)` for each policy-prompt text."""

  def __init__(self, value_fn: Callable[[str, str], float]):
    self.value_fn = value_fn
    self.calls: list[list[str]] = []

  def score(self, texts: Sequence[str]) -> np.ndarray:
    self.calls.append(list(texts))
    return np.asarray([self.value_fn(*prompts.split_prompt(t)) for t in texts], dtype=np.float32)
