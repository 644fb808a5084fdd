"""The program a partial solution stands for (DESIGN §1.1).

Every non-answer step is verified by executing all code written since `<code>`: step and code
markers are removed, and `<output>…<end_of_output>` blocks that the executor appended to earlier
steps are dropped, since they are results rather than code.
"""

import re

from rstar_jax.format import prompts

# An output block, or an unterminated one running to the end of the text.
_OUTPUT_BLOCK = re.compile(
  re.escape(prompts.OUTPUT) + r".*?(?:" + re.escape(prompts.END_OF_OUTPUT) + r"|\Z)", re.DOTALL
)
# A marker (with the line break after it) becomes one line break, so that a marker glued to
# code never joins two statements. A later `<code>` (a model reopening code after
# `<end_of_code>`) is a marker too: the code simply continues.
_MARKERS = re.compile(
  "(?:"
  + "|".join(re.escape(m) for m in (prompts.CODE, prompts.END_OF_STEP, prompts.END_OF_CODE))
  + r")\n?"
)


def assemble_program(solution_text: str) -> str | None:
  """Returns the Python program of a partial solution, or None when it has no `<code>`.

  Code starts after the first `<code>` and stops at an `<answer>` step, which is text.
  """
  start = solution_text.find(prompts.CODE)
  if start < 0:
    return None
  code = solution_text[start + len(prompts.CODE) :]
  answer = code.find(prompts.ANSWER)
  if answer >= 0:
    code = code[:answer]
  code = _OUTPUT_BLOCK.sub("\n", code)
  code = _MARKERS.sub("\n", code)
  return code.strip("\n") + "\n"
