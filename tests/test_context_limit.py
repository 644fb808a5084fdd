"""The context limit ends a branch, never a search: a real tiny Engine and Scorer with a 128-token
context, and first steps scripted long enough that the partial solution fills it."""

import pytest
from tiny_tokenizer import tiny_engine_and_scorer

from rstar_jax.data.problems import Problem
from rstar_jax.domains import base as domain_base
from rstar_jax.format import prompts
from rstar_jax.inference import EngineConfig
from rstar_jax.inference import ScorerConfig
from rstar_jax.sandbox import SandboxPool
from rstar_jax.search import extract
from rstar_jax.search import run
from rstar_jax.search import scripted
from rstar_jax.search.config import SearchConfig

CONTEXT = 128
STEP_TOKENS = 12
PROBLEMS = [
  Problem(f"p{i}", f"Tom has {i} apples and buys 5 more. How many apples now?", str(i + 5))
  for i in range(3)
]


def _code_step(words: int) -> str:
  return f"{prompts.CODE}\n# {'apples ' * words}\nx = 1\n{prompts.END_OF_STEP}"


def _step_leaving(tok, question: str, room: int) -> str:
  """The longest padded code step after which at most `room` tokens of context are left."""
  root = prompts.policy_prompt(question)
  words = 0
  while len(tok.encode(root + _code_step(words + 1))) <= CONTEXT - room:
    words += 1
  return _code_step(words)


class _LongFirstSteps:
  """The real engine, except that one question's first steps come from a script."""

  def __init__(self, engine, question: str, first_steps: list[str]):
    self.engine, self.question = engine, question
    self.script = scripted.ScriptedPolicy({"": first_steps})

  def expand(self, prompt_texts, n, sampling):
    own = [prompts.split_prompt(t) == (self.question, "") for t in prompt_texts]
    real = iter(self.engine.expand([t for t, o in zip(prompt_texts, own) if not o], n, sampling))
    return [
      self.script.expand([t], n, sampling)[0] if o else next(real)
      for t, o in zip(prompt_texts, own)
    ]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
  return tiny_engine_and_scorer(
    tmp_path_factory.mktemp("policy"),
    EngineConfig(max_seq_len=CONTEXT, decode_chunk=8),
    ScorerConfig(max_seq_len=CONTEXT),
  )


def test_a_partial_solution_at_the_context_limit_ends_its_branch(models, tmp_path):
  engine, scorer, tok = models
  question = PROBLEMS[0].question
  root = prompts.policy_prompt(question)
  overlong = _code_step(CONTEXT)  # the partial solution is past the context
  near_full = _step_leaving(tok, question, 4)  # a few tokens left, fewer than a step may take
  assert len(tok.encode(root + overlong)) > CONTEXT > len(tok.encode(root))
  assert 0 < CONTEXT - len(tok.encode(root + near_full)) < STEP_TOKENS
  cfg = SearchConfig(
    mode="ppm",
    rollouts=3,
    num_candidates=2,
    max_depth=4,
    step_max_tokens=STEP_TOKENS,
    temperature=1.0,
    batch_size=2,
  )
  policy = _LongFirstSteps(engine, question, [overlong, near_full])
  with SandboxPool(num_workers=2) as pool:
    summary = run.run_search(PROBLEMS, policy, scorer, pool, cfg, tmp_path, progress=False)
  assert summary.searched == 3 and run.finished_ids(tmp_path) == {"p0", "p1", "p2"}
  trees = {t.problem_id: t for t in extract.load_trees(tmp_path / run.TREE_DIR)}
  tree = trees["p0"]
  full, near = tree.children(tree.root)
  assert (full.text, near.text) == (overlong, near_full)
  # Both long steps ran and were scored (the overlong one on its last CONTEXT tokens).
  assert all(n.invalid is None and n.ppm is not None for n in (full, near))
  # No room at all: the engine's empty 'context' candidates become one invalid terminal.
  (empty,) = tree.children(full)
  assert (empty.text, empty.stop_reason, empty.invalid) == (
    "",
    "context",
    domain_base.INVALID_CONTEXT,
  )
  # Some room: a step that did not end in it was cut by the context, not by its budget.
  after_near = tree.children(near)
  assert all(c.stop_reason in ("context", "stop", "eos") for c in after_near)
  cut = [c for c in after_near if c.stop_reason == "context"]
  assert cut and all(c.text for c in cut)
  for child in [empty, *cut]:
    assert child.terminal and child.invalid == domain_base.INVALID_CONTEXT
    assert (child.visits, child.value_sum) == (1, -1.0)  # valued locally, like other invalids
  assert full.terminal and near.terminal  # every child is terminal
  for other in ("p1", "p2"):
    assert trees[other].root.children
    assert all(c.stop_reason in ("stop", "eos", "length") for c in trees[other].nodes[1:])
