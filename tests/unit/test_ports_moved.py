"""Published ports moved to another path (a renamed project folder, a backup restored
elsewhere): Iceberg points every file at the old path, so the store refuses, naming both paths
and what to do, instead of failing on the first missing file."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from mesh_platform.ports.publish import publish_snapshot
from mesh_platform.ports.store import current_snapshot, list_published


def _publish(ports) -> None:
    con = duckdb.connect()
    con.execute("create table t as select range as id from range(3)")
    publish_snapshot(con, "t", ports, "shop", "widgets", 1)
    con.close()


def test_ports_in_place_read_as_published(tmp_path):
    ports = tmp_path / "data" / "ports"
    _publish(ports)
    assert current_snapshot(ports, "shop", "widgets", 1).rows == 3


def test_moved_ports_are_refused_naming_both_paths(tmp_path):
    old = tmp_path / "old" / "data"
    _publish(old / "ports")
    new = tmp_path / "new" / "data"
    shutil.move(old, new)

    for read in (
        lambda: current_snapshot(new / "ports", "shop", "widgets", 1),
        lambda: list_published(new / "ports"),
    ):
        with pytest.raises(RuntimeError) as refused:
            read()
        message = str(refused.value)
        assert (
            f"in {(new / 'ports').resolve()} were written at {(old / 'ports').resolve()}" in message
        )
        assert "remove" in message and "mesh materialize" in message
