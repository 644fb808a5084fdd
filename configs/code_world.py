"""The built-in code world on CPU: self-evolution on code generation checked by unit tests.

The math world's loop and budgets (configs/world.py) in the code domain: a tiny Qwen2-architecture
policy pre-trained on an imperfect teacher's step-by-step solutions of generated list-function
tasks (1 to 5 pipeline stages, HumanEval-style prompts with two visible examples) evolves over 4
rounds; a terminal's reward is the hidden tests passing in the sandbox, and votes group
submissions by their behaviour on the visible tests' inputs (docs/domains.md).

  --config=configs/code_world.py          the default run
  --config=configs/code_world.py:smoke    every stage and trainer on a handful of tasks (CI test)
"""

import ml_collections

from configs import world


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  c = world.get_config(arg)
  c.domain = "code"
  c.name = "code_world_smoke" if arg == "smoke" else "code_world"
  c.run_dir = f"runs/{c.name}"
  # The teacher's steps are longer than the math world's (a step writes a comment and a line of
  # code; the first also the `def`): up to 127 tokens, whole solutions up to about 400.
  c.search.step_max_tokens = c.eval.step_max_tokens = 160
  c.world.bootstrap.eval_step_max_tokens = 160
  c.world.bootstrap.max_len = 512
  if arg == "smoke":
    # The smoke's policy memorises the teacher's right and wrong programs; sampled at 0.7, one
    # CPU's floats gave round 1 no task with both a right and a wrong answer, so no PPM pairs.
    # At 1.0 both kinds came out there, at both XLA optimisation levels (test_evolution_e2e).
    c.search.temperature = 1.0
  else:
    # Its solutions are about twice as long as the math world's, so a pre-training step costs
    # about twice as much: 500 steps (3200 solutions, 2.5 epochs) keep the build near 7 minutes
    # (the math world's 1,200 steps take about 12 in plain shuffled batches).
    c.world.bootstrap.num_teacher_problems = 3200
    c.world.bootstrap.epochs = 2.5
    c.world.bootstrap.group_by_length = 0  # Length grouping was validated on the math world only.
  return c
