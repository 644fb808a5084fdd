"""The contamination report of a training problem file against a folder of evaluation sets.

  python -m launch.contamination --train=../shared/data/benchmarks/gsm8k_train.jsonl \
      --benchmarks=../shared/data/benchmarks --out=reports/gsm8k_train

Writes contamination.json and contamination.md into --out and prints the Markdown; the rule
(word 13-grams of the question texts, as GPT-3's decontamination) is in
`rstar_jax/data/contamination.py`. A self-evolution run writes the same report into its run
directory before round 1 (`config.problems.benchmarks_dir`).
"""

from absl import app
from absl import flags

from rstar_jax.data import contamination
from rstar_jax.data import sources

_TRAIN = flags.DEFINE_string("train", None, "JSONL of training problems.", required=True)
_BENCHMARKS = flags.DEFINE_string(
  "benchmarks", None, "Folder of evaluation sets (*.jsonl; *_train files skipped).", required=True
)
_OUT = flags.DEFINE_string("out", None, "Output directory.", required=True)
_NGRAM = flags.DEFINE_integer("ngram", contamination.NGRAM, "Words per n-gram.")
_LIMIT = flags.DEFINE_integer("limit", 0, "Check only the first N training problems (0: all).")
_EXAMPLES = flags.DEFINE_integer(
  "examples", contamination.EXAMPLES, "Closest pairs listed per evaluation set."
)


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  sets = contamination.load_eval_sets(_BENCHMARKS.value, exclude=[_TRAIN.value])
  report = contamination.check(
    sources.load_problem_file(_TRAIN.value, _LIMIT.value),
    contamination.Index(sets, _NGRAM.value),
    examples=_EXAMPLES.value,
    source=_TRAIN.value,
  )
  contamination.write_report(report, _OUT.value)
  print(contamination.markdown(report), end="")


if __name__ == "__main__":
  app.run(main)
