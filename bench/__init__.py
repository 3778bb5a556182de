"""Benchmarks: each command prints its figures and appends them to docs/benchmarks.md."""
