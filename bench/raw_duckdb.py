"""The floor: raw DuckDB executing dbt's compiled *run* SQL of every model, in one process.

For each domain in mesh order: a fresh ``warehouse/<domain>.duckdb``, the layer schemas, the
tables of the sources dbt-duckdb copies in through a plugin (the registration database's, by
the plugin ``profiles.yml`` names, as dbt runs it: its ``load``, registered, ``create table``),
then every model's run SQL exactly as dbt wrote it (multi-statement for contracted
tables), in DAG order from dbt's ``manifest.json``. dbt writes tables and views under a
``__dbt_tmp`` name and renames them afterwards with adapter calls that are not in the run
SQL; the rename is replayed here. Models only: no tests, no contract checks, no publishing.

    python -m bench.raw_duckdb --data-dir RAW --targets DBT/dbt --sql-root DBT \
        --domains playback,podcasts,artists,listeners,recommendations --report out.json

``--sql-root`` is the data dir the SQL was compiled for; it is rewritten to ``--data-dir``
(identical copies of operational data and upstream ports live there).
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import time
from collections.abc import Mapping
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

import duckdb
import yaml

from mesh_platform.core.environment import duckdb_memory_limit
from mesh_platform.core.sql import qualified, quote_ident

REPO = Path(__file__).resolve().parent.parent
TMP_SUFFIX = "__dbt_tmp"


def _domain_models(manifest: Mapping[str, Any], domain: str) -> dict[str, Mapping[str, Any]]:
    return {
        uid: node
        for uid, node in manifest["nodes"].items()
        # the domain's own project (its manifest holds no other domain's models)
        if node["resource_type"] == "model"
        and node["package_name"] == manifest["metadata"]["project_name"]
    }


def dag_order(models: Mapping[str, Mapping[str, Any]]) -> list[str]:
    graph = {
        uid: [p for p in node["depends_on"]["nodes"] if p in models]
        for uid, node in sorted(models.items())
    }
    return list(TopologicalSorter(graph).static_order())


def _plugins(data_dir: Path) -> dict[str, tuple[str, str]]:
    """Plugin alias -> (module, connection URL) from profiles.yml, env_var() calls rendered."""
    profiles = yaml.safe_load((REPO / "dbt_project" / "profiles.yml").read_text())
    values = {"MESH_OPERATIONAL_DIR": str(data_dir / "operational")}
    plugins = {}
    for profile in profiles.values():
        for output in profile["outputs"].values():
            for plugin in output.get("plugins") or []:
                url = re.sub(
                    r"\{\{\s*env_var\('(\w+)'(?:,\s*'([^']*)')?\)\s*\}\}",
                    lambda m: values.get(m.group(1), m.group(2) or ""),
                    plugin["config"]["connection_url"],
                )
                plugins[plugin["alias"]] = (plugin["module"], url)
    return plugins


def _load_plugin_sources(con, manifest, models, data_dir: Path) -> list[str]:
    from dbt.adapters.duckdb.utils import SourceConfig

    plugins = _plugins(data_dir)
    used = sorted(
        {p for n in models.values() for p in n["depends_on"]["nodes"]} & set(manifest["sources"])
    )
    loaded = []
    for uid in used:
        source = manifest["sources"][uid]
        meta = {**source.get("source_meta", {}), **source.get("meta", {})}
        if "plugin" not in meta:
            continue
        module, url = plugins[meta["plugin"]]
        plugin = importlib.import_module(module).Plugin(meta["plugin"], {"connection_url": url})
        config = SourceConfig(
            name=source["name"],
            identifier=source["identifier"],
            schema=source["schema"],
            database=None,
            meta=meta,
            tags=[],
        )
        con.execute(f"create schema if not exists {quote_ident(source['schema'])}")
        con.register("plugin_df", plugin.load(config))
        con.execute(
            f"create or replace table {qualified(source['schema'], source['identifier'])} as "
            "select * from plugin_df"
        )
        con.unregister("plugin_df")
        loaded.append(source["relation_name"])
    return loaded


def _finalize(con, node: Mapping[str, Any]) -> None:
    """Rename ``<alias>__dbt_tmp`` to ``<alias>`` as dbt's materializations do after the SQL."""
    schema, alias = node["schema"], node["alias"]
    found = con.execute(
        "select table_type from information_schema.tables where table_schema = ? "
        "and table_name = ?",
        [schema, alias + TMP_SUFFIX],
    ).fetchall()
    if found:
        kind = "view" if found[0][0] == "VIEW" else "table"
        con.execute(f'alter {kind} "{schema}"."{alias}{TMP_SUFFIX}" rename to "{alias}"')


def build_domain(domain: str, target: Path, data_dir: Path, sql_root: str) -> dict[str, Any]:
    manifest = json.loads((target / "manifest.json").read_text())
    models = _domain_models(manifest, domain)
    database = data_dir / "warehouse" / f"{domain}.duckdb"
    database.parent.mkdir(parents=True, exist_ok=True)
    database.unlink(missing_ok=True)
    started = time.perf_counter()
    timings: dict[str, float] = {}
    # bounded like the mesh's and dbt's DuckDB (MESH_DUCKDB_MEMORY_LIMIT, set by the harness)
    con = duckdb.connect(str(database), config={"memory_limit": duckdb_memory_limit()})
    try:
        for schema in sorted({n["schema"] for n in models.values()}):
            con.execute(f'create schema if not exists "{schema}"')
        t = time.perf_counter()
        plugin_sources = _load_plugin_sources(con, manifest, models, data_dir)
        timings["<plugin sources>"] = round(time.perf_counter() - t, 3)
        for uid in dag_order(models):
            node = models[uid]
            sql_file = target / "run" / node["package_name"] / node["original_file_path"]
            sql = sql_file.read_text().replace(sql_root, str(data_dir))
            t = time.perf_counter()
            con.execute(sql)
            _finalize(con, node)
            timings[node["name"]] = round(time.perf_counter() - t, 3)
    finally:
        con.close()
    return {
        "domain": domain,
        "seconds": round(time.perf_counter() - started, 3),
        "models": len(models),
        "plugin_sources": plugin_sources,
        "timings": timings,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.raw_duckdb")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--targets", type=Path, required=True, help="dbt target dir per domain")
    parser.add_argument("--sql-root", required=True, help="data dir the SQL was compiled for")
    parser.add_argument("--domains", required=True, help="comma-separated, upstream first")
    parser.add_argument("--report", type=Path)
    args = parser.parse_args(argv)
    results = [
        build_domain(d, args.targets / d, args.data_dir.resolve(), args.sql_root)
        for d in args.domains.split(",")
    ]
    text = json.dumps(results, indent=2)
    if args.report:
        args.report.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
