"""Paired bootstrap intervals, the paper's claims with their verdicts, held-out PPM pairs, the
report's claim / level sections and the tables over seeds."""

import json
import subprocess
import sys

from child_env import child_env
import numpy as np
import pytest

from rstar_jax.evaluation import claims
from rstar_jax.evaluation import harness
from rstar_jax.evaluation import heldout_pairs
from rstar_jax.evaluation import report
from rstar_jax.evaluation import stats
from rstar_jax.evolution.layout import RunLayout
from rstar_jax.search import tree as tree_lib


def _rows(correct_by_method, levels=None):
  """Harness rows: `correct_by_method[m]` lists each problem's 0/1 verdict."""
  n = len(next(iter(correct_by_method.values())))
  return [
    {
      "id": f"p{i}",
      "gold": "1",
      "answers": {
        m: {"answer": "1", "correct": bool(v[i])}
        for m, v in correct_by_method.items()
        if i < len(v)
      },
      **({"level": levels[i]} if levels else {}),
    }
    for i in range(n)
  ]


def test_paired_bootstrap_matches_the_normal_approximation_and_is_seeded():
  rng = np.random.default_rng(3)
  a = rng.random(400) < 0.6
  b = rng.random(400) < 0.5
  d = stats.mean_difference(a, b)
  diff = (a.astype(float) - b).mean()
  se = (a.astype(float) - b).std(ddof=1) / np.sqrt(400)
  assert d.n == 400 and d.diff == pytest.approx(diff)
  assert d.lo == pytest.approx(diff - 1.96 * se, abs=0.01)
  assert d.hi == pytest.approx(diff + 1.96 * se, abs=0.01)
  assert stats.mean_difference(a, b) == d  # Same seed, same interval.


def test_paired_bootstrap_at_another_level_matches_its_normal_quantile():
  rng = np.random.default_rng(4)
  a, b = rng.random(400) < 0.6, rng.random(400) < 0.5
  d95, d99 = stats.mean_difference(a, b), stats.mean_difference(a, b, level=0.9875)
  se = (a.astype(float) - b).std(ddof=1) / np.sqrt(400)
  assert d99.diff == d95.diff and d99.lo < d95.lo and d99.hi > d95.hi
  assert d99.hi - d99.lo == pytest.approx(2 * 2.4977 * se, abs=0.01)  # z of 1 - 0.0125 / 2.
  with pytest.raises(ValueError, match="level"):
    stats.mean_difference(a, b, level=1.0)


def test_pairing_narrows_the_interval_of_correlated_methods():
  rng = np.random.default_rng(0)
  a = rng.random(300) < 0.5
  b = a.copy()
  b[:15] = ~b[:15] & False  # b = a except 15 problems a solves and b does not (where a did).
  d = stats.mean_difference(a, b)
  assert d.lo > 0  # An unpaired comparison of ~50% vs ~48% on 300 problems could not tell.
  lo_a, _ = stats.wilson_interval(int(a.sum()), 300)
  _, hi_b = stats.wilson_interval(int(b.sum()), 300)
  assert lo_a < hi_b


def test_paired_bootstrap_refuses_bad_inputs():
  with pytest.raises(ValueError, match="equal 1-d"):
    stats.mean_difference([1, 0], [1])
  with pytest.raises(ValueError, match="at least one"):
    stats.paired_bootstrap(0, lambda idx: idx.mean(-1))
  with pytest.raises(ValueError, match="shape"):
    stats.paired_bootstrap(5, lambda idx: idx.mean())


@pytest.mark.parametrize(
  "lo,hi,diff,gain,at_least,verdict",
  [
    (0.02, 0.2, 0.11, 0.10, False, claims.HOLDS),
    (0.02, 0.2, 0.08, 0.10, False, claims.UNDECIDED),  # Significant, but below the 10 points.
    (0.01, 0.09, 0.05, 0.10, False, claims.FAILS),  # Even the interval's top is under 10.
    (-0.05, 0.05, 0.0, 0.0, False, claims.UNDECIDED),
    (-0.1, -0.01, -0.05, 0.0, False, claims.FAILS),
    (-0.1, 0.01, -0.05, 0.0, True, claims.HOLDS),  # Not significantly worse.
    (-0.1, -0.01, -0.05, 0.0, True, claims.FAILS),
  ],
)
def test_verdicts(lo, hi, diff, gain, at_least, verdict):
  d = stats.Difference(100, diff, lo, hi)
  assert claims.greater("c", d, gain, at_least=at_least).verdict == verdict


