"""Benchmarks: python -m bench.send, python -m bench.web (see bench/RESULTS.md)."""
