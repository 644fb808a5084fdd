"""Search tree of code-verified steps, UCT selection and backup (DESIGN §1.2).

Selection follows the official rStar-Math semantics: Q = W / N (0 when unvisited), an unvisited
child scores 0 rather than +inf, terminal children are skipped, and a node whose children are all
terminal becomes terminal itself. Ties are broken at random, so the first choice among unvisited
(or equally scored) children is uniform.
"""

import dataclasses
import math
from typing import Any

import numpy as np


@dataclasses.dataclass(eq=False)
class Node:
  """One reasoning step. `text` is the step as generated plus any `<output>` block."""

  index: int
  parent: int | None
  depth: int
  text: str = ""
  visits: int = 0
  value_sum: float = 0.0
  terminal: bool = False
  answer: str | None = None
  correct: bool | None = None
  invalid: str | None = None
  code_error: bool = False
  consecutive_errors: int = 0
  output: str | None = None
  ppm: float | None = None
  stop_reason: str | None = None
  children: list[int] = dataclasses.field(default_factory=list)

  @property
  def q(self) -> float:
    return self.value_sum / self.visits if self.visits else 0.0

  def to_dict(self) -> dict[str, Any]:
    # Field by field: dataclasses.asdict deep-copies and is the slowest part of writing records.
    record = {name: getattr(self, name) for name in _NODE_FIELDS}
    record["children"] = list(self.children)
    return record


_NODE_FIELDS = tuple(f.name for f in dataclasses.fields(Node))


class Tree:
  """One problem's tree; node 0 is the root (the empty partial solution)."""

  def __init__(self, problem_id: str, question: str, gold: str | None):
    self.problem_id = problem_id
    self.question = question
    self.gold = gold
    self.nodes = [Node(index=0, parent=None, depth=0)]

  @property
  def root(self) -> Node:
    return self.nodes[0]

  def add_child(self, parent: Node, **fields) -> Node:
    child = Node(index=len(self.nodes), parent=parent.index, depth=parent.depth + 1, **fields)
    self.nodes.append(child)
    parent.children.append(child.index)
    return child

  def children(self, node: Node) -> list[Node]:
    return [self.nodes[i] for i in node.children]

  def path(self, node: Node) -> list[Node]:
    """Nodes from the first step down to `node` (root excluded)."""
    steps = []
    while node.parent is not None:
      steps.append(node)
      node = self.nodes[node.parent]
    return steps[::-1]

  def solution(self, node: Node) -> str:
    """The partial solution ending at `node`: step texts concatenated without separator."""
    return "".join(n.text for n in self.path(node))

  def backup(self, node: Node, value: float) -> None:
    """Adds `value` to W and 1 to N on `node` and every ancestor up to the root."""
    current: Node | None = node
    while current is not None:
      current.visits += 1
      current.value_sum += value
      current = self.nodes[current.parent] if current.parent is not None else None

  def terminals(self) -> list[Node]:
    return [n for n in self.nodes if n.terminal and n.parent is not None and not n.children]

  def to_dict(self) -> dict[str, Any]:
    return {
      "problem_id": self.problem_id,
      "question": self.question,
      "gold": self.gold,
      "nodes": [n.to_dict() for n in self.nodes],
    }

  @classmethod
  def from_dict(cls, record: dict[str, Any]) -> "Tree":
    tree = cls(record["problem_id"], record["question"], record.get("gold"))
    tree.nodes = [Node(**n) for n in record["nodes"]]
    for i, n in enumerate(tree.nodes):
      if n.index != i:
        raise ValueError(f"tree {record['problem_id']}: node {i} has index {n.index}")
    return tree


def set_local_value(node: Node, value: float) -> None:
  """N = 1, W = value on the node alone (PPM initialisation, invalid terminals)."""
  node.visits, node.value_sum = 1, value


def uct(child: Node, parent: Node, c: float) -> float:
  """Q(s) + c·sqrt(ln N(parent) / N(s)); the exploration term is 0 while either is unvisited."""
  if child.visits == 0 or parent.visits == 0:
    return child.q
  return child.q + c * math.sqrt(math.log(parent.visits) / child.visits)


def select_child(tree: Tree, node: Node, c: float, rng: np.random.Generator) -> Node | None:
  """The best non-terminal child by UCT (random among ties), or None if there is none."""
  best: list[Node] = []
  best_score = -math.inf
  for child in tree.children(node):
    if child.terminal:
      continue
    score = uct(child, node, c)
    if score > best_score:
      best, best_score = [child], score
    elif score == best_score:
      best.append(child)
  if not best:
    return None
  return best[int(rng.integers(len(best)))] if len(best) > 1 else best[0]


def select_leaf(tree: Tree, c: float, rng: np.random.Generator) -> Node | None:
  """Descends from the root to a node without children, or None if the tree is exhausted.

  A node met on the way whose children are all terminal becomes terminal, and the descent starts
  again from the root; each restart marks one more node terminal, so this terminates.
  """
  node = tree.root
  while not tree.root.terminal:
    if not node.children:
      return node
    child = select_child(tree, node, c, rng)
    if child is None:
      node.terminal = True
      node = tree.root
    else:
      node = child
  return None
