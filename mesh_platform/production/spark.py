"""Run a domain's dbt models, unchanged, on Apache Spark through dbt-spark.

A local Spark *standalone* cluster (one master, one worker) on loopback stands in for an
existing cluster: dbt-spark's ``session`` method runs the Spark driver inside dbt's process and
``spark.master`` sends every query's tasks to the cluster's executors (a Thrift server would
need PyHive, which the lock does not carry; see infra/README.md).

The domain builds in its own Spark warehouse and metastore (``<data>/spark/<domain>/``, see
:mod:`mesh_platform.build.engines.spark`). Its inputs are registered in that metastore under the
names the ``spark`` target gives dbt sources (``<source>.<table>``) by
:mod:`mesh_platform.build.engines.spark_sources`: the operational files and databases and the
upstream ports' current snapshots, exactly what the DuckDB build reads.

Run it as ``python -m mesh_platform.production.spark DOMAIN [--master URL] [--full-refresh]``:
a process of its own, so the Spark driver's JVM ends with it. ``MESH_PARTITION_START/END`` in
the environment limit a daily model to those days, as in a partitioned run of the platform.
:func:`compare_with_duckdb` checks each port model's rows against the DuckDB build's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mesh_platform.build.engines.spark import (
    JVM_OPTIONS,
    domain_spark_dir,
    spark_session,
    spark_target_env,
)

# the source registration lived here first: its names stay importable from this module
from mesh_platform.build.engines.spark_sources import READER as READER
from mesh_platform.build.engines.spark_sources import SparkSourceError as SparkSourceError
from mesh_platform.build.engines.spark_sources import domain_sources, register_sources
from mesh_platform.build.engines.spark_sources import source_table_sql as source_table_sql
from mesh_platform.core.environment import MeshEnvironment, apply_tool_env
from mesh_platform.core.extras import require
from mesh_platform.core.manifest import profiles_dir
from mesh_platform.production.processes import Service, free_port, wait_until


def spark_home() -> Path:
    pyspark = require("pyspark", "spark")

    return Path(pyspark.__file__).parent


def spark_env(env: MeshEnvironment) -> dict[str, str]:
    return {
        **os.environ,
        **env.tool_env(),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_HOME": str(spark_home()),
        "SPARK_DAEMON_JAVA_OPTS": JVM_OPTIONS,
        "SPARK_LOG_DIR": str(env.data_dir / "spark" / "logs"),
        "SPARK_NO_DAEMONIZE": "1",
        "PYSPARK_PYTHON": sys.executable,
    }


@dataclass
class SparkCluster:
    """A Spark standalone master and one worker on 127.0.0.1, stopped by process id."""

    env: MeshEnvironment
    cores: int = 2
    memory: str = "2g"
    port: int = field(default_factory=free_port)
    ui_port: int = field(default_factory=free_port)
    services: list[Service] = field(default_factory=list)
    startup_seconds: float = 0.0

    @property
    def root(self) -> Path:
        return self.env.data_dir / "spark"

    @property
    def master_url(self) -> str:
        return f"spark://127.0.0.1:{self.port}"

    def _class(self, name: str, *args: str) -> Service:
        command = [str(spark_home() / "bin" / "spark-class"), name, *args]
        short = name.rsplit(".", 1)[-1].lower()
        return Service(
            f"spark-{short}", command, spark_env(self.env), self.root / "logs" / f"{short}.log"
        )

    def start(self) -> SparkCluster:
        started = time.monotonic()
        try:
            master = self._class(
                "org.apache.spark.deploy.master.Master",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--webui-port",
                str(self.ui_port),
            )
            self.services.append(master.start())
            wait_until(self._master_up, 120, "the Spark master")
            worker = self._class(
                "org.apache.spark.deploy.worker.Worker",
                self.master_url,
                "--host",
                "127.0.0.1",
                "--cores",
                str(self.cores),
                "--memory",
                self.memory,
                "--webui-port",
                str(free_port()),
                "--work-dir",
                str(self.root / "work"),
            )
            self.services.append(worker.start())
            wait_until(lambda: self.status().get("aliveworkers", 0) >= 1, 120, "a Spark worker")
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        return self

    def status(self) -> dict[str, Any]:
        """The master's view: workers, running and completed applications."""
        url = f"http://127.0.0.1:{self.ui_port}/json/"
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.loads(response.read())

    def _master_up(self) -> bool:
        if not self.services[0].alive():
            raise RuntimeError(f"Spark master exited; see {self.services[0].log_path}")
        return self.status().get("status") == "ALIVE"

    def pids(self) -> set[int]:
        return {pid for s in self.services for pid in s.known_pids()}

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()

    def __enter__(self) -> SparkCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@dataclass
