"""The DuckDB engine (the embedded default): dbt writes the domain's own DuckDB file, and the
audit runs on that file, opened once after dbt has released it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import duckdb

from mesh_platform.core.bindings import DomainBindings
from mesh_platform.core.environment import MeshEnvironment, duckdb_memory_limit


class DuckDBEngine:
    name = "duckdb"
    dbt_target: str | None = None  # the profile's default target (`local`)
    kind = "duckdb"  # the Dagster kind its dbt assets show

    def invocation_env(self, env: MeshEnvironment, domain: str) -> dict[str, str]:
        return {}

    def before_dbt(self, log: Any, env: MeshEnvironment, domain: str, target_path) -> None:
        """Nothing to prepare: dbt-duckdb reads the sources where they are."""

    @contextlib.contextmanager
    def audit_connection(
        self, env: MeshEnvironment, bindings: DomainBindings, uids: list[str]
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        con = duckdb.connect(
            str(env.domain_database(bindings.domain.name)),
            config={"memory_limit": duckdb_memory_limit()},
        )
        try:
            yield con
        finally:
            con.close()
