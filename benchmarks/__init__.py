"""Benchmarks run against a real database: `python -m benchmarks.<name>` (see README.md)."""
