"""The HTML tree viewer shows steps, statistics, outputs and verdicts, escaped."""

from rstar_jax.data import records
from rstar_jax.search import tree as tree_lib
from rstar_jax.search import viewer


def _tree():
  tree = tree_lib.Tree("p<1>", "Is 1 < 2?", "1")
  step = tree.add_child(
    tree.root, text="<code>\nx = 1 < 2\n<end_of_step>", visits=2, value_sum=0.0, ppm=0.25, output=""
  )
  tree.add_child(
    step,
    text="<answer>\\boxed{1}<end_of_answer>",
    visits=1,
    value_sum=1.0,
    terminal=True,
    answer="1",
    correct=True,
  )
  tree.add_child(
    step,
    text="\nprint(y)\n<end_of_code>",
    visits=1,
    value_sum=-1.0,
    terminal=True,
    invalid="code_errors",
    code_error=True,
    output="NameError: name 'y' is not defined",
  )
  tree.root.visits = 2
  return tree


def test_render_html():
  page = viewer.render_html(_tree())
  assert page.startswith("<!DOCTYPE html>") and page.endswith("</html>")
  assert "&lt;code&gt;" in page and "<code>" not in page  # step markers are escaped
  assert "p&lt;1&gt;" in page and "Is 1 &lt; 2?" in page
  assert "N=2" in page and "Q=+0.000" in page and "PPM=+0.250" in page
  assert "✓ correct" in page and "INVALID (code_errors)" in page
  assert "NameError" in page and 'class="err"' in page
  assert page.count("<details") == page.count("</details>") == 4
  assert "<script" not in page and "http" not in page  # self-contained


def test_cli_writes_page(tmp_path):
  records.ShardSequence(tmp_path / "trees", "trees").append([_tree().to_dict()])
  out = viewer.main(["--trees", str(tmp_path / "trees"), "--out", str(tmp_path / "t.html")])
  assert out.read_text().count("<details") == 4
