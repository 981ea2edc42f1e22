"""Publishing: immutable snapshots, an atomic pointer, retention that spares the current one."""

from __future__ import annotations

import duckdb

from mesh_platform.ports.reader import connect
from mesh_platform.ports.store import (
    RETAINED_SNAPSHOTS,
    current_snapshot,
    list_published,
    pointer_path,
    publish_snapshot,
)


def publish(con, tmp_path, rows: int, run: str):
    con.execute(f"create or replace table t as select range as id from range({rows})")
    return publish_snapshot(con, "t", tmp_path, "shop", "widgets", 1, run_id=run, order_by="id")


def test_publish_switches_pointer_and_keeps_old_snapshot_file(tmp_path):
    con = duckdb.connect()
    first = publish(con, tmp_path, 3, "run-aaaaaaaa")
    second = publish(con, tmp_path, 5, "run-bbbbbbbb")
    assert first.snapshot_id != second.snapshot_id
    assert current_snapshot(tmp_path, "shop", "widgets", 1) == second
    pointer = pointer_path(tmp_path, "shop", "widgets", 1)
    assert pointer.is_symlink()
    count = con.execute(f"select count(*) from '{pointer}'").fetchone()[0]
    assert count == 5
    # the earlier snapshot is immutable and still readable by whoever holds it
    assert con.execute(f"select count(*) from '{first.path}'").fetchone()[0] == 3


def test_no_temporary_files_left_behind(tmp_path):
    con = duckdb.connect()
    publish(con, tmp_path, 2, "run-cccccccc")
    leftovers = [p.name for p in tmp_path.rglob(".*") if p.name != ".publish.lock"]
    assert leftovers == []


def test_retention_keeps_recent_snapshots_and_the_current_one(tmp_path):
    con = duckdb.connect()
    published = [
        publish(con, tmp_path, i + 1, f"run-{i:08d}") for i in range(RETAINED_SNAPSHOTS + 3)
    ]
    snapshots = sorted(
        (pointer_path(tmp_path, "shop", "widgets", 1).parent / "snapshots").glob("*.parquet")
    )
    assert len(snapshots) == RETAINED_SNAPSHOTS
    assert str(snapshots[-1]) == published[-1].path


def test_list_published_and_analyst_views(tmp_path):
    con = duckdb.connect()
    publish(con, tmp_path, 4, "run-dddddddd")
    assert [p.address for p in list_published(tmp_path)] == ["shop.widgets"]
    analyst = connect(tmp_path)
    assert analyst.execute("select count(*) from shop.widgets").fetchone()[0] == 4
    assert analyst.execute("select count(*) from shop.widgets_v1").fetchone()[0] == 4


def test_unpublished_port_has_no_current_snapshot(tmp_path):
    assert current_snapshot(tmp_path, "shop", "nothing", 1) is None
