"""Before dbt runs, the DuckDB engine creates the schemas dbt-duckdb's plugin sources copy
tables into: two dbt threads creating the same schema at once fail one model with DuckDB's
"Catalog write-write conflict" (seen in the traced demo, where strace slows every thread)."""

from __future__ import annotations

import duckdb

from mesh_platform.build.engines.duckdb import DuckDBEngine, plugin_source_schemas
from mesh_platform.core.environment import get_environment


def source(domain: str, name: str, meta: dict, schema: str | None = None) -> dict:
    return {
        "source_name": name,
        "schema": schema or name,
        "package_name": domain,
        "mesh_domain": domain,
        "original_file_path": f"models/staging/_{domain}__sources.yml",
        "fqn": [domain, "staging", name, "t"],
        "source_meta": meta,
        "meta": {},
    }


def test_only_the_domain_s_plugin_sources_are_named():
    manifest = {
        "sources": {
            "a": source("listeners", "registration", {"plugin": "registration_db"}),
            "b": source("listeners", "events", {}),
            "c": source("artists", "payments_db", {"plugin": "payments"}),
        }
    }
    assert plugin_source_schemas(manifest, "listeners") == ["registration"]


def test_the_schemas_exist_in_the_domain_file_before_dbt(tmp_path, monkeypatch):
    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path))
    env = get_environment()
    env.warehouse_dir.mkdir(parents=True)
    DuckDBEngine().before_dbt(None, env, "listeners", tmp_path / "target")
    con = duckdb.connect(str(env.domain_database("listeners")), read_only=True)
    schemas = {r[0] for r in con.execute("select schema_name from duckdb_schemas()").fetchall()}
    assert "registration" in schemas
