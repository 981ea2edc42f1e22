"""Two processes opening a new embedded (SQLite) ports catalog at the same moment: both see no
tables, both create them, and SQLite fails the loser with "table … already exists" (seen in
the fresh-clone check: two domains' first publishes at once). The loser must go on with the
tables the winner made; any other database error still fails, naming the setting."""

from __future__ import annotations

import duckdb
import pytest
from pyiceberg.catalog.sql import SqlCatalog, SqlCatalogBaseTable

from mesh_platform.ports import location
from mesh_platform.ports.publish import publish_snapshot
from mesh_platform.ports.store import current_snapshot


def _publish(ports) -> None:
    con = duckdb.connect()
    con.execute("create table t as select range as id from range(3)")
    publish_snapshot(con, "t", ports, "shop", "widgets", 1)
    con.close()


def test_the_loser_of_a_race_to_create_the_catalog_tables_goes_on(tmp_path, monkeypatch):
    ports = tmp_path / "ports"
    raced = []

    def create_tables_after_the_other_process(self) -> None:
        if not raced:  # the other process creates them between our check and our create
            raced.append(True)
            SqlCatalogBaseTable.metadata.create_all(self.engine)
        SqlCatalogBaseTable.metadata.create_all(self.engine, checkfirst=False)

    monkeypatch.setattr(SqlCatalog, "create_tables", create_tables_after_the_other_process)
    monkeypatch.setattr(location, "_catalogs", {})
    _publish(ports)
    assert raced and current_snapshot(ports, "shop", "widgets", 1).rows == 3


def test_other_database_errors_still_fail_naming_the_setting(tmp_path, monkeypatch):
    from sqlalchemy.exc import OperationalError

    def locked(self) -> None:
        raise OperationalError("CREATE TABLE", {}, Exception("database is locked"))

    monkeypatch.setattr(SqlCatalog, "create_tables", locked)
    monkeypatch.setattr(location, "_catalogs", {})
    with pytest.raises(RuntimeError, match="MESH_PORTS_CATALOG=.*cannot be opened.*locked"):
        _publish(tmp_path / "ports")