class SparkBuild:
    domain: str
    success: bool
    seconds: dict[str, float]
    models: list[str]
    message: str = ""
    tables: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)


def build_domain(
    domain: str,
    master: str,
    env: MeshEnvironment | None = None,
    full_refresh: bool = False,
) -> SparkBuild:
    """``dbt build`` of one domain's models with ``--target spark`` (driver in this process)."""
    from dbt.cli.main import dbtRunner

    env = env or apply_tool_env()
    os.environ.update({**spark_target_env(env, domain, master), "MESH_DOMAIN": domain})
    os.environ.update({k: v for k, v in spark_env(env).items() if k.startswith("SPARK_")})
    project_dir = env.domain_dbt_dir(domain)
    target_path = env.dbt_artifacts_dir / f"spark_{domain}"
    common = [
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(profiles_dir(project_dir)),
        "--target",
        "spark",
        "--target-path",
        str(target_path),
        "--log-path",
        str(env.data_dir / "logs"),
        "--no-use-colors",
    ]
    seconds: dict[str, float] = {}
    t0 = time.monotonic()
    parsed = dbtRunner().invoke(["parse", *common])
    if not parsed.success:
        raise RuntimeError(f"dbt parse for the spark target failed: {parsed.exception}")
    manifest = parsed.result
    seconds["parse"] = time.monotonic() - t0

    t0 = time.monotonic()
    spark = spark_session(env, domain, master)
    seconds["spark_session"] = time.monotonic() - t0
    t0 = time.monotonic()
    readings = register_sources(
        spark,
        domain_sources(manifest, domain),
        domain_spark_dir(env, domain) / "sources",
        project_dir,
    )
    seconds["register_sources"] = time.monotonic() - t0

    t0 = time.monotonic()
    result = dbtRunner(manifest=manifest).invoke(
        ["build", *common, *(["--full-refresh"] if full_refresh else [])]
    )
    seconds["dbt_build"] = time.monotonic() - t0
    models = sorted(r.node.name for r in (result.result or []) if r.node.resource_type == "model")
    failures = [
        f"{r.node.name}: {r.message}"
        for r in (result.result or [])
        if str(r.status) not in {"success", "pass"}
    ]
    message = "; ".join(failures) or (str(result.exception) if result.exception else "")
    tables = {
        node.name: _location(spark, f"{node.schema}.{node.alias}")
        for node in manifest.nodes.values()
        if node.resource_type == "model"  # the domain's own project holds only its models
        and node.config.materialized in {"table", "incremental"}
        and node.name in models
    }
    spark.stop()
    success = bool(result.success and not failures)
    sources = {r.name: f"{r.format} {r.path}" for r in readings}
    return SparkBuild(domain, success, seconds, models, message, tables, sources)


def _location(spark, relation: str) -> str:
    """Where a table's Parquet files are (a path on the cluster's shared storage)."""
    rows = spark.sql(f"describe table extended {relation}").collect()
    location = next(r.data_type for r in rows if r.col_name == "Location")
    return location.removeprefix("file:")


