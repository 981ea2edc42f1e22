"""Ports on S3-compatible object storage, end to end, against a real S3 server on loopback.

moto's server mode (a separate process speaking the S3 HTTP API) stands in for any
S3-compatible store; the platform reaches it with the standard ``AWS_*`` variables only. The
mesh is built once with ``MESH_PORTS_URI=s3://…``: every port's Iceberg table lives in the
bucket, the catalog in SQLite on the machine. Then ``mesh query``, the portal's API and a
consumer domain's build read the ports from the bucket; a publisher killed mid-publish leaves
nothing visible half-written; and a reader during 100 publishes sees only whole snapshots.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from fastapi.testclient import TestClient

from mesh_platform.production.processes import free_port, port_open, wait_until

pytestmark = pytest.mark.slow

BUCKET = "mesh-ports"
MESH = Path(sys.executable).parent / "mesh"
PORTS = 15  # the Daff mesh's output ports


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory) -> Iterator[dict[str, str]]:
    """A moto S3 server on 127.0.0.1 with an empty bucket; the variables that reach it."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log, "w") as out:
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: port_open(port), timeout=30, what="the S3 server")
        env = {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_ACCESS_KEY_ID": "fake-moto-id",
            "AWS_SECRET_ACCESS_KEY": "fake-moto-key",
            "AWS_REGION": "us-east-1",
            "MESH_PORTS_URI": f"s3://{BUCKET}/ports",
        }
        client(env).create_bucket(Bucket=BUCKET)
        yield env
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)


def client(env: dict[str, str]):
    return boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_REGION"],
    )


def keys(env: dict[str, str], prefix: str = "ports/") -> list[str]:
    pages = client(env).get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


@pytest.fixture(scope="module")
def s3_mesh(s3_server, tmp_path_factory) -> dict[str, str]:
    """`mesh demo` once, with every port published to the bucket."""
    data = tmp_path_factory.mktemp("s3-mesh")
    env = {**os.environ, **s3_server, "MESH_DATA_DIR": str(data)}
    demo = subprocess.run(
        [str(MESH), "demo", "--scale", "0.02"], env=env, capture_output=True, text=True,
        timeout=900,
    )  # fmt: skip
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert f"all {PORTS} products published" in demo.stdout
    return env


def mesh(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(MESH), *args], env=env, capture_output=True, text=True, timeout=600)


def test_every_port_is_an_iceberg_table_in_the_bucket(s3_mesh):
    stored = keys(s3_mesh)
    tables = {"/".join(k.split("/")[1:4]) for k in stored if "/metadata/" in k}
    assert len(tables) == PORTS, sorted(tables)
    assert any(k.endswith(".parquet") and "/data/" in k for k in stored)
    # nothing of the ports' data on the machine: only the catalog, locks and rejects
    local = Path(s3_mesh["MESH_DATA_DIR"]) / "ports"
    assert not [p for p in local.rglob("*.parquet") if "rejects" not in p.parts]
    assert (local / "catalog.db").exists()


def test_a_consumer_domain_built_from_the_bucket(s3_mesh):
    # recommendations read playback's and artists' ports: the step fetched their files once
    # into the data dir's input cache, and linked them for dbt
    data = Path(s3_mesh["MESH_DATA_DIR"])
    assert list((data / "inputs" / ".cache").glob("*.parquet"))
    out = mesh(s3_mesh, "products")
    assert out.returncode == 0 and "recommendations.weekly_top_tracks" in out.stdout


