"""The world's process set: step labels by value, node-shaped steps, the build, its JSONL file."""

import json

import pytest

from rstar_jax import domains
from rstar_jax.data.problems import Problem
from rstar_jax.evaluation import process_bench
from rstar_jax.format import prompts
from rstar_jax.format.program import assemble_program
from rstar_jax.sandbox import SandboxPool
from rstar_jax.search import expand
from rstar_jax.search import scripted
from rstar_jax.search import steps as steps_lib
from rstar_jax.search import tree as tree_lib
from rstar_jax.world import generator
from rstar_jax.world import process_set
from rstar_jax.world import teacher
from rstar_jax.world.generator import Op

PROBLEMS = generator.generate("heldout", 200, seed=3)


def world_problem(start: int, ops: list[Op], sentences: list[str]) -> generator.WorldProblem:
  value = start
  for op in ops:
    value = op.apply(value)
  opener = f"Tom has {start} marbles."
  question = " ".join([opener, *sentences, "How many marbles does Tom have now?"])
  return generator.WorldProblem(
    Problem(id="hand", question=question, answer=str(value)),
    name="Tom",
    item="marbles",
    var="marbles",
    start=start,
    ops=tuple(ops),
    sentences=(opener, *sentences),
  )


# 12 → 20 → 5 → 6 → 4; the second sentence has a comma of its own.
HAND = world_problem(
  12,
  [Op("add", 8), Op("div", 4), Op("pct_more", 20), Op("sub", 2)],
  [
    "Then Tom buys 8 more.",
    "Tom shares them equally among 4 people, keeping one share.",
    "Tom gets 20% more marbles.",
    "Tom loses 2 of them.",
  ],
)


def written(problem, written_ops: dict[int, Op | None], *, boxed: str | None = None) -> str:
  """A solution in the teacher's format; `written_ops` replaces operation i with another (or
  skips it with None); printed and boxed values are computed here by hand-checked Op.apply."""
  var, value = problem.var, problem.start
  lines = [(problem.sentences[0].rstrip("."), f"{var} = {value}")]
  for i, (op, sentence) in enumerate(zip(problem.ops, problem.sentences[1:])):
    op = written_ops.get(i, op)
    if op is None:
      continue
    value = op.apply(value)
    lines.append((f"{sentence.rstrip('.')}, {op.reason()}", op.code(var)))
  body = "".join(
    f"\n# Step {n}: {comment}\n{code}\n{prompts.END_OF_STEP}"
    for n, (comment, code) in enumerate(lines, start=1)
  )
  code = f"{prompts.CODE}{body}\n# Now print the final answer\nprint({var})\n{prompts.END_OF_CODE}"
  return code + prompts.output_block(str(value)) + teacher.answer_step(boxed or str(value))


def first_error(problem, text: str) -> int:
  return process_set.first_wrong_step(problem, process_set.split_steps(text))


@pytest.mark.parametrize(
  ("written_ops", "expected"),
  [
    ({}, -1),
    ({1: Op("mul", 4)}, 2),  # Wrong operation: 20 * 4 = 80, not 5.
    ({0: Op("add", 6)}, 1),  # Wrong operand: 12 + 6 = 18, not 20.
    ({1: None}, 2),  # Missing step: the pct step then computes 20 + 4 = 24, not 6.
    ({3: None}, 4),  # Last step missing: every code step right, the print (6) is wrong.
  ],
)
def test_hand_labels_for_each_error_kind(written_ops, expected):
  text = written(HAND, written_ops)
  assert first_error(HAND, text) == expected
  assert len(process_set.split_steps(text)) == HAND.difficulty + 3 - sum(
    op is None for op in written_ops.values()
  )


def test_a_step_is_held_to_the_sentence_it_quotes_not_to_its_position():
  # 20 → 40 → 60. Skipping the doubling, the next step writes 20 + 20 = 40: the value after the
  # second operation by position, but the step quotes the third sentence, whose value is 60.
  problem = world_problem(
    20,
    [Op("mul", 2), Op("add", 20)],
    ["Then the number of marbles becomes 2 times as large.", "Tom finds 20 more marbles."],
  )
  assert first_error(problem, written(problem, {0: None})) == 1


def test_a_wrong_step_is_an_error_even_when_the_answer_comes_out_right():
  # 10 → 12 → 3; adding 3 instead gives 13, and 13 // 4 is 3 again.
  problem = world_problem(
    10,
    [Op("add", 2), Op("div", 4)],
    ["Tom finds 2 more marbles.", "Tom keeps only one quarter of the marbles."],
  )
  text = written(problem, {0: Op("add", 3)})
  assert teacher.answer_step(problem.problem.answer) in text
  assert first_error(problem, text) == 1


@pytest.mark.parametrize(
  ("start", "op", "wrong"),
  [
    (
      5,
      Op("pct_off", 10),
      Op("pct_more", 10),
    ),  # Wrong operation: 5 ± 5 * 10 // 100 is 5 both ways.
    (10, Op("div", 5), Op("div", 4)),  # Wrong operand: 10 // 4 == 10 // 5.
  ],
)
def test_a_mistake_that_changes_no_value_is_no_error(start, op, wrong):
  problem = world_problem(start, [op, Op("add", 3)], ["Something happens.", "Tom buys 3 more."])
  text = written(problem, {0: wrong})
  assert text != written(problem, {})
  assert first_error(problem, text) == -1


def test_a_wrong_boxed_answer_is_the_first_error_after_right_steps():
  text = written(HAND, {}, boxed="5")
  assert first_error(HAND, text) == HAND.difficulty + 2


