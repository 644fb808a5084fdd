"""Every `python -m launch.…` command README.md shows is run, so the README cannot go stale.

Commands come from the README's fenced bash blocks and inline code (backslash-continued lines
joined, `a|b` flag values expanded into one command each); an inline `--config…` option is
shown for `launch.self_evolve` and runs with it. No command does real work here:
- `launch.self_evolve` runs with `--check_only` (config conversion and the run's preflight): it
  must print `config ok`, unless the command names input paths that do not exist here (the GPU
  pod's /ckpt/…, /data/…), whose refusal must name each such field and path;
- other launchers need a finished run, so their command line is parsed by the launcher's own
  flags (unknown flags, bad values, missing required flags fail) and `--help` runs as is.
No command may end in a traceback.
"""

import concurrent.futures
import os
import pathlib
import re
import shlex
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
README = REPO / "README.md"
_BASH_BLOCK = re.compile(r"^```bash\n(.*?)^```", re.S | re.M)
_ANY_BLOCK = re.compile(r"^```.*?^```", re.S | re.M)
_INLINE = re.compile(r"`([^`\n]+)`")
# What a launcher does up to its `app.run`, without running it: parse argv with its flags.
_PARSE_ONLY = (
  "import importlib, sys; from absl import flags; importlib.import_module(sys.argv[1]); "
  "flags.FLAGS(sys.argv[1:]); print('flags ok')"
)


def _commands_in(text: str) -> list[list[str]]:
  """The words of each `python -m launch.X …` command of `text`, from `python` on."""
  found = []
  for line in text.replace("\\\n", " ").splitlines():
    for part in re.split(r"&&|;", line):
      words = shlex.split(part)
      found += [
        words[i:]
        for i in range(len(words) - 2)
        if words[i] in ("python", "python3")
        and words[i + 1] == "-m"
        and words[i + 2].startswith("launch.")
      ]
  return found


def _expand(args: list[str]) -> list[list[str]]:
  """One command line per alternative of a `--flag=a|b|c` value."""
  for i, arg in enumerate(args):
    if arg.startswith("--") and "=" in arg and "|" in arg:
      flag, values = arg.split("=", 1)
      return [
        expanded
        for value in values.split("|")
        for expanded in _expand([*args[:i], f"{flag}={value}", *args[i + 1 :]])
      ]
  return [args]


def readme_commands() -> list[tuple[str, ...]]:
  """(module, *args) of every launcher command the README shows, each once, in README order."""
  text = README.read_text(encoding="utf-8")
  words = [w for block in _BASH_BLOCK.findall(text) for w in _commands_in(block)]
  for span in _INLINE.findall(_ANY_BLOCK.sub("", text)):
    if span.startswith("--config") and " " not in span:
      words.append(["python", "-m", "launch.self_evolve", span])
    else:
      words += _commands_in(span)
  commands = [(w[2], *args) for w in words for args in _expand(w[3:])]
  return list(dict.fromkeys(commands))


COMMANDS = readme_commands()


def _argv(command: tuple[str, ...]) -> list[str]:
  module, *args = command
  if module == "launch.self_evolve":
    return [sys.executable, "-m", module, *args, "--check_only"]
  if "--help" in args:
    return [sys.executable, "-m", module, *args]
  return [sys.executable, "-c", _PARSE_ONLY, module, *args]


def _missing_inputs(command: tuple[str, ...]) -> dict[str, str]:
  """`--config.<field>=<path>` options whose path does not exist from the repository root."""
  missing = {}
  for arg in command[1:]:
    name, _, value = arg.partition("=")
    if name.startswith("--config.") and "/" in value and not (REPO / value).exists():
      missing[name.removeprefix("--")] = value
  return missing


@pytest.fixture(scope="module")
def results() -> dict[tuple[str, ...], subprocess.CompletedProcess]:
  """Every command's outcome; the commands run side by side (each one starts JAX)."""

  def run(command):
    return subprocess.run(
      _argv(command), cwd=REPO, capture_output=True, text=True, timeout=300, check=False
    )

  with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
    return dict(zip(COMMANDS, pool.map(run, COMMANDS)))


def test_readme_shows_the_examples_this_test_runs():
  evolve = [c[1:] for c in COMMANDS if c[0] == "launch.self_evolve"]
  assert () in evolve  # The quick start.
  assert ("--config=configs/world.py:smoke",) in evolve
  assert ("--config.rounds.rollouts=32",) in evolve
  assert any("--config=configs/qwen25_math_7b.py" in c and _missing_inputs(c) for c in COMMANDS)
  assert any(c[0] != "launch.self_evolve" for c in COMMANDS)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_readme_command(command, results):
  out = results[command]
  output = out.stdout + out.stderr
  assert "Traceback" not in output, output[-3000:]
  module, *args = command
  missing = _missing_inputs(command)
  if module == "launch.self_evolve" and missing:
    assert out.returncode != 0, output[-3000:]
    lines = out.stderr.splitlines()
    for field, path in missing.items():
      assert any(f"{field}: " in line and path in line for line in lines), (field, out.stderr)
  elif module == "launch.self_evolve":
    assert out.returncode == 0 and out.stdout.splitlines()[-1] == "config ok", output[-3000:]
  elif "--help" in args:  # absl exits 1 after printing the help.
    flags_of = f"{REPO / module.replace('.', '/')}.py:"  # Heads the launcher's own flags.
    assert flags_of in out.stdout, output[-3000:]
  else:
    assert out.returncode == 0 and "flags ok" in out.stdout, output[-3000:]
  if module == "launch.benchmark":
    for arg in args:
      if arg.startswith("--suite="):
        assert (REPO / "launch" / "benchmarks" / f"{arg.partition('=')[2]}.py").is_file()
