"""Benchmark harness of the mesh: `python -m bench --scale N` (see bench/README.md)."""

import datetime as _dt

# The benchmark's generated data ends on this fixed day (not yesterday, the demo's default):
# the same data on every run, and the appended day (2026-04-01) is a complete day in the past.
DATA_END = _dt.date(2026, 3, 31)
