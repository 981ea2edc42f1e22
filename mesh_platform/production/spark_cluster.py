"""A local Spark standalone cluster on loopback: one master and two workers, each its own JVM,
so a Spark domain's tasks really run in other processes (what an existing cluster does).

``mesh materialize``, ``mesh dev`` and ``mesh serve`` start one when a domain builds on Spark
and ``MESH_SPARK_MASTER`` names no existing cluster, and stop it by process id when they end.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mesh_platform.build.engines.spark import JVM_OPTIONS, MASTER_VARIABLE
from mesh_platform.core.environment import MeshEnvironment
from mesh_platform.core.extras import require
from mesh_platform.production.processes import Service, free_port, wait_until


def spark_home() -> Path:
    return Path(require("pyspark", "spark").__file__).parent


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
    """A Spark standalone master and ``workers`` workers on 127.0.0.1, stopped by process id.

    Each worker offers ``cores`` cores and ``memory`` to executors."""

    env: MeshEnvironment
    workers: int = 2
    cores: int = 1
    memory: str = "1g"
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

    def _class(self, name: str, log: str, *args: str) -> Service:
        command = [str(spark_home() / "bin" / "spark-class"), name, *args]
        return Service(
            f"spark-{log}", command, spark_env(self.env), self.root / "logs" / f"{log}.log"
        )

    def start(self) -> SparkCluster:
        started = time.monotonic()
        try:
            master = self._class(
                "org.apache.spark.deploy.master.Master",
                "master",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--webui-port",
                str(self.ui_port),
            )
            self.services.append(master.start())
            wait_until(self._master_up, 120, "the Spark master")
            for n in range(self.workers):
                worker = self._class(
                    "org.apache.spark.deploy.worker.Worker",
                    f"worker-{n + 1}",
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
            wait_until(
                lambda: self.status().get("aliveworkers", 0) >= self.workers,
                120,
                f"{self.workers} Spark worker(s)",
            )
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        return self

    def status(self) -> dict[str, Any]:
        """The master's view: workers, running and completed applications."""
        url = f"http://127.0.0.1:{self.ui_port}/json/"
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback)
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


@contextlib.contextmanager
def spark_cluster_for(env: MeshEnvironment, needed: bool) -> Iterator[str | None]:
    """The master URL the run's Spark domains use: ``MESH_SPARK_MASTER`` if it names a cluster,
    else a local cluster started for the block (exported to child processes) and stopped after
    it. Nothing when no domain of the run builds on Spark."""
    existing = os.environ.get(MASTER_VARIABLE, "").strip()
    if not needed or existing:
        yield existing or None
        return
    with SparkCluster(env) as cluster:
        os.environ[MASTER_VARIABLE] = cluster.master_url
        try:
            yield cluster.master_url
        finally:
            os.environ.pop(MASTER_VARIABLE, None)
