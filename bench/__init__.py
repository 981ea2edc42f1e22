"""Benchmark harness of the mesh: `python -m bench --scale N` (see bench/README.md)."""