def test_mesh_query_and_the_portal_read_the_bucket(s3_mesh, tmp_path, monkeypatch):
    out = mesh(
        s3_mesh, "query", "--as", "alice", "--format", "csv",
        "select count(*) as n from playback.daily_track_plays",
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    rows = int(out.stdout.strip().splitlines()[-1])
    assert rows > 0
    for name, value in s3_mesh.items():
        if name.startswith(("AWS_", "MESH_")):
            monkeypatch.setenv(name, value)
    access = tmp_path / "access"
    import shutil

    from mesh_platform.access.service import AccessService
    from mesh_platform.core.environment import get_environment
    from mesh_platform.portal import create_app

    from ..conftest import REPO

    shutil.copytree(REPO / "governance" / "access", access)
    monkeypatch.setenv("MESH_ACCESS_DIR", str(access))
    env = get_environment()
    token = AccessService(env).issue_token("alice")
    api = TestClient(create_app(env))
    got = api.get(
        "/api/v1/ports/playback/daily_track_plays/data",
        params={"format": "json", "limit": 100_000},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert got.status_code == 200, got.text
    assert len(got.json()["rows"]) == rows
    assert got.headers["X-Mesh-Snapshot"].isdigit()


def test_a_publisher_killed_mid_publish_leaves_nothing_half_visible(s3_mesh, monkeypatch):
    from mesh_platform.core.environment import get_environment
    from mesh_platform.ports.store import current_snapshot

    for name, value in s3_mesh.items():
        if name.startswith(("AWS_", "MESH_")):
            monkeypatch.setenv(name, value)
    ports_dir = get_environment().ports_dir
    before = current_snapshot(ports_dir, "artists", "track_catalog", 1)
    files_before = set(keys(s3_mesh, "ports/artists/"))
    killed = mesh(
        {**s3_mesh, "MESH_FAILPOINT": "publish.files_placed:1"},
        "materialize", "artists", "--full-refresh",
    )  # fmt: skip
    assert killed.returncode != 0
    written = set(keys(s3_mesh, "ports/artists/")) - files_before
    assert any(k.endswith(".parquet") for k in written), "the killed publish wrote no file"
    for port in ("artist_payments", "artist_profiles", "artist_royalties", "track_catalog"):
        now = current_snapshot(ports_dir, "artists", port, 1)
        assert now is not None and now.files
        assert all(f.replace(f"s3://{BUCKET}/", "") not in written for f in now.files), port
    assert current_snapshot(ports_dir, "artists", "track_catalog", 1) == before
    # the next publish, after the grace period, removes what the killed one left
    rerun = mesh({**s3_mesh, "MESH_PORTS_GRACE_SECONDS": "0"}, "materialize", "artists")
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    left = set(keys(s3_mesh, "ports/artists/"))
    assert not [k for k in written if k.endswith(".parquet") and k in left]


PUBLISHER = textwrap.dedent(
    """
    import sys, duckdb
    from pathlib import Path
    from mesh_platform.ports.publish import publish_snapshot
    con = duckdb.connect()
    for n in range(1, int(sys.argv[2]) + 1):
        # every row of snapshot n holds n, and there are n * 10 rows: a reader can tell a
        # whole snapshot from a mix of two
        con.execute(f"create or replace table t as select {n} as n from range({n * 10})")
        publish_snapshot(con, "t", Path(sys.argv[1]), "load", "counter", 1)
        print(n, flush=True)
    """
)


def test_a_reader_during_100_publishes_sees_only_whole_snapshots(s3_server, tmp_path):
    from mesh_platform.core.environment import temporary_environ
    from mesh_platform.ports.reader import connect, release

    # a short grace period: old snapshots expire while the reader reads
    env = {
        **os.environ,
        **s3_server,
        "MESH_PORTS_URI": f"s3://{BUCKET}/load",
        "MESH_PORTS_GRACE_SECONDS": "1",
    }
    ports_dir = tmp_path / "ports"
    publisher = subprocess.Popen(
        [sys.executable, "-c", PUBLISHER, str(ports_dir), "100"],
        env=env, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    seen: list[tuple[int, int, int]] = []
    errors: list[str] = []
    first = publisher.stdout.readline()  # the table exists from here on
    assert first.strip() == "1"
    done = threading.Event()
    threading.Thread(target=lambda: (publisher.wait(), done.set()), daemon=True).start()
    updates = {k: env[k] for k in (*s3_server, "MESH_PORTS_GRACE_SECONDS")}
    with temporary_environ(updates):
        while not done.is_set():
            try:
                con = connect(ports_dir)
                seen.append(
                    con.execute("select count(*), min(n), max(n) from load.counter").fetchone()
                )
                release(con)
            except Exception as exc:  # any error is a failure of the store's promise
                errors.append(repr(exc))
    assert publisher.returncode == 0
    assert errors == []
    assert len(seen) >= 20
    assert all(rows == n * 10 and n == high for rows, n, high in seen), seen
    assert seen[-1][1] >= 99 or len({s[1] for s in seen}) > 10
