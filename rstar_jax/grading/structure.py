"""The bracket structure of an answer: top-level items, one enclosing bracket pair."""

from __future__ import annotations


def split_top_level(s: str, sep: str = ",") -> list[str]:
  """Items of `s` separated by `sep` outside any bracket."""
  parts, depth, start = [], 0, 0
  for i, ch in enumerate(s):
    if ch in "([{":
      depth += 1
    elif ch in ")]}":
      depth -= 1
    elif ch == sep and depth == 0:
      parts.append(s[start:i])
      start = i + 1
  parts.append(s[start:])
  return [p.strip() for p in parts]


def brackets(s: str) -> tuple[str, str, str] | None:
  """(open, inner, close) when s is one bracketed group: (..), [..], \\{..\\}."""
  if s.startswith(r"\{") and s.endswith(r"\}"):
    return "{", s[2:-2], "}"
  if len(s) >= 2 and s[0] in "([" and s[-1] in ")]":
    depth = 0
    for i, ch in enumerate(s):
      depth += ch in "([{"
      depth -= ch in ")]}"
      if depth == 0 and i < len(s) - 1:
        return None
    return s[0], s[1:-1], s[-1]
  return None


def balanced(s: str) -> bool:
  """Whether every LaTeX group `{...}` closes (escaped braces `\\{`, `\\}` aside)."""
  depth = 0
  for ch in s.replace(r"\{", "").replace(r"\}", ""):
    depth += (ch == "{") - (ch == "}")
    if depth < 0:
      return False
  return depth == 0
