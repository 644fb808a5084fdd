"""Every import goes down the stack (docs/architecture.md, "Layers").

`LAYERS` is the one declaration of the stack, lowest floor first. A package may import from its
own package and from any package on a lower floor, never from a package on its own floor or
above. `configs/` and `launch/` sit on top of everything; the library never imports them.
Function-local imports count too, and each must say why it is not at the top of its module.
"""

import ast
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
LIBRARY = "rstar_jax"
LAYERS: tuple[tuple[str, ...], ...] = (
  ("runtime",),  # host memory, process sync, atomic files, the mesh builder
  ("format", "grading", "models"),  # the step format, answer grading, the model family
  ("hf", "data", "sandbox"),  # HF import/export, problems and datasets, code execution
  ("inference", "domains"),  # the engine and scorer; the problem domains
  ("search", "training"),  # MCTS and extraction; the trainers
  ("evaluation",),  # greedy, maj@k, best-of-N, N-run search with voting
  ("world",),  # the built-in world
  ("evolution",),  # rounds, stages, the run config
)
TOP = ("configs", "launch")
FLOOR = {package: floor for floor, packages in enumerate(LAYERS) for package in packages}


def _package_of(module: str) -> str | None:
  """The floor-owning package of a dotted module name (None: not ours)."""
  parts = module.split(".")
  if parts[0] in TOP:
    return parts[0]
  if parts[0] != LIBRARY:
    return None
  return parts[1] if len(parts) > 1 else LIBRARY


def _imports(path: pathlib.Path) -> list[tuple[int, str, bool]]:
  """(line, imported module, is_top_level) for every import statement of the file."""
  tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
  top_level = {id(node) for node in tree.body}
  found = []
  for node in ast.walk(tree):
    names = []
    if isinstance(node, ast.Import):
      names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
      names = [f"{node.module}.{alias.name}" for alias in node.names]
    if names:
      found += [(node.lineno, name, id(node) in top_level) for name in names]
  return found


def upward_imports(root: pathlib.Path = REPO) -> list[str]:
  """Every import in rstar_jax/ that goes sideways or up the stack, as 'file:line: a -> b'."""
  bad = []
  for path in sorted((root / LIBRARY).rglob("*.py")):
    rel = path.relative_to(root)
    importer = _package_of(".".join(rel.with_suffix("").parts))
    for line, module, _ in _imports(path):
      imported = _package_of(module)
      if imported in (None, importer, LIBRARY) or importer == LIBRARY:
        continue
      if (
        imported in TOP
        or importer not in FLOOR
        or imported not in FLOOR
        or FLOOR[imported] >= FLOOR[importer]
      ):
        bad.append(f"{rel}:{line}: {importer} -> {imported} ({module})")
  return sorted(set(bad))


def test_every_package_has_a_floor():
  packages = {p.name for p in (REPO / LIBRARY).iterdir() if (p / "__init__.py").is_file()}
  assert packages == set(FLOOR), f"declare each package's floor in LAYERS: {packages ^ set(FLOOR)}"


def test_imports_only_go_down_the_stack():
  assert upward_imports() == []


def test_planted_upward_import_is_caught(tmp_path):
  for package in FLOOR:
    (tmp_path / LIBRARY / package).mkdir(parents=True)
  (tmp_path / LIBRARY / "models" / "bad.py").write_text(
    "import os\n\ndef f():\n  from rstar_jax.search import mcts\n  return mcts\n"
  )
  (tmp_path / LIBRARY / "search" / "sideways.py").write_text("from rstar_jax import training\n")
  (tmp_path / LIBRARY / "world" / "down.py").write_text("from rstar_jax.evaluation import voting\n")
  assert [b.split(": ", 1)[1] for b in upward_imports(tmp_path)] == [
    "models -> search (rstar_jax.search.mcts)",
    "search -> training (rstar_jax.training)",
  ]


@pytest.mark.parametrize("folder", [LIBRARY, *TOP])
def test_function_local_imports_say_why(folder):
  """A function-local import must carry a comment naming the cycle or heavy dependency."""
  unexplained = []
  for path in sorted((REPO / folder).rglob("*.py")):
    lines = path.read_text(encoding="utf-8").splitlines()
    for line, module, top_level in _imports(path):
      if not top_level and "# local import:" not in lines[line - 1]:
        unexplained.append(f"{path.relative_to(REPO)}:{line}: {module}")
  assert sorted(set(unexplained)) == []
