"""The Spark engine: where a domain's Spark tables live and the session its build runs in.

dbt-spark's ``session`` method runs the Spark driver inside the step's process; ``spark.master``
sends the tasks to the cluster named by ``MESH_SPARK_MASTER`` (``spark://host:7077``, ``yarn``,
``k8s://…``). Each domain has its own warehouse folder and metastore under
``<data>/spark/<domain>/``: domains build in parallel (an embedded Derby metastore admits one
process at a time) and a domain's Spark tables are its own storage, as its DuckDB file is.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import warnings
from pathlib import Path

from mesh_platform.core.environment import MeshEnvironment

# C2 compilation costs more than it saves in short JVM lives: about half the start-up time
JVM_OPTIONS = "-XX:TieredStopAtLevel=1"
MASTER_VARIABLE = "MESH_SPARK_MASTER"
# the driver's Spark configuration folder (its log4j2.properties) unless SPARK_CONF_DIR names one
SPARK_CONF_DIR = Path(__file__).with_name("spark_conf")


class SparkUnavailable(RuntimeError):
    """The Spark engine cannot run here (no cluster named, or the `spark` extra missing)."""


def spark_master() -> str:
    """The cluster a Spark domain's build sends its tasks to."""
    master = os.environ.get(MASTER_VARIABLE, "").strip()
    if not master:
        raise SparkUnavailable(
            f"no Spark cluster: set {MASTER_VARIABLE} (spark://host:7077, yarn, k8s://…), or run "
            "through `mesh materialize`/`mesh dev`, which start a local cluster when it is unset"
        )
    return master


def domain_spark_dir(env: MeshEnvironment, domain: str) -> Path:
    return env.data_dir / "spark" / domain


def spark_target_env(env: MeshEnvironment, domain: str, master: str) -> dict[str, str]:
    """What the ``spark`` target of dbt_project/profiles.yml reads, for one domain."""
    root = domain_spark_dir(env, domain)
    return {
        MASTER_VARIABLE: master,
        "MESH_SPARK_WAREHOUSE": str(root / "warehouse"),
        "MESH_SPARK_METASTORE": str(root / "metastore_db"),
        "MESH_SPARK_JAVA_OPTIONS": f"{JVM_OPTIONS} -Dderby.system.home={root}",
    }