def test_paper_claims_pair_problems_by_id_and_cover_every_claim():
  n = 200
  rng = np.random.default_rng(1)
  boot = rng.random(n) < 0.3
  last = boot | (rng.random(n) < 0.4)  # Every problem the bootstrap solved, and more.
  maj = last | (rng.random(n) < 0.2)
  best = maj | (rng.random(n) < 0.2)
  rows0 = _rows({"greedy": boot})[::-1]  # Another order: pairing must go by id.
  rows1 = _rows(
    {
      "greedy": last,
      "maj@8": maj,
      "best_of_8[ppm]": best,
      "best_of_8[orm]": maj,
      "mcts+ppm": best[:80],  # A subset of the problems.
    }
  )
  out = {c.claim: c for c in claims.paper_claims({0: rows0, 1: rows1}, pairs_by_round={3: {}})}
  gain = out["greedy: round 1 beats round 0 by ≥ 10 points"]
  assert gain.n == n and gain.value == pytest.approx(last.mean() - boot.mean())
  assert gain.verdict == claims.HOLDS
  assert out["greedy: round 1 not worse than round 0"].verdict == claims.HOLDS
  assert out["round 1: best_of_8[ppm] > maj@8"].verdict == claims.HOLDS
  assert out["round 1: maj@8 > greedy"].verdict == claims.HOLDS
  mcts = out["round 1: mcts+ppm ≥ best_of_8[ppm]"]
  assert mcts.n == 80 and mcts.value == 0 and mcts.verdict == claims.HOLDS
  assert out["round 1: best_of_8[ppm] > best_of_8[orm]"].verdict == claims.HOLDS
  assert not any("pqm" in c for c in out)  # No PQM was evaluated.


def test_no_round_worse_is_one_family_of_bonferroni_intervals():
  """Four round-to-round comparisons each get a 98.75% interval: a last-round dip that a lone
  95% interval calls significant is, as one of four, not."""
  n = 400
  rng = np.random.default_rng(2)
  base = rng.random(n) < 0.7
  dip = base.copy()
  dip[np.flatnonzero(base)[:14]] = False  # Round 4 loses 14 problems and gains 5: -2.25 points.
  dip[np.flatnonzero(~base)[:5]] = True
  rows = {k: _rows({"greedy": base}) for k in range(4)} | {4: _rows({"greedy": dip})}
  out = {c.claim: c for c in claims.paper_claims(rows)}
  step = out["greedy: round 4 not worse than round 3 (98.75% interval, 1 of 4)"]
  alone = stats.mean_difference(dip, base)
  family = stats.mean_difference(dip, base, level=claims.family_level(4))
  assert alone.hi < 0  # Uncorrected: "significantly worse".
  assert (step.lo, step.hi) == (family.lo, family.hi) and step.hi >= 0
  assert step.verdict == claims.HOLDS
  assert sum("not worse" in c for c in out) == 4
  two = claims.paper_claims({0: rows[0], 1: rows[1], 2: rows[2]})
  assert [c.claim for c in two if "not worse" in c.claim] == [
    "greedy: round 1 not worse than round 0 (97.5% interval, 1 of 2)",
    "greedy: round 2 not worse than round 1 (97.5% interval, 1 of 2)",
  ]


def test_f1_difference_and_pair_accuracy_claims():
  is_error = [True] * 50 + [False] * 50
  perfect = [True] * 100
  blind = [False] * 50 + [True] * 50  # Says "correct" on everything: F1 0.
  d = claims.f1_difference(is_error, perfect, blind)
  assert d.diff == pytest.approx(1.0) and d.lo > 0.9
  process = {"ppm": {"is_error": is_error, "right": perfect}, "orm": {"right": blind}}
  out = claims.paper_claims({}, {2: process}, {3: {"correct": 90, "total": 100}, 2: {}})
  f1 = next(c for c in out if "F1" in c.claim)
  assert f1.claim == "round 2: process-set F1, ppm > orm" and f1.verdict == claims.HOLDS
  pairs = next(c for c in out if "pairwise" in c.claim)
  assert pairs.value == 0.9 and pairs.verdict == claims.HOLDS
  assert claims.pair_accuracy("x", 60, 100).verdict == claims.FAILS
  assert claims.pair_accuracy("x", 8, 10).verdict == claims.UNDECIDED


