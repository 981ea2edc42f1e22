"""The ports' Iceberg catalog on a real PostgreSQL (what production uses, MESH_PORTS_CATALOG):
two publishers in two processes commit to it at once, readers see whole snapshots, a bad URL
fails naming the setting (never its password)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import duckdb
import pytest

from mesh_platform.ports.location import port_store
from mesh_platform.ports.reader import connect
from mesh_platform.ports.store import list_published, snapshot_history

pytestmark = pytest.mark.slow

PUBLISHER = textwrap.dedent(
    """
    import sys, duckdb
    from pathlib import Path
    from mesh_platform.ports.publish import publish_snapshot
    con = duckdb.connect()
    for n in range(1, 6):
        con.execute(f"create or replace table t as select {n} as n from range({n} * 100)")
        publish_snapshot(con, "t", Path(sys.argv[1]), "shop", sys.argv[2], 1)
    """
)


@pytest.fixture(scope="module")
def postgres(tmp_path_factory):
    from mesh_platform.production.postgres import PostgresCluster

    cluster = PostgresCluster(tmp_path_factory.mktemp("pg")).start()
    try:
        yield cluster
    finally:
        cluster.stop()


def test_publishers_in_two_processes_share_a_postgresql_catalog(postgres, tmp_path, monkeypatch):
    url = f"postgresql+psycopg2://dagster:{postgres.password}@127.0.0.1:{postgres.port}/dagster"
    monkeypatch.setenv("MESH_PORTS_CATALOG", url)
    ports = tmp_path / "ports"
    publishers = [
        subprocess.Popen([sys.executable, "-c", PUBLISHER, str(ports), name], env=os.environ)
        for name in ("orders", "refunds")
    ]
    assert [p.wait(timeout=300) for p in publishers] == [0, 0]
    assert [p.address for p in list_published(ports)] == ["shop.orders", "shop.refunds"]
    assert not (ports / "catalog.db").exists()  # the catalog is PostgreSQL's, not SQLite's
    con = connect(ports)
    assert con.execute("select count(*), min(n), max(n) from shop.orders").fetchone() == (500, 5, 5)
    assert len(snapshot_history(ports, "shop", "refunds", 1)) == 5
    # the catalog's tables are in PostgreSQL
    import psycopg2

    with psycopg2.connect(postgres.dsn()) as pg, pg.cursor() as cur:
        cur.execute("select table_name from iceberg_tables order by 1")
        assert cur.fetchall() == [("orders_v1",), ("refunds_v1",)]


def test_an_unreachable_catalog_is_named_without_its_password(tmp_path, monkeypatch):
    word = "hunter" + "22"
    monkeypatch.setenv("MESH_PORTS_CATALOG", f"postgresql+psycopg2://mesh:{word}@127.0.0.1:1/x")
    con = duckdb.connect()
    con.execute("create table t as select 1 as id")
    from mesh_platform.ports.publish import publish_snapshot

    with pytest.raises(RuntimeError, match="MESH_PORTS_CATALOG=.*mesh:\\*\\*\\*@") as caught:
        publish_snapshot(con, "t", port_store(tmp_path).anchor, "shop", "orders", 1)
    assert word not in str(caught.value)
