"""The DuckDB engine (the embedded default): dbt writes the domain's own DuckDB file, and the
audit runs on that file, opened once after dbt has released it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import duckdb

from mesh_platform.core.bindings import DomainBindings
from mesh_platform.core.environment import MeshEnvironment, duckdb_memory_limit
from mesh_platform.core.manifest import domain_of, load_domain_manifest
from mesh_platform.core.sql import quote_ident


class DuckDBEngine:
    name = "duckdb"
    dbt_target: str | None = None  # the profile's default target (`local`)
    kind = "duckdb"  # the Dagster kind its dbt assets show

    def invocation_env(self, env: MeshEnvironment, domain: str) -> dict[str, str]:
        return {}

    def before_dbt(self, log: Any, env: MeshEnvironment, domain: str, target_path) -> None:
        """dbt-duckdb reads the sources where they are; only the schemas its plugin sources
        copy tables into are created first. dbt-duckdb creates a plugin source's schema when a
        model that reads it compiles, and two of dbt's threads compiling two such models at
        once collide on it ("Catalog write-write conflict on create"), failing a model."""
        schemas = plugin_source_schemas(load_domain_manifest(domain, env), domain)
        if not schemas:
            return
        con = duckdb.connect(str(env.domain_database(domain)))
        try:
            for schema in schemas:
                con.execute(f"create schema if not exists {quote_ident(schema)}")
        finally:
            con.close()

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


def plugin_source_schemas(manifest: Any, domain: str) -> list[str]:
    """The schemas of the domain's dbt sources read through a dbt-duckdb plugin."""
    found = set()
    for props in manifest.get("sources", {}).values():
        meta = {**(props.get("source_meta") or {}), **(props.get("meta") or {})}
        config_meta = (props.get("config") or {}).get("meta") or {}
        if domain_of(props) == domain and ("plugin" in meta or "plugin" in config_meta):
            found.add(props.get("schema") or props["source_name"])
    return sorted(found)