@dataclass
class PortComparison:
    """One port model's rows on Spark against the DuckDB build's ``marts.<model>``."""

    model: str
    duckdb_rows: int
    spark_rows: int
    equal: bool
    exact: bool  # equal without the float tolerance
    only_duckdb: int = 0
    only_spark: int = 0
    differing_columns: list[str] = field(default_factory=list)
    missing: str = ""


# floats are compared rounded to this many decimals (sums in another order differ in the last bits)
FLOAT_DECIMALS = 6
_FLOATS = {"FLOAT", "DOUBLE", "REAL"}


def spark_table_scan(location: str) -> str:
    """A DuckDB scan of a Spark table's Parquet files (partition folders as text columns)."""
    glob = _sql_text(f"{location.rstrip('/')}/**/*.parquet")
    return f"read_parquet({glob}, hive_partitioning = true, hive_types_autocast = false)"


def compare_with_duckdb(
    env: MeshEnvironment, domain: str, tables: dict[str, str], models: list[str]
) -> list[PortComparison]:
    """Each port model's rows on Spark (the Parquet files under ``tables[model]``) against the
    DuckDB warehouse's ``marts.<model>``: both sides cast to the DuckDB table's (the contract's)
    types, compared with ``except all`` both ways; floats to :data:`FLOAT_DECIMALS` decimals."""
    import duckdb

    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    database = _sql_text(str(env.domain_database(domain)))
    con.execute(f"attach {database} as duck (read_only)")
    try:
        return [_compare_model(con, model, tables.get(model)) for model in models]
    finally:
        con.close()


def _compare_model(con, model: str, location: str | None) -> PortComparison:
    duck = f"duck.marts.{_quoted(model)}"
    columns = [(r[0], r[1]) for r in con.execute(f"describe {duck}").fetchall()]
    duck_rows = con.execute(f"select count(*) from {duck}").fetchone()[0]  # noqa: S608
    if location is None:
        return PortComparison(model, duck_rows, 0, False, False, missing="not built on Spark")
    scan = spark_table_scan(location)
    spark_rows = con.execute(f"select count(*) from {scan}").fetchone()[0]  # noqa: S608

    def differences(tolerant: bool, only: str | None = None) -> tuple[int, int]:
        picked = [(n, t) for n, t in columns if only in (None, n)]
        a = _cast_select(duck, picked, tolerant)
        b = _cast_select(scan, picked, tolerant)
        left = con.execute(f"select count(*) from ({a} except all {b})").fetchone()[0]
        right = con.execute(f"select count(*) from ({b} except all {a})").fetchone()[0]
        return left, right

    exact = differences(False) == (0, 0)
    only_duck, only_spark = (0, 0) if exact else differences(True)
    equal = exact or (only_duck, only_spark) == (0, 0)
    differing = [] if equal else [n for n, _ in columns if differences(True, n) != (0, 0)]
    return PortComparison(
        model, duck_rows, spark_rows, equal and duck_rows == spark_rows, exact,
        only_duck, only_spark, differing,
    )  # fmt: skip


def _cast_select(source: str, columns: list[tuple[str, str]], tolerant: bool) -> str:
    exprs = []
    for name, dtype in columns:
        value = f"cast({_quoted(name)} as {dtype})"
        if tolerant and dtype.upper() in _FLOATS:
            value = f"round({value}, {FLOAT_DECIMALS})"
        exprs.append(f"{value} as {_quoted(name)}")
    return f"select {', '.join(exprs)} from {source}"  # noqa: S608


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("domain")
    parser.add_argument("--master", default="local[2]", help="spark://host:port or local[N]")
    parser.add_argument("--json", type=Path, help="write the outcome and timings here")
    parser.add_argument(
        "--full-refresh", action="store_true", help="rebuild incremental models whole"
    )
    args = parser.parse_args(argv)
    build = build_domain(args.domain, args.master, full_refresh=args.full_refresh)
    if args.json:
        args.json.write_text(json.dumps(build.__dict__, indent=2))
    print(json.dumps(build.__dict__, indent=2))
    return 0 if build.success else 1


if __name__ == "__main__":
    sys.exit(main())
