"""Benchmarks: speed figures measured side by side in one run (README, "Performance"); never timed tests."""
