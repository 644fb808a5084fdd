"""A self-contained HTML page showing one problem's search tree, for people to inspect.

Nested `<details>` elements (no scripts, no external assets): each node shows its step, N, Q,
PPM value, code output and, for terminals, the answer and whether it was correct.

  python -m rstar_jax.search.viewer --trees=OUT/trees --problem_id=gsm8k-12 --out=tree.html
"""

import argparse
from collections.abc import Sequence
import html
import pathlib

from rstar_jax.search import extract
from rstar_jax.search import tree as tree_lib

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
details{margin:.2em 0 .2em 1.2em;border-left:2px solid #ddd;padding-left:.5em}
summary{cursor:pointer;font-family:monospace;white-space:pre}
pre{background:#f6f6f6;padding:.4em;margin:.2em 0;white-space:pre-wrap}
.out{background:#eef4ff}.err{background:#fde8e8}
.correct>summary{color:#0a7a2f;font-weight:bold}.wrong>summary{color:#b3261e;font-weight:bold}
.invalid>summary{color:#8a5a00}.legend span{margin-right:1.5em}
"""


def _fmt(x: float | None) -> str:
  return "–" if x is None else f"{x:+.3f}"


def _node_class(node: tree_lib.Node) -> str:
  if not node.terminal or node.children:
    return ""
  if node.invalid is not None:
    return "invalid"
  return {True: "correct", False: "wrong"}.get(node.correct, "")


def _summary(node: tree_lib.Node) -> str:
  parts = [
    f"#{node.index}",
    f"d={node.depth}",
    f"N={node.visits}",
    f"Q={_fmt(node.q)}",
    f"PPM={_fmt(node.ppm)}",
  ]
  if node.terminal and not node.children:
    if node.invalid is not None:
      parts.append(f"INVALID ({node.invalid})")
    else:
      verdict = {True: "✓ correct", False: "✗ wrong"}.get(node.correct, "unjudged")
      parts.append(f"answer={node.answer!r} {verdict}")
  first_line = node.text.strip().splitlines()[-1:] if node.text.strip() else []
  if first_line:
    parts.append("│ " + first_line[0][:80])
  return html.escape("  ".join(parts))


def _render(tree: tree_lib.Tree, node: tree_lib.Node, out: list[str]) -> None:
  cls = _node_class(node)
  out.append(f'<details open class="{cls}"><summary>{_summary(node)}</summary>')
  if node.text:
    out.append(f"<pre>{html.escape(node.text)}</pre>")
  if node.output is not None:
    kind = "err" if node.code_error else "out"
    out.append(
      f'<pre class="{kind}">{"error" if node.code_error else "output"}: '
      f"{html.escape(node.output)}</pre>"
    )
  for child in tree.children(node):
    _render(tree, child, out)
  out.append("</details>")


def render_html(tree: tree_lib.Tree) -> str:
  """The whole page for one tree."""
  terminals = tree.terminals()
  good = sum(bool(n.correct) for n in terminals)
  out = [
    "<!DOCTYPE html><html><head><meta charset='utf-8'>",
    f"<title>{html.escape(tree.problem_id)}</title><style>{_STYLE}</style></head><body>",
    f"<h2>Problem {html.escape(tree.problem_id)}</h2>",
    f"<pre>{html.escape(tree.question)}</pre>",
    f"<p>gold answer: <b>{html.escape(str(tree.gold))}</b> · nodes: {len(tree.nodes)} · "
    f"terminals: {len(terminals)} ({good} correct) · difficulty: "
    f"{extract.difficulty(tree)}</p>",
    "<p class='legend'><span class='correct'>green: correct leaf</span>"
    "<span class='wrong'>red: wrong answer</span><span class='invalid'>brown: invalid"
    "</span></p>",
  ]
  _render(tree, tree.root, out)
  out.append("</body></html>")
  return "\n".join(out)


def write_html(tree: tree_lib.Tree, path: str | pathlib.Path) -> pathlib.Path:
  path = pathlib.Path(path)
  path.write_text(render_html(tree), encoding="utf-8")
  return path


def main(argv: Sequence[str] | None = None) -> pathlib.Path:
  parser = argparse.ArgumentParser(description="Write one search tree as an HTML page.")
  parser.add_argument("--trees", required=True, help="Directory of tree shards (trees/).")
  parser.add_argument("--problem_id", default=None, help="Problem to show (default: first).")
  parser.add_argument("--out", default="tree.html", help="Where to write the page.")
  args = parser.parse_args(argv)
  chosen = [t for t in extract.load_trees(args.trees) if args.problem_id in (None, t.problem_id)]
  if not chosen:
    parser.error(f"problem {args.problem_id!r} not found in {args.trees}")
  return write_html(chosen[0], args.out)


if __name__ == "__main__":
  print(main())