def _tree_with_pairs():
  """root → a (right answer below only), b (wrong only), c (both); scores chosen by hand."""
  t = tree_lib.Tree("p", "q", "1")
  a = t.add_child(t.root, text="a", ppm=0.5)
  b = t.add_child(t.root, text="b", ppm=0.7)
  c = t.add_child(t.root, text="c", ppm=0.1)
  for parent, correct, score in ((a, True, 0.9), (b, False, -0.9), (c, True, 0.2), (c, False, 0.3)):
    t.add_child(parent, text="ans", terminal=True, answer="x", correct=correct, ppm=score)
  t.add_child(a, text="bad", terminal=True, invalid="code_errors")  # No answer: ignored.
  return t


def test_heldout_pairs_come_from_sibling_outcomes_and_the_ppm_scores():
  t = _tree_with_pairs()
  pairs = heldout_pairs.sibling_pairs(t)
  texts = sorted((g.text, b.text, g.ppm) for g, b in pairs)
  # Root: a vs b (c has both outcomes); under c: its right answer vs its wrong one.
  assert texts == [("a", "b", 0.5), ("ans", "ans", 0.2)]
  acc = heldout_pairs.pair_accuracy(iter([t, tree_lib.Tree("q", "q", "1")]))
  assert acc == {"correct": 0, "total": 2, "problems": 1, "accuracy": 0.0}


def test_make_report_counts_each_method_on_its_own_problems_and_per_level():
  rows = _rows({"greedy": [1, 0, 1, 1], "mcts+ppm": [1, 0]}, levels=["2", "10", "2", "10"])
  rep = harness.make_report(rows, {})
  assert rep["accuracy"] == {"greedy": 0.75, "mcts+ppm": 0.5}
  assert rep["num_problems_by_method"] == {"greedy": 4, "mcts+ppm": 2}
  assert list(rep["by_level"]) == ["2", "10"]  # Numeric order.
  assert rep["by_level"]["10"]["accuracy"] == {"greedy": 0.5, "mcts+ppm": 0.0}
  assert rep["by_level"]["2"]["num_problems"] == {"greedy": 2, "mcts+ppm": 1}


def test_fixed_subset_is_independent_of_order_and_nested():
  ids = [f"id{i}" for i in range(100)]
  small = harness.fixed_subset(ids, 10)
  assert len(small) == 10 and small == harness.fixed_subset(ids[::-1], 10)
  assert small < harness.fixed_subset(ids, 30)
  assert harness.fixed_subset(ids, 0) == set(ids) == harness.fixed_subset(ids, 500)


def test_run_report_writes_claims_levels_and_three_plots(tmp_path):
  n = 120
  rng = np.random.default_rng(2)
  boot = rng.random(n) < 0.2
  last = boot | (rng.random(n) < 0.5)
  levels = [str(2 + i % 3) for i in range(n)]
  rows0, rows1 = _rows({"greedy": boot}, levels), _rows({"greedy": last, "maj@4": last}, levels)
  rep0, rep1 = harness.make_report(rows0, {}), harness.make_report(rows1, {})
  results = {
    0: {
      "prepare": {
        report.BOOTSTRAP_GREEDY: rep0["accuracy"]["greedy"],
        "stages": {"evaluate": {"problems": n, "by_level": rep0["by_level"]}},
      }
    },
    1: {
      "evaluate": {
        **{k: rep1[k] for k in ("accuracy", "num_problems", "by_level")},
        "num_problems_by_method": {"greedy": n, "maj@4": 60},
        "heldout_pairs": {"correct": 3, "total": 4, "accuracy": 0.75},
        "process": {
          "ppm": {
            "threshold": 0.1,
            "dev": {"f1": 0.5},
            "heldout": {"error_acc": 0.5, "correct_acc": 1.0, "f1": 2 / 3},
          }
        },
      }
    },
  }
  text = report.write_run_report(
    results,
    tmp_path / "r.json",
    tmp_path / "r.md",
    tmp_path / "accuracy.png",
    rows_by_round={0: rows0, 1: rows1},
  )
  assert "| greedy: round 1 beats round 0 by ≥ 10 points | 120 |" in text
  assert f"| 1 | 3 | 40 | {100 * last[1::3].mean():.1f}% |" in text  # Round 1, level 3.
  assert "(n=60)" in text  # maj@4's interval is over its own 60 problems.
  assert "| 1 | ppm | 0.100 | 50.0% | 50.0% | 100.0% | 66.7% |" in text
  assert report.PPM_HELDOUT_PAIR_ACC in text.splitlines()[0]
  for name in ("accuracy.png", "levels.png", "process_f1.png"):
    assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
  assert json.loads((tmp_path / "r.json").read_text())["1"]["evaluate"]["num_problems"] == n


