"""The Spark engine: where a domain's Spark tables live and the session its build runs in.

dbt-spark's ``session`` method runs the Spark driver inside the step's process; ``spark.master``
sends the tasks to the cluster named by ``MESH_SPARK_MASTER`` (``spark://host:7077``, ``yarn``,
``k8s://…``). Each domain has its own warehouse folder and metastore under
``<data>/spark/<domain>/``: domains build in parallel (an embedded Derby metastore admits one
process at a time) and a domain's Spark tables are its own storage, as its DuckDB file is.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from mesh_platform.core.environment import MeshEnvironment

# C2 compilation costs more than it saves in short JVM lives: about half the start-up time
JVM_OPTIONS = "-XX:TieredStopAtLevel=1"
MASTER_VARIABLE = "MESH_SPARK_MASTER"


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
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - the extra is part of `make install`
        raise SparkUnavailable(
            "the Spark engine needs the `spark` extra: `uv sync --extra spark`"
        ) from exc
    settings = spark_target_env(env, domain, master or spark_master())
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    root = domain_spark_dir(env, domain)
    root.mkdir(parents=True, exist_ok=True)
    return (
        SparkSession.builder.master(settings[MASTER_VARIABLE])
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
        .enableHiveSupport()
        .getOrCreate()
    )
