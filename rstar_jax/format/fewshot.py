"""The official round-1 prompt: format instructions, two worked examples, then the question.

The paper bootstraps round 1 with a strong general model (DeepSeek-Coder-V2-Instruct) that has
never seen the step format; the official code teaches it the format with this 2-shot prompt
(`config/sample_mcts.yaml`: `num_few_shot: 2`, `prompt_path: mcts_prompt.json`), assembled by
`rstar_prompt_wrap` (`rstar_deepthink/agents/utils.py`). The text is the official data:
`rstar_deepthink/few_shots/mcts_prompt.json` and `few_shots.json`.

Only the model that samples sees this prompt: search trees, training data and the PPM keep the
plain `prompts.policy_prompt`, as the official SFT and RM data builders do.
"""

from typing import Final

from rstar_jax.format import prompts

PLAIN: Final = "plain"
OFFICIAL_FEWSHOT: Final = "official_fewshot"
STYLES: Final = (PLAIN, OFFICIAL_FEWSHOT)

INSTRUCTIONS: Final = (
  "You are a powerful agent with broad math knowledge and great python programming "
  "skills. You need to use python interpreter to do accurate calculation on math equations.\n"
  "\n"
  "!!! Remember:\n"
  "1. Use code solve the problem step by step. The solution should include three parts: "
  "<code>, <output>, and <answer>.\n"
  "2. All calculations should be done in python code. Provide concise reasoning and "
  "thinking in the comments of the code.\n"
  "3. The most related python packages include `math`, `sympy`, `scipy`, and `numpy`.\n"
  "4. Please use the following template:\n"
  "\n"
  "Question: the input question\n"
  "<code>Construct the code step by step. Use <end_of_step> to indicate the end of each "
  "step. Ensure your code can execute correctly(excluding <end_of_step>) and print the "
  "answer. Avoid undefined variables (NameError), unimported packages, or formatting "
  "errors (SyntaxError, TypeError). In the last step of the code, print the final "
  "answer and add a comment: Now print the final answer.<end_of_code>\n"
  "<output>Execute the code in using the Python interpreter and display the printed "
  "results.<end_of_output>\n"
  "<answer>The concise answer without verbose context, put your final answer's "
  "numerical part (without unit, only focus on the numerical part if it's a choice "
  "question) in \\boxed{}.<end_of_answer>"
)

# In the official file's order; the official code draws them with `random.sample` on every
# prompt, so its order varies from call to call. A fixed order keeps one prefix per question.
EXAMPLES: Final = (
  (
    "Question: Terrell usually lifts two 20-pound weights 12 times. If he uses two "
    "15-pound weights instead, how many times must Terrell lift them in order to lift the "
    "same total weight?\n"
    "<code>\n"
    "# Step 1: Calculate the total weight lifted with two 20-pound weights\n"
    "total_weight_20 = 2 * 20 * 12\n"
    "<end_of_step>\n"
    "\n"
    "# Step 2: Calculate the weight lifted per repetition with two 15-pound weights\n"
    "weight_per_rep_15 = 2 * 15\n"
    "<end_of_step>\n"
    "\n"
    "# Step 3: Calculate the number of repetitions needed to lift the same total weight "
    "with two 15-pound weights\n"
    "reps_needed = total_weight_20 / weight_per_rep_15\n"
    "<end_of_step>\n"
    "\n"
    "# Now print the final answer\n"
    "print(reps_needed)\n"
    "<end_of_code>\n"
    "<output>16.0<end_of_output><answer>From the result, we can see that Terrell must "
    "lift the 15-pound weights \\boxed{16} times to lift the same total weight.\n"
    "<end_of_answer>"
  ),
  (
    "Question: Find the value of $x$ that satisfies "
    "$\\frac{\\sqrt{3x+5}}{\\sqrt{6x+5}}=\\frac{\\sqrt{5}}{3}$. Express your answer as a "
    "common fraction.\n"
    "<code>\n"
    "from sympy import symbols, Eq, solve, sqrt\n"
    "\n"
    "# Define the variable x\n"
    "x = symbols('x')\n"
    "<end_of_step>\n"
    "\n"
    "# Define the equation\n"
    "equation = Eq(sqrt(3*x + 5) / sqrt(6*x + 5), sqrt(5) / 3)\n"
    "<end_of_step>\n"
    "\n"
    "# Solve the equation for x\n"
    "solution = solve(equation, x)\n"
    "<end_of_step>\n"
    "\n"
    "# Now print the final answer\n"
    "print(solution)\n"
    "<end_of_code>\n"
    "<output>\n"
    "[20/3]\n"
    "<end_of_output><answer>From the result, we can see that the value of x is "
    "\\boxed{\\frac{20}{3}}\n"
    "<end_of_answer>"
  ),
)


def fewshot_prompt(question: str) -> str:
  """The official 2-shot prompt for `question`; the partial solution follows it directly.

  The official code joins instructions, header and examples with the step delimiter "\\n" and a
  trailing "", joins that with the suffix `Now! It's your turn.\\nQuestion: {input}`, and its
  `input` is the question plus the delimiter.
  """
  header = f"The following are {len(EXAMPLES)} demonstration examples."
  turn = f"Now! It's your turn.\nQuestion: {question}\n"
  return "\n".join([INSTRUCTIONS, header, *EXAMPLES, "", turn])


def restyle(text: str, style: str) -> str:
  """`policy_prompt(question) + solution` as a model prompted in `style` sees it."""
  if style == PLAIN:
    return text
  if style != OFFICIAL_FEWSHOT:
    raise ValueError(f"prompt style {style!r}; expected one of {STYLES}")
  question, solution = prompts.split_prompt(text)
  return fewshot_prompt(question) + solution
