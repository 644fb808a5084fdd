"""The answer rule (DESIGN §1.1): a step that writes `\\boxed{…}` is the solution's answer step."""

from typing import Final

BOXED: Final = "\\boxed"


def is_answer_step(text: str) -> bool:
  return BOXED in text
