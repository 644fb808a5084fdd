"""rstar_jax.format: the step format of code-augmented CoT (DESIGN §1.1).

The ground floor every other package agrees on: the markers and prompt template (`prompts`), the
program a partial solution stands for (`program`) and the rule that makes a step an answer
(`answer`). Pure text, no dependencies.
"""
