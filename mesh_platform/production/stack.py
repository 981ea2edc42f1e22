"""The production topology on one machine: what ``mesh serve --production`` runs.

A throwaway PostgreSQL cluster holds the Dagster instance (runs, events, schedules); one
``dagster code-server start`` gRPC server per domain serves that domain's code (on Kubernetes:
one user deployment per domain); ``dagster-daemon`` drains the run queue and ticks schedules
and sensors; ``dagster-webserver`` serves the UI. The workspace points at the gRPC servers, so a
domain whose code is broken is one errored location while every other domain keeps running.
Everything binds to 127.0.0.1 and stops by process id.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from mesh_platform.core.domain import discover_domain_dirs
from mesh_platform.core.environment import MeshEnvironment, temporary_environ
from mesh_platform.core.version_guard import require_tested
from mesh_platform.production.postgres import PostgresCluster
from mesh_platform.production.processes import (
    Service,
    alive_pids,
    free_port,
    port_open,
    wait_until,
)

INSTANCE_FILE = "dagster.production.yaml"


def _tool(name: str) -> str:
    """A Dagster executable installed beside this interpreter."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise FileNotFoundError(
            f"{name} is not installed beside {sys.executable}: run make install"
        )
    return str(path)


def domain_pool(domain: str) -> str:
    # same name as mesh_platform.build.definitions.domain_pool, without importing Dagster definitions
    return f"duckdb_{domain}"


@dataclass
class CodeServer:
    domain: str
    port: int
    repo_root: Path
    service: Service


