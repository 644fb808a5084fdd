"""Final-answer extraction: the last brace-matched `\\boxed{...}` (or `\\fbox{...}`)."""

from __future__ import annotations

import re

_BOX = re.compile(r"\\(?:boxed|fbox)\s*")


def _matched_group(text: str, start: int) -> tuple[str, int] | None:
  """Content of the `{...}` group opening at text[start], and the index after it."""
  depth = 0  # an escaped brace \{ or \} does not count
  for i in range(start, len(text)):
    ch = text[i]
    if ch == "{" and (i == 0 or text[i - 1] != "\\"):
      depth += 1
    elif ch == "}" and (i == 0 or text[i - 1] != "\\"):
      depth -= 1
      if depth == 0:
        return text[start + 1 : i], i + 1
  return None


def extract_answer(text: str | None) -> str | None:
  """Content of the last complete `\\boxed{}` in `text` (also `\\boxed 5`), or None."""
  if not text:
    return None
  for match in reversed(list(_BOX.finditer(text))):
    end = match.end()
    if end < len(text) and text[end] == "{":
      group = _matched_group(text, end)
      if group is not None:
        answer = group[0].strip()
        return answer or None
    else:
      bare = re.match(r"[^\s$.,;]+", text[end:])
      if bare:
        return bare.group(0)
  return None
