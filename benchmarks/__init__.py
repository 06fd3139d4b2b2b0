"""Benchmarks of issue 7: `python -m benchmarks.run [--quick]` (see run.py)."""
