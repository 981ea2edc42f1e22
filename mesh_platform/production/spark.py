"""Run a domain's dbt models, unchanged, on Apache Spark through dbt-spark.

A local Spark *standalone* cluster (one master, one worker) on loopback stands in for an
existing cluster: dbt-spark's ``session`` method runs the Spark driver inside dbt's process and
``spark.master`` sends every query's tasks to the cluster's executors (a Thrift server would
need PyHive, which the lock does not carry; see infra/README.md).

The domain's inputs are registered as external tables in Spark's metastore under the names
the ``spark`` target gives dbt sources (``<source>.<table>``), translated from the DuckDB
readers the sources declare (``read_csv`` → CSV, ``read_parquet`` → Parquet): the operational
files and the upstream ports' current snapshots, exactly what the DuckDB build reads.

Run it as ``python -m mesh_platform.production.spark DOMAIN [--master URL]``: a process of its
own, so the Spark driver's JVM ends with it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mesh_platform.core.environment import MeshEnvironment, apply_tool_env
from mesh_platform.core.extras import require
from mesh_platform.core.manifest import profiles_dir
from mesh_platform.production.processes import Service, free_port, wait_until

# C2 compilation costs more than it saves in short JVM lives: about half the start-up time
JVM_OPTIONS = "-XX:TieredStopAtLevel=1"
READER = re.compile(r"^\s*(read_csv|read_parquet)\(\s*'([^']+)'\s*(?:,(.*))?\)\s*$", re.DOTALL)
OPTION = re.compile(r"(\w+)\s*=\s*('(?:[^']|'')*'|[\w.]+)")
# DuckDB read_csv options → Spark CSV data source options
CSV_OPTIONS = {
    "header": "header",
    "delim": "sep",
    "sep": "sep",
    "quote": "quote",
    "escape": "escape",
}
CSV_IGNORED = {"all_varchar"}  # Spark reads CSV columns as strings unless inferSchema is set


class SparkSourceError(ValueError):
    pass


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


def spark_target_env(env: MeshEnvironment, master: str) -> dict[str, str]:
    """What the ``spark`` target of dbt_project/profiles.yml reads."""
    spark_dir = env.data_dir / "spark"
    return {
        "MESH_SPARK_MASTER": master,
        "MESH_SPARK_WAREHOUSE": str(spark_dir / "warehouse"),
        "MESH_SPARK_METASTORE": str(spark_dir / "metastore_db"),
        "MESH_SPARK_JAVA_OPTIONS": f"{JVM_OPTIONS} -Dderby.system.home={spark_dir}",
    }


def source_table_sql(source: dict[str, Any]) -> list[str]:
    """Spark DDL registering one dbt source as the external table the ``spark`` target reads."""
    meta = {**source.get("source_meta", {}), **source.get("meta", {})}
    location = meta.get("external_location")
    name = f"{source['source_name']}.{source['name']}"
    if not location:
        raise SparkSourceError(
            f"source {name} has no external_location (e.g. it is read through a dbt-duckdb "
            "plugin): register it in Spark's metastore yourself before building on Spark"
        )
    match = READER.match(location.replace("{name}", source["name"]))
    if not match:
        raise SparkSourceError(
            f"source {name}: cannot translate {location.strip()!r} to Spark; supported readers "
            "are read_csv and read_parquet"
        )
    reader, path, raw_options = match.groups()
    options: dict[str, str] = {}
    if reader == "read_parquet":
        fmt = "parquet"
        path = os.path.realpath(path)  # the snapshot the port's pointer names right now
    else:
        fmt = "csv"
        for key, value in OPTION.findall(raw_options or ""):
            key = key.lower()
            value = value[1:-1].replace("''", "'") if value.startswith("'") else value.lower()
            if key in CSV_OPTIONS:
                options[CSV_OPTIONS[key]] = value
            elif key not in CSV_IGNORED:
                raise SparkSourceError(f"source {name}: read_csv option {key!r} has no Spark twin")
    options["path"] = path
    rendered = ", ".join(f"{k} '{_quote(v)}'" for k, v in options.items())
    schema, table = source["schema"], source["identifier"]
    return [
        f"create database if not exists {schema}",
        f"drop table if exists {schema}.{table}",
        f"create table {schema}.{table} using {fmt} options ({rendered})",
    ]


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def domain_sources(manifest, domain: str) -> list[dict[str, Any]]:
    """The sources a domain's models read (its operational systems and upstream ports); the
    manifest is the domain's own project's."""
    used = set()
    for node in manifest.nodes.values():
        if node.resource_type == "model":
            used |= {d for d in node.depends_on.nodes if d.startswith("source.")}
    return [manifest.sources[uid].to_dict() for uid in sorted(used)]


@dataclass
class SparkBuild:
    domain: str
    success: bool
    seconds: dict[str, float]
    models: list[str]
    message: str = ""
    tables: dict[str, str] = field(default_factory=dict)


def build_domain(domain: str, master: str, env: MeshEnvironment | None = None) -> SparkBuild:
    """``dbt build`` of one domain's models with ``--target spark`` (driver in this process)."""
    from dbt.cli.main import dbtRunner

    env = env or apply_tool_env()
    os.environ.update({**spark_target_env(env, master), "MESH_DOMAIN": domain})
    os.environ.update({k: v for k, v in spark_env(env).items() if k.startswith("SPARK_")})
    target_path = env.dbt_artifacts_dir / f"spark_{domain}"
    common = [
        "--project-dir",
        str(env.domain_dbt_dir(domain)),
        "--profiles-dir",
        str(profiles_dir(env.domain_dbt_dir(domain))),
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
    spark = _session(master, env)
    seconds["spark_session"] = time.monotonic() - t0
    t0 = time.monotonic()
    for source in domain_sources(manifest, domain):
        for statement in source_table_sql(source):
            spark.sql(statement)
    seconds["register_sources"] = time.monotonic() - t0

    t0 = time.monotonic()
    result = dbtRunner(manifest=manifest).invoke(["build", *common])
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
    return SparkBuild(domain, success, seconds, models, message, tables)


def _location(spark, relation: str) -> str:
    """Where a table's Parquet files are (a path on the cluster's shared storage)."""
    rows = spark.sql(f"describe table extended {relation}").collect()
    location = next(r.data_type for r in rows if r.col_name == "Location")
    return location.removeprefix("file:")


def _session(master: str, env: MeshEnvironment):
    """The Spark session dbt-spark's ``session`` method will pick up (same settings as the
    profile, so its ``getOrCreate`` returns this one)."""
    SparkSession = require("pyspark.sql", "spark").SparkSession  # noqa: N806

    settings = spark_target_env(env, master)
    return (
        SparkSession.builder.master(master)
        .appName(f"mesh-dbt-{env.name}")
        .config("spark.sql.warehouse.dir", settings["MESH_SPARK_WAREHOUSE"])
        .config(
            "spark.hadoop.javax.jdo.option.ConnectionURL",
            f"jdbc:derby:;databaseName={settings['MESH_SPARK_METASTORE']};create=true",
        )
        .config("spark.driver.extraJavaOptions", settings["MESH_SPARK_JAVA_OPTIONS"])
        .config("spark.executor.extraJavaOptions", JVM_OPTIONS)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .enableHiveSupport()
        .getOrCreate()
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("domain")
    parser.add_argument("--master", default="local[2]", help="spark://host:port or local[N]")
    parser.add_argument("--json", type=Path, help="write the outcome and timings here")
    args = parser.parse_args(argv)
    build = build_domain(args.domain, args.master)
    if args.json:
        args.json.write_text(json.dumps(build.__dict__, indent=2))
    print(json.dumps(build.__dict__, indent=2))
    return 0 if build.success else 1


if __name__ == "__main__":
    sys.exit(main())