def test_split_steps_gives_search_nodes():
  text = written(HAND, {})
  steps = process_set.split_steps(text)
  assert "".join(steps) == text
  # The prompt ends before `<code>`, so the first generated step opens it (as in search).
  assert steps[0].startswith(prompts.CODE + "\n# Step 1: ")
  assert not prompts.policy_prompt(HAND.problem.question).endswith(prompts.CODE)
  assert all(s.endswith(prompts.END_OF_STEP) for s in steps[:-2])
  assert steps[-2].endswith(prompts.END_OF_CODE + prompts.output_block("4"))
  assert steps[-1] == teacher.answer_step("4")
  assert process_set.split_steps("") == ()
  with pytest.raises(ValueError, match="unterminated step"):
    process_set.split_steps(text + "\n# Step 9: more")
  with pytest.raises(ValueError, match="unterminated output"):
    process_set.split_steps(text.split(prompts.END_OF_OUTPUT)[0])


def test_reference_examples_are_right_and_have_one_node_per_step():
  examples = process_set.build_process_set(PROBLEMS[:40], seed=0, error_fraction=0.0)
  for problem, example in zip(PROBLEMS, examples):
    assert example.first_error == -1
    assert example.problem_id == problem.problem.id and example.question == problem.problem.question
    assert example.difficulty == problem.difficulty
    assert len(example.steps) == problem.difficulty + 3
    assert example.steps[-1] == teacher.answer_step(problem.problem.answer)
    assert process_set.split_steps("".join(example.steps)) == example.steps


def test_build_is_deterministic_in_seed_and_near_the_error_fraction():
  examples = process_set.build_process_set(PROBLEMS, seed=1)
  assert examples == process_set.build_process_set(PROBLEMS, seed=1)
  assert examples != process_set.build_process_set(PROBLEMS, seed=2)
  flawed = [e for e in examples if e.first_error >= 0]
  # 100 solutions get an error; one that changes no value (rare) leaves its example correct.
  assert 92 <= len(flawed) <= 100
  by_id = {p.problem.id: p for p in PROBLEMS}
  for e in examples:
    gold_box = teacher.answer_step(by_id[e.problem_id].problem.answer)
    if e.first_error < 0:
      assert e.steps[-1] == gold_box
  # Errors land on every operation's step, never on the opener.
  assert {e.first_error for e in flawed} >= {1, 2, 3, 4, 5}
  assert all(e.first_error >= 1 for e in flawed)


def test_an_always_correct_teacher_cannot_make_errors():
  with pytest.raises(ValueError, match="first error"):
    process_set.build_process_set(PROBLEMS[:2], seed=0, error_fraction=1.0, teacher=teacher.PERFECT)
  with pytest.raises(ValueError, match="error_fraction"):
    process_set.build_process_set(PROBLEMS[:2], seed=0, error_fraction=1.5)


@pytest.fixture(scope="module")
def pool():
  with SandboxPool(num_workers=1) as p:
    yield p


def test_labels_and_nodes_agree_with_execution_and_search(pool):
  """The labeller's values are what the sandbox prints, and the steps are the nodes (and the
  prefixes the texts) a search would build from them."""
  examples = process_set.build_process_set(PROBLEMS[:8], seed=4, error_fraction=0.75)
  assert any(e.first_error >= 0 for e in examples) and any(e.first_error < 0 for e in examples)
  by_id = {p.problem.id: p for p in PROBLEMS}
  programs, claims = [], []
  for e in examples:
    problem = by_id[e.problem_id]
    checks = process_set.step_checks(problem, e.steps)
    for i in range(len(e.steps) - 1):  # The answer step is text, not code.
      programs.append(assemble_program("".join(e.steps[: i + 1])) + f"print({problem.var})\n")
      claims.append(checks[i][0])
  results = pool.run_many(programs)
  # The last line printed is the quantity (the print step's own print comes before it).
  assert [r.stdout.split()[-1] for r in results] == claims

  domain = domains.MATH
  for e in examples:
    tree = tree_lib.Tree(e.problem_id, e.question, by_id[e.problem_id].problem.answer)
    node = tree.root
    for step in e.steps:
      head, end_of_code, _ = step.partition(prompts.END_OF_CODE)  # The policy stops there.
      generated = head + end_of_code
      draft = domain.classify(tree.gold, tree.solution(node), scripted.make_candidate(generated))
      result = pool.run_many([draft.program])[0] if draft.program is not None else None
      fields = steps_lib.child_fields(draft, result, node, domain, max_code_errors=3, max_depth=50)
      node = tree.add_child(node, **fields)
      assert node.text == step and node.invalid is None
    assert node.terminal
    prefixes = process_bench.prefix_texts(e, domain.prompt)
    assert prefixes == [expand.prompt_text(tree, n, domain) for n in tree.path(node)]


def test_jsonl_round_trip_and_bad_lines(tmp_path):
  examples = process_set.build_process_set(PROBLEMS[:6], seed=0)
  path = tmp_path / "process.jsonl"
  process_set.write_process_set(path, examples)
  assert process_set.read_process_set(path) == examples
  good = path.read_text(encoding="utf-8").splitlines()[0]
  record = json.loads(good)
  cases = [
    ("{not json", "malformed JSON"),
    ("[1, 2]", "expected a JSON object"),
    (json.dumps({k: v for k, v in record.items() if k != "question"}), "missing field 'question'"),
    (json.dumps({**record, "steps": ["a", 3]}), "'steps'"),
    (json.dumps({**record, "first_error": len(record["steps"])}), "'first_error'"),
    (json.dumps({**record, "difficulty": "4"}), "'difficulty'"),
  ]
  for line, message in cases:
    path.write_text(f"{good}\n\n{line}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=message) as caught:
      process_set.read_process_set(path)
    assert f"{path}:3" in str(caught.value)
