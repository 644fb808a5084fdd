"""Step format and prompt template of code-augmented CoT (DESIGN §1.1).

One module owns the markers so that the tokenizer (special tokens), the inference engine (stop
strings), the search (terminal detection) and the built-in world all agree on them.
"""

from typing import Final

CODE: Final = "<code>"
END_OF_STEP: Final = "<end_of_step>"
END_OF_CODE: Final = "<end_of_code>"
OUTPUT: Final = "<output>"
END_OF_OUTPUT: Final = "<end_of_output>"
ANSWER: Final = "<answer>"
END_OF_ANSWER: Final = "<end_of_answer>"
USER: Final = "<|user|>"
ASSISTANT: Final = "<|assistant|>"

# Added to the tokenizer as special tokens (official release order).
STEP_MARKERS: Final = (
  CODE,
  END_OF_STEP,
  END_OF_CODE,
  OUTPUT,
  END_OF_OUTPUT,
  ANSWER,
  END_OF_ANSWER,
  USER,
  ASSISTANT,
)

# Generation of one step stops at any of these; the stop string stays in the step text.
STEP_STOPS: Final = (END_OF_STEP, END_OF_CODE, END_OF_ANSWER)

# The official round-1 search stops at `<end_of_output>` too (config/sample_mcts.yaml `stop`): the
# few-shot prompt's examples show output blocks, which a model new to the format may write itself.
BOOTSTRAP_STOPS: Final = (END_OF_STEP, END_OF_CODE, END_OF_OUTPUT, END_OF_ANSWER)

_PROMPT_HEAD: Final = f"{USER}:\n"
_PROMPT_TAIL: Final = f"\n{ASSISTANT}: Let's think step by step and solve the problem with code."


def policy_prompt(question: str) -> str:
  """The prompt both the policy and the PPM see before the partial solution.

  The partial solution (step texts concatenated without separator) follows it directly.
  """
  return f"{_PROMPT_HEAD}{question}{_PROMPT_TAIL}"


def split_prompt(text: str) -> tuple[str, str]:
  """Inverse of `policy_prompt(question) + solution`: returns (question, solution)."""
  if not text.startswith(_PROMPT_HEAD) or _PROMPT_TAIL not in text:
    raise ValueError(f"not a policy prompt: {text[:80]!r}")
  question, solution = text[len(_PROMPT_HEAD) :].split(_PROMPT_TAIL, 1)
  return question, solution


def output_block(stdout: str) -> str:
  """The executor's output as appended after `<end_of_code>`.

  Like every generated step after the first, the block starts on a new line; surrounding
  whitespace of the output is dropped (`print(18)` gives `\n<output>18<end_of_output>`).
  """
  return f"\n{OUTPUT}{stdout.strip()}{END_OF_OUTPUT}"
