"""One adapter per engine for the steps of a domain build that differ between engines.

A domain's engine (``core/engine.py``) picks its dbt target and how the step reaches the
tables dbt built; contract verification, governance, the rejects split and publishing then run
one way for every engine (see ``build/step.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mesh_platform.build.engines.duckdb import DuckDBEngine
    from mesh_platform.build.engines.spark import SparkEngine


def engine_for(name: str) -> DuckDBEngine | SparkEngine:
    """The adapter of an engine name (``core/engine.py``); a new one per step (it holds the
    step's Spark session and parsed project)."""
    if name == "spark":
        from mesh_platform.build.engines.spark import SparkEngine

        return SparkEngine()
    from mesh_platform.build.engines.duckdb import DuckDBEngine

    return DuckDBEngine()
