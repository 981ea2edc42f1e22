"""A throwaway PostgreSQL cluster on loopback for the production topology on one machine.

``initdb`` into a fresh directory, ``pg_ctl start`` on a free 127.0.0.1 port (no Unix socket),
password authentication with a random password handed to Dagster only through the
environment, ``pg_ctl stop`` at the end. PostgreSQL refuses to run as root: as root the
cluster belongs to the unprivileged ``postgres`` (or ``nobody``) user and lives in a fresh
directory under the system temp dir, which that user can reach.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from mesh_platform.core.extras import require
from mesh_platform.production.processes import free_port, wait_until

USER = "dagster"
DATABASE = "dagster"


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(
            f"PostgreSQL's `{name}` is not on PATH: install PostgreSQL (15 or later) server "
            "binaries to run the production topology locally"
        )
    return found


def _unprivileged_user() -> pwd.struct_passwd | None:
    """Who runs PostgreSQL when we are root (it refuses to run as root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root and no `postgres` or `nobody` user to run PostgreSQL as")


@dataclass
class PostgresCluster:
    """One PostgreSQL cluster: its directory, port and the credentials Dagster uses."""

    parent_dir: Path
    port: int = field(default_factory=free_port)
    password: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    directory: Path | None = None
    _owner: pwd.struct_passwd | None = None

    @property
    def data_dir(self) -> Path:
        if self.directory is None:
            raise RuntimeError("PostgreSQL cluster not initialised: call start() first")
        return self.directory / "pgdata"

    def env(self) -> dict[str, str]:
        """What infra/dagster.production.yaml reads: the only place the password travels."""
        return {
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USERNAME": USER,
            "DAGSTER_PG_PASSWORD": self.password,
            "DAGSTER_PG_DB": DATABASE,
        }

    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user={USER} password={self.password} dbname={DATABASE}"

    def _run(self, args: list[str], **kwargs) -> subprocess.CompletedProcess:
        if self._owner:
            uid, gid = self._owner.pw_uid, self._owner.pw_gid
            args = [
                _binary("setpriv"),
                f"--reuid={uid}",
                f"--regid={gid}",
                "--clear-groups",
                *args,
            ]
        env = {**os.environ, "LC_ALL": "C", "PGPASSWORD": self.password}
        return subprocess.run(args, env=env, capture_output=True, text=True, **kwargs)

    def start(self) -> PostgresCluster:
        self._owner = _unprivileged_user()
        if self._owner:
            self.directory = Path(tempfile.mkdtemp(prefix="mesh-postgres-"))
            os.chown(self.directory, self._owner.pw_uid, self._owner.pw_gid)
            (self.parent_dir).mkdir(parents=True, exist_ok=True)
            (self.parent_dir / "postgres-location.txt").write_text(f"{self.directory}\n")
        else:
            self.parent_dir.mkdir(parents=True, exist_ok=True)
            self.directory = Path(tempfile.mkdtemp(prefix="postgres-", dir=self.parent_dir))
        pwfile = self.directory / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self._owner:
            os.chown(pwfile, self._owner.pw_uid, self._owner.pw_gid)
        pwfile.chmod(0o600)
        self._check(
            self._run(
                [
                    _binary("initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    USER,
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--no-sync",
                ]
            ),
            "initdb",
        )
        pwfile.unlink()
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories='' "
            "-c fsync=off -c max_connections=200"
        )
        self._check(
            self._run(
                [
                    _binary("pg_ctl"),
                    "start",
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.directory / "postgres.log"),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    "60",
                ]
            ),
            "pg_ctl start",
        )
        wait_until(self._create_database, 30, "PostgreSQL to accept connections")
        return self

    def _create_database(self) -> bool:
        psycopg2 = require("psycopg2", "production")

        con = psycopg2.connect(
            host="127.0.0.1", port=self.port, user=USER, password=self.password, dbname="postgres"
        )
        try:
            con.autocommit = True
            with con.cursor() as cur:
                cur.execute("select 1 from pg_database where datname = %s", (DATABASE,))
                if not cur.fetchone():
                    cur.execute(f"create database {DATABASE}")
        finally:
            con.close()
        return True

    def running(self) -> bool:
        if self.directory is None or not self.data_dir.exists():
            return False
        return self._run([_binary("pg_ctl"), "status", "-D", str(self.data_dir)]).returncode == 0

    def server_pid(self) -> int | None:
        pidfile = self.data_dir / "postmaster.pid" if self.directory else None
        if pidfile and pidfile.exists():
            return int(pidfile.read_text().split()[0])
        return None

    def stop(self, remove: bool = True) -> None:
        """``pg_ctl stop -m fast``: disconnect clients, shut down cleanly; then drop the files."""
        if self.directory is None:
            return
        if self.data_dir.exists() and self.running():
            self._check(
                self._run(
                    [_binary("pg_ctl"), "stop", "-D", str(self.data_dir), "-m", "fast", "-w"],
                    timeout=120,
                ),
                "pg_ctl stop",
            )
        if remove:
            shutil.rmtree(self.directory, ignore_errors=True)

    def _check(self, result: subprocess.CompletedProcess, what: str) -> None:
        if result.returncode != 0:
            log = self.directory / "postgres.log" if self.directory else None
            tail = log.read_text()[-2000:] if log and log.exists() else ""
            raise RuntimeError(
                f"PostgreSQL {what} failed (exit {result.returncode}): "
                f"{result.stderr.strip() or result.stdout.strip()}\n{tail}"
            )
