"""Benchmark suites; each module exposes `run(argv)` and prints its summary line last."""
