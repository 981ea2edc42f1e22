"""Every DuckDB instance of a build is bounded by MESH_DUCKDB_MEMORY_LIMIT, checked up front."""

from __future__ import annotations

import duckdb
import pytest

from mesh_platform.core.environment import (
    DEFAULT_DUCKDB_MEMORY_LIMIT,
    duckdb_memory_limit,
    get_environment,
)


def test_default_bounds_duckdb_instead_of_80_percent_of_ram(monkeypatch):
    monkeypatch.delenv("MESH_DUCKDB_MEMORY_LIMIT", raising=False)
    assert duckdb_memory_limit() == DEFAULT_DUCKDB_MEMORY_LIMIT
    assert get_environment().tool_env()["MESH_DUCKDB_MEMORY_LIMIT"] == DEFAULT_DUCKDB_MEMORY_LIMIT


@pytest.mark.parametrize("value", ["512MB", "2GB", "1.5GiB", "50%", " 3 gb "])
def test_sizes_and_percentages_are_accepted_by_duckdb(monkeypatch, value):
    monkeypatch.setenv("MESH_DUCKDB_MEMORY_LIMIT", value)
    limit = duckdb_memory_limit()
    # what the platform and dbt's profile hand DuckDB must be something DuckDB takes
    duckdb.connect(config={"memory_limit": limit}).close()


@pytest.mark.parametrize("value", ["lots", "2 G B", "-1GB", "2PB"])
def test_a_typo_fails_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv("MESH_DUCKDB_MEMORY_LIMIT", value)
    with pytest.raises(ValueError, match="MESH_DUCKDB_MEMORY_LIMIT") as failure:
        duckdb_memory_limit()
    assert "e.g. 2GB or 50%" in str(failure.value)
