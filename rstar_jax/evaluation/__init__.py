"""rstar_jax.evaluation: one harness for every way of answering held-out problems.

Greedy pass@1, pass@k / maj@k, best-of-N under any reward model (`harness`), N-run MCTS or beam
search with top-K voting (`multirun`), one majority vote (`voting`), the per-round report and
plot (`report`).
"""