def test_seed_tables_give_mean_range_and_every_seeds_verdict():
  from rstar_jax.evaluation import seeds  # pylint: disable=g-import-not-at-top

  n = 150
  runs, rows = [], []
  for s, gain in enumerate((0.5, 0.0)):  # Seed 0 improves on its bootstrap; seed 1 does not.
    rng = np.random.default_rng(s)
    boot = rng.random(n) < 0.3
    last = boot | (rng.random(n) < gain)
    rows.append({0: _rows({"greedy": boot}), 1: _rows({"greedy": last})})
    runs.append(
      {
        0: {"prepare": {report.BOOTSTRAP_GREEDY: float(boot.mean())}},
        1: {"evaluate": {"accuracy": {"greedy": float(last.mean())}, "num_problems": n}},
      }
    )
  table = {r["round"]: r for r in seeds.accuracy_rows(runs)}
  accs = [100 * r[1]["evaluate"]["accuracy"]["greedy"] for r in runs]
  assert table["1"]["greedy"] == f"{sum(accs) / 2:.1f} ({min(accs):.1f}–{max(accs):.1f})"
  assert table["1"]["seeds"] == "2"
  claim = seeds.claim_rows(runs, rows)[0]
  assert claim["claim"] == "greedy: round 1 beats round 0 by ≥ 10 points"
  assert claim["verdict per seed"] == "holds, does not hold"
  assert claim["all seeds"] == "does not hold for every seed"
  # A one-sample claim (round 3's PPM pair accuracy) averages its value, not a difference.
  for run, (correct, total) in zip(runs, ((30, 40), (35, 40))):
    run[3] = {"evaluate": {"heldout_pairs": {"correct": correct, "total": total}}}
  pairs = next(c for c in seeds.claim_rows(runs, rows) if "pairwise" in c["claim"])
  assert pairs["mean difference"] == "81.2%"  # (75.0 + 87.5) / 2


def test_seed_error_kinds_sum_each_rounds_tallies_over_the_seeds_that_judged_it():
  from rstar_jax.evaluation import seeds  # pylint: disable=g-import-not-at-top

  def tally(misread, final):
    return {
      report.GREEDY_ERROR_KINDS: {
        "wrong": misread + final,
        "kinds": {"misread": misread, "final": final},
        "by_level": {},
      }
    }

  runs = [
    {0: tally(5, 1), 4: {"evaluate": {}, **tally(2, 0)}},
    {0: tally(3, 4), 4: {"evaluate": {}}},  # This seed's last round kept no greedy texts.
  ]
  rows = {r["round"]: r for r in seeds.error_kind_rows(runs)}
  assert rows[0] == {"round": 0, "seeds": 2, "wrong": 13, "misread": 8, "final": 5}
  assert rows[4] == {"round": 4, "seeds": 1, "wrong": 2, "misread": 2, "final": 0}
  assert seeds.error_kind_rows([{0: {"evaluate": {}}}]) == []


def test_launch_seeds_prints_and_writes_the_pooled_error_kinds(tmp_path):
  dirs = []
  for s, misread in enumerate((4, 6)):
    layout = RunLayout(tmp_path / f"s{s}")
    layout.report_json.parent.mkdir(parents=True, exist_ok=True)
    kinds = {"wrong": misread, "kinds": {"misread": misread}, "by_level": {}}
    summary = {"prepare": {report.BOOTSTRAP_GREEDY: 0.5}, report.GREEDY_ERROR_KINDS: kinds}
    layout.report_json.write_text(json.dumps({"0": summary}))
    dirs.append(str(layout.root))
  out = tmp_path / "seeds.md"
  done = subprocess.run(
    [sys.executable, "-m", "launch.seeds", f"--out={out}", *dirs],
    capture_output=True,
    text=True,
    check=True,
    env=child_env(),
    timeout=300,
  )
  assert "| round | seeds | wrong | misread |" in done.stdout, done.stdout
  assert "| 0 | 2 | 10 | 10 |" in done.stdout
  assert out.read_text().strip() == done.stdout.strip()
