"""Which engine builds a domain: ``engine:`` in its ``domain.yaml`` (DuckDB by default), or one
engine for a whole run (``MESH_ENGINE`` / ``mesh materialize --engine``).

The engine is the domain's dbt target: the same models, contracts, governance and ports on
either engine (see ``mesh_platform/build/engines/``).
"""

from __future__ import annotations

import os
from typing import Literal, get_args

EngineName = Literal["duckdb", "spark"]
ENGINES: tuple[str, ...] = get_args(EngineName)
DEFAULT_ENGINE: EngineName = "duckdb"
ENGINE_VARIABLE = "MESH_ENGINE"


class EngineError(ValueError):
    pass


def check_engine(name: str, where: str) -> EngineName:
    """``name`` if it is an engine the platform builds on; a clear error naming ``where``."""
    value = name.strip().lower()
    if value not in ENGINES:
        raise EngineError(
            f"{where}: unknown engine {name!r}; the mesh builds on {' or '.join(ENGINES)}"
        )
    return value  # type: ignore[return-value]


def engine_override() -> EngineName | None:
    """The engine every domain of this run builds on (``MESH_ENGINE``), or None."""
    value = os.environ.get(ENGINE_VARIABLE, "").strip()
    return check_engine(value, ENGINE_VARIABLE) if value else None


def resolve_engine(declared: str | None) -> EngineName:
    """The run's override, else the domain's declared engine, else DuckDB."""
    override = engine_override()
    if override:
        return override
    return check_engine(declared, "domain.yaml `engine`") if declared else DEFAULT_ENGINE