def spark_session(env: MeshEnvironment, domain: str, master: str | None = None):
    """The Spark session of a domain's build: dbt-spark's ``getOrCreate`` returns this one, so
    the sources registered here are the ones dbt reads.

    A process builds one domain on Spark (its metastore is a static setting of the JVM): the
    runner gives each Spark domain a fresh process.
    """
    os.environ.setdefault("SPARK_CONF_DIR", str(SPARK_CONF_DIR))
    # pyspark 4.3 warns at every use that pandas 3 is newer than it knows; the mesh does not
    # hand Spark pandas frames
    warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas", FutureWarning)
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - the extra is part of `make install`
        raise SparkUnavailable(
            "the Spark engine needs the `spark` extra: `uv sync --extra spark`"
        ) from exc
    settings = spark_target_env(env, domain, master or spark_master())
    active = SparkSession.getActiveSession()
    warehouse = Path(settings["MESH_SPARK_WAREHOUSE"])
    if active is not None and _path(active.conf.get("spark.sql.warehouse.dir")) != warehouse:
        active.stop()  # another domain's session (its warehouse and metastore are static)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    root = domain_spark_dir(env, domain)
    root.mkdir(parents=True, exist_ok=True)
    builder = SparkSession.builder
    if _on_loopback(settings[MASTER_VARIABLE]):
        # a cluster on this machine: the driver listens on loopback only, like the cluster
        builder = builder.config("spark.driver.host", "127.0.0.1").config(
            "spark.driver.bindAddress", "127.0.0.1"
        )
    session = (
        builder.master(settings[MASTER_VARIABLE])
        .appName(f"mesh-{domain}")
        .config("spark.sql.warehouse.dir", settings["MESH_SPARK_WAREHOUSE"])
        .config(
            "spark.hadoop.javax.jdo.option.ConnectionURL",
            f"jdbc:derby:;databaseName={settings['MESH_SPARK_METASTORE']};create=true",
        )
        .config("spark.driver.extraJavaOptions", settings["MESH_SPARK_JAVA_OPTIONS"])
        .config("spark.executor.extraJavaOptions", JVM_OPTIONS)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        # the table files are the domain's private storage: owner-only, like everything the
        # platform writes (core/environment.owner_only)
        .config("spark.hadoop.fs.permissions.umask-mode", "077")
        # an `insert overwrite` replaces only the partitions it writes, in and outside dbt's
        # incremental runs
        .config("spark.sql.sources.partitionOverwriteMode", "dynamic")
        .enableHiveSupport()
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")  # dbt-spark's "existing session" warnings
    return session


class SparkEngine:
    """dbt builds the domain's models on the Spark cluster; the step then audits and publishes
    each port from the Parquet files of its Spark table.

    Why the audit reads Spark's files with DuckDB rather than running Soda on Spark
    (``soda-sparkdf``): what a port publishes is those files, read by every consumer through
    DuckDB or pyarrow. Verifying them through the same reader, with each column cast to the
    type the port declares, checks what consumers will get (a Spark type that DuckDB reads
    differently fails here, not in a consumer), and keeps one implementation of contract
    verification, governance, the rejects split and cross-day uniqueness — the same checks,
    the same messages — for every engine. DuckDB streams Parquet with a bounded memory and
    spills beyond it, so the audit costs one scan of the port, not of the domain's data.
    """

    name = "spark"
    dbt_target = "spark"
    kind = "spark"

    def __init__(self) -> None:
        self._session = None
        self._manifest = None

    def invocation_env(self, env: MeshEnvironment, domain: str) -> dict[str, str]:
        return spark_target_env(env, domain, spark_master())

    def before_dbt(self, log, env: MeshEnvironment, domain: str, target_path: Path) -> None:
        """Start the session dbt-spark will use and register the sources its models read."""
        from dbt.cli.main import dbtRunner

        from mesh_platform.build.engines.spark_sources import domain_sources, register_sources
        from mesh_platform.core.manifest import profiles_dir

        started = time.monotonic()
        self._session = spark_session(env, domain)
        log.info(
            f"domain {domain}: Spark session on {spark_master()} in "
            f"{time.monotonic() - started:.1f}s"
        )
        project = env.domain_dbt_dir(domain)
        parsed_at = time.monotonic()
        parsed = dbtRunner().invoke(
            [
                "parse",
                "--project-dir",
                str(project),
                "--profiles-dir",
                str(profiles_dir(project)),
                "--target",
                self.dbt_target,
                "--target-path",
                str(target_path),
                "--no-use-colors",
                "--quiet",
            ]
        )
        if not parsed.success:
            raise RuntimeError(
                f"domain {domain}: dbt could not parse the project for the spark target: "
                f"{parsed.exception}"
            )
        self._manifest = parsed.result
        log.info(
            f"domain {domain}: dbt parsed the project for Spark in {time.monotonic() - parsed_at:.1f}s"
        )
        started = time.monotonic()
        tables = register_sources(
            self._session,
            domain_sources(self._manifest),
            domain_spark_dir(env, domain) / "sources",
            project,
        )
        log.info(
            f"domain {domain}: registered {len(tables)} source(s) in Spark in "
            f"{time.monotonic() - started:.1f}s"
        )

    def table_location(self, relation: str) -> str:
        rows = self._session.sql(f"describe table extended {relation}").collect()
        location = next(r.data_type for r in rows if r.col_name == "Location")
        return location.removeprefix("file:")

    def spark_relation(self, uid: str) -> str:
        node = self._manifest.nodes[uid]
        return f"{node.schema}.{node.alias}"

    @contextlib.contextmanager
    def audit_connection(self, env: MeshEnvironment, bindings, uids: list[str]):
        """An in-memory DuckDB holding each port as ``binding.relation``: a view over its Spark
        table's files with the declared column types (a table where the port may reject rows,
        which the rejects split deletes from)."""
        import duckdb

        from mesh_platform.core.declared_schema import declared_port_schema
        from mesh_platform.core.environment import duckdb_memory_limit
        from mesh_platform.core.sql import quote_ident, quote_literal

        domain = bindings.domain.name
        spill = domain_spark_dir(env, domain) / "audit-tmp"
        spill.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(
            config={"memory_limit": duckdb_memory_limit(), "temp_directory": str(spill)}
        )
        try:
            con.execute("set TimeZone = 'UTC'")
            for uid in uids:
                binding = bindings.ports[uid]
                schema = declared_port_schema(env.repo_root, binding.product, binding.port)
                location = self.table_location(self.spark_relation(uid))
                files = quote_literal(f"{location}/**/*.parquet")
                columns = ", ".join(
                    f"cast({quote_ident(c.name)} as {c.data_type}) as {quote_ident(c.name)}"
                    for c in schema.columns
                )
                if any(Path(location).rglob("*.parquet")):
                    source = f"read_parquet({files}, hive_partitioning = true)"
                    select = f"select {columns} from {source}"
                else:  # a table without rows may have no file: its declared columns, empty
                    select = (
                        "select "
                        + ", ".join(
                            f"cast(null as {c.data_type}) as {quote_ident(c.name)}"
                            for c in schema.columns
                        )
                        + " where false"
                    )
                kind = "table" if binding.port.rejects_bad_rows else "view"
                relation_schema = binding.relation.split(".")[0]
                con.execute(f"create schema if not exists {quote_ident(relation_schema)}")
                con.execute(f"create {kind} {binding.relation} as {select}")
            yield con
        finally:
            con.close()


def _path(url: str) -> Path:
    return Path(url.removeprefix("file:"))


def _on_loopback(master: str) -> bool:
    """A local master (``local[N]``) or a standalone one on 127.0.0.1/localhost."""
    if master.startswith("local"):
        return True
    host = master.split("://", 1)[-1].split(":", 1)[0]
    return host in {"127.0.0.1", "localhost"}