@dataclass
class Stack:
    """Start with :meth:`start`, stop with :meth:`stop` (also on errors: use as a context)."""

    env: MeshEnvironment
    domains: list[str] | None = None
    webserver_port: int = 3000
    timeout: float = 240
    root: Path = field(init=False)
    postgres: PostgresCluster = field(init=False)
    code_servers: dict[str, CodeServer] = field(default_factory=dict)
    daemon: Service | None = None
    webserver: Service | None = None
    timings: dict[str, float] = field(default_factory=dict)
    _seen_pids: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.root = self.env.data_dir / "production"
        self.postgres = PostgresCluster(self.root)
        if self.domains is None:
            self.domains = [d.name for d in discover_domain_dirs(self.env.domains_dir)]

    # -- paths -----------------------------------------------------------------------------

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster_home"

    @property
    def workspace_file(self) -> Path:
        return self.dagster_home / "workspace.yaml"

    @property
    def log_dir(self) -> Path:
        return self.root / "logs"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.webserver_port}"

    # -- start -----------------------------------------------------------------------------

    def start(self) -> Stack:
        started = time.monotonic()
        try:
            self._timed("postgres", self.postgres.start)
            self._timed("instance", self._prepare_instance)
            self._timed("code_servers", self._start_code_servers)
            self._write_workspace()
            self._timed("daemon_and_webserver", self._start_daemon_and_webserver)
        except BaseException:
            self.stop()
            raise
        self.timings["total"] = time.monotonic() - started
        return self

    def _timed(self, what: str, step) -> None:
        t0 = time.monotonic()
        step()
        self.timings[what] = time.monotonic() - t0

    def process_env(self, repo_root: Path | None = None) -> dict[str, str]:
        """Environment of every process: the mesh's paths, PostgreSQL credentials, telemetry off."""
        return {
            **os.environ,
            **self.env.tool_env(),
            **self.postgres.env(),
            "DAGSTER_HOME": str(self.dagster_home),
            "MESH_REPO_ROOT": str(repo_root or self.env.repo_root),
            "MESH_ENV": "production",
            "PYTHONUNBUFFERED": "1",
        }

    def _prepare_instance(self) -> None:
        """dagster.yaml from infra/, the schema migrated once, one pool per domain."""
        self.dagster_home.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(
            self.env.repo_root / "infra" / INSTANCE_FILE, self.dagster_home / "dagster.yaml"
        )
        with self.instance() as instance:
            for domain in self.domains:
                instance.event_log_storage.set_concurrency_slots(domain_pool(domain), 1)

    @contextlib.contextmanager
    def instance(self) -> Iterator:
        """The PostgreSQL-backed instance, for the caller's process (restores its environment)."""
        import dagster as dg

        updates = {**self.postgres.env(), "DAGSTER_HOME": str(self.dagster_home)}
        with (
            temporary_environ(updates),
            dg.DagsterInstance.from_config(str(self.dagster_home)) as instance,
        ):
            yield instance

    def _code_server(self, domain: str, port: int, repo_root: Path) -> CodeServer:
        args = [
            _tool("dagster"),
            "code-server",
            "start",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-m",
            f"domains.{domain}.definitions",
            "-d",
            str(repo_root),
            "--location-name",
            domain,
        ]
        service = Service(
            f"code-server-{domain}",
            args,
            self.process_env(repo_root),
            self.log_dir / f"code-server-{domain}.log",
            cwd=repo_root,
        )
        return CodeServer(domain, port, repo_root, service)

    def _start_code_servers(self) -> None:
        from mesh_platform.core.manifest import prepare_all

        prepare_all(self.env)  # parse once, not in every code server
        for domain in self.domains:
            server = self._code_server(domain, free_port(), self.env.repo_root)
            server.service.start()
            self.code_servers[domain] = server
        with ThreadPoolExecutor(len(self.code_servers)) as pool:
            list(pool.map(self._wait_code_server, self.code_servers.values()))

    def _wait_code_server(self, server: CodeServer) -> None:
        """Until the server answers with its repositories (or with the error loading them)."""
        require_tested("dagster", "waiting for a code server (mesh_platform/production/stack.py)")
        from dagster._grpc.client import DagsterGrpcClient

        client = DagsterGrpcClient(host="127.0.0.1", port=server.port)

        def answered() -> bool:
            if not server.service.alive():
                raise RuntimeError(
                    f"code server of domain {server.domain} exited; see {server.service.log_path}"
                )
            client.list_repositories()
            return True

        wait_until(answered, self.timeout, f"the code server of domain {server.domain}")

    def _write_workspace(self) -> None:
        entries = [
            {
                "grpc_server": {
                    "host": "127.0.0.1",
                    "port": server.port,
                    "location_name": server.domain,
                }
            }
            for server in self.code_servers.values()
        ]
        self.workspace_file.write_text(
            "# Generated by mesh serve --production: one gRPC code server per domain.\n"
            + yaml.safe_dump({"load_from": entries}, sort_keys=False)
        )

    def _start_daemon_and_webserver(self) -> None:
        common = self.process_env()
        workspace = ["-w", str(self.workspace_file)]
        self.daemon = Service(
            "daemon",
            [_tool("dagster-daemon"), "run", *workspace],
            common,
            self.log_dir / "daemon.log",
            cwd=self.dagster_home,
        ).start()
        if self.webserver_port == 0 or port_open(self.webserver_port):
            self.webserver_port = free_port()
        self.webserver = Service(
            "webserver",
            [
                _tool("dagster-webserver"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.webserver_port),
                *workspace,
            ],
            common,
            self.log_dir / "webserver.log",
            cwd=self.dagster_home,
        ).start()

        def up() -> bool:
            for service in (self.daemon, self.webserver):
                if not service.alive():
                    raise RuntimeError(f"{service.name} exited; see {service.log_path}")
            with urllib.request.urlopen(f"{self.url}/server_info", timeout=5) as response:
                return response.status == 200

        wait_until(up, self.timeout, "the Dagster webserver")

    # -- operate ---------------------------------------------------------------------------

    def services(self) -> list[Service]:
        out = [s.service for s in self.code_servers.values()]
        return out + [s for s in (self.daemon, self.webserver) if s]

    def pids(self) -> set[int]:
        """Every process of the topology (services, their children, the PostgreSQL server)."""
        pids = set()
        for service in self.services():
            pids |= service.known_pids()
        if (pg := self.postgres.server_pid()) is not None:
            pids.add(pg)
        self._seen_pids |= pids
        return pids

    def replace_code_server(self, domain: str, repo_root: Path) -> CodeServer:
        """Redeploy one domain's code server from another copy of the mesh, on the same port —
        what rolling out a new image of one user deployment does."""
        old = self.code_servers[domain]
        self._seen_pids |= old.service.known_pids()
        old.service.stop()
        wait_until(lambda: not port_open(old.port), 30, f"port {old.port} to be released")
        server = self._code_server(domain, old.port, repo_root)
        server.service.start()
        self.code_servers[domain] = server
        self._wait_code_server(server)
        return server

    # -- stop ------------------------------------------------------------------------------

    def stop(self) -> set[int]:
        """Stop every process by id (SIGINT, as Ctrl-C), then PostgreSQL with ``pg_ctl stop``.

        Returns the pids still alive afterwards (empty when everything stopped cleanly).
        """
        with contextlib.suppress(Exception):
            self.pids()
        # webserver and daemon first (they call the code servers), then the code servers
        front = [s for s in (self.webserver, self.daemon) if s]
        for group in (front, [s.service for s in self.code_servers.values()]):
            if group:
                with ThreadPoolExecutor(len(group)) as pool:
                    list(pool.map(self._stop_service, group))
        self._timed("stop_postgres", self.postgres.stop)
        return alive_pids(self._seen_pids)

    def _stop_service(self, service: Service) -> None:
        self._timed(f"stop_{service.name}", service.stop)

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
