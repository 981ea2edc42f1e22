"""Ports are Iceberg tables: one commit per publish, time travel, retention by snapshot expiry,
readable by any Iceberg reader."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from mesh_platform.ports.location import load_catalog, port_store
from mesh_platform.ports.publish import publish_snapshot
from mesh_platform.ports.reader import connect
from mesh_platform.ports.retention import RETAINED_SNAPSHOTS
from mesh_platform.ports.store import current_snapshot, list_published, snapshot_history


@pytest.fixture(autouse=True)
def no_grace(monkeypatch):
    monkeypatch.setenv("MESH_PORTS_GRACE_SECONDS", "0")


def publish(con, tmp_path, rows: int, run: str):
    con.execute(f"create or replace table t as select range as id from range({rows})")
    return publish_snapshot(con, "t", tmp_path, "shop", "widgets", 1, run_id=run, order_by="id")


def count(con, published) -> int:
    files = ", ".join(f"'{f}'" for f in published.files)
    return con.execute(f"select count(*) from read_parquet([{files}])").fetchone()[0]


def data_files(ports: Path) -> set[str]:
    return {str(p) for p in (ports / "shop" / "widgets" / "v1" / "data").rglob("*.parquet")}


def test_publish_commits_a_new_snapshot_and_the_old_one_stays_readable(tmp_path):
    con = duckdb.connect()
    first = publish(con, tmp_path, 3, "run-aaaaaaaa")
    second = publish(con, tmp_path, 5, "run-bbbbbbbb")
    assert first.snapshot_id != second.snapshot_id
    assert current_snapshot(tmp_path, "shop", "widgets", 1) == second
    assert (second.rows, second.run_id, count(con, second)) == (5, "run-bbbbbbbb", 5)
    # the earlier snapshot is immutable and still readable by whoever pinned it
    pinned = current_snapshot(tmp_path, "shop", "widgets", 1, snapshot_id=first.snapshot_id)
    assert pinned == first and count(con, pinned) == 3


def test_any_iceberg_reader_reads_the_port(tmp_path):
    con = duckdb.connect()
    publish(con, tmp_path, 4, "run-cccccccc")
    table = load_catalog(port_store(tmp_path)).load_table(("shop", "widgets_v1"))
    assert table.scan().to_arrow().num_rows == 4
    assert table.current_snapshot().summary["mesh.rows"] == "4"


def test_time_travel_reads_the_snapshot_current_at_a_moment(tmp_path):
    con = duckdb.connect()
    publish(con, tmp_path, 3, "run-dddddddd")
    between = datetime.now(UTC)
    publish(con, tmp_path, 7, "run-eeeeeeee")
    then = connect(tmp_path, as_of=between)
    assert then.execute("select count(*) from shop.widgets").fetchone()[0] == 3
    assert connect(tmp_path).execute("select count(*) from shop.widgets").fetchone()[0] == 7


def test_no_staging_files_left_behind(tmp_path):
    con = duckdb.connect()
    published = publish(con, tmp_path, 2, "run-ffffffff")
    assert data_files(tmp_path) == set(published.files)
    assert [p for p in tmp_path.rglob(".*") if p.name != ".publish.lock"] == []


def test_retention_expires_old_snapshots_and_removes_only_their_files(tmp_path):
    con = duckdb.connect()
    published = [
        publish(con, tmp_path, i + 1, f"run-{i:08d}") for i in range(RETAINED_SNAPSHOTS + 3)
    ]
    kept = snapshot_history(tmp_path, "shop", "widgets", 1)
    assert kept == published[-RETAINED_SNAPSHOTS:]
    assert data_files(tmp_path) == {f for p in kept for f in p.files}
    assert all(count(con, p) == p.rows for p in kept)


def test_retention_keeps_snapshots_superseded_within_the_grace_period(tmp_path, monkeypatch):
    monkeypatch.setenv("MESH_PORTS_GRACE_SECONDS", "3600")
    con = duckdb.connect()
    for i in range(RETAINED_SNAPSHOTS + 2):
        publish(con, tmp_path, i + 1, f"run-{i:08d}")
    assert len(snapshot_history(tmp_path, "shop", "widgets", 1)) == RETAINED_SNAPSHOTS + 2


def test_list_published_and_analyst_views(tmp_path):
    con = duckdb.connect()
    publish(con, tmp_path, 4, "run-dddddddd")
    assert [p.address for p in list_published(tmp_path)] == ["shop.widgets"]
    analyst = connect(tmp_path)
    assert analyst.execute("select count(*) from shop.widgets").fetchone()[0] == 4
    assert analyst.execute("select count(*) from shop.widgets_v1").fetchone()[0] == 4


def test_a_changed_column_type_is_refused_and_nothing_becomes_visible(tmp_path):
    con = duckdb.connect()
    before = publish(con, tmp_path, 3, "run-11111111")
    con.execute("create or replace table t as select 'x' || range as id from range(2)")
    with pytest.raises(ValueError, match=r"shop\.widgets v1.*new major version \(v2\)"):
        publish_snapshot(con, "t", tmp_path, "shop", "widgets", 1)
    assert current_snapshot(tmp_path, "shop", "widgets", 1) == before
    assert data_files(tmp_path) == set(before.files)


def test_an_added_column_evolves_the_table(tmp_path):
    con = duckdb.connect()
    publish(con, tmp_path, 3, "run-22222222")
    con.execute("create or replace table t as select range as id, 'n' as name from range(2)")
    publish_snapshot(con, "t", tmp_path, "shop", "widgets", 1)
    table = load_catalog(port_store(tmp_path)).load_table(("shop", "widgets_v1"))
    assert [f.name for f in table.schema().fields] == ["id", "name"]
    assert len(table.schemas()) == 2  # Iceberg keeps the schema's history


def test_unpublished_port_has_no_current_snapshot(tmp_path):
    assert current_snapshot(tmp_path, "shop", "nothing", 1) is None
    assert list_published(tmp_path) == []
