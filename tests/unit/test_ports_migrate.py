"""`mesh ports migrate`: a data dir of the old snapshot format becomes Iceberg tables, checked by
checksum, with nothing deleted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb

from mesh_platform.ports.checksums import content_checksum
from mesh_platform.ports.migrate import migrate_ports
from mesh_platform.ports.records import read_governance_record
from mesh_platform.ports.store import current_snapshot

MESH = Path(sys.executable).parent / "mesh"


def old_port(ports: Path, domain: str, port: str, per_day: bool) -> tuple[str, int]:
    """A port version as the old store wrote it; returns its checksum and rows."""
    version = ports / domain / port / "v1"
    snapshots = version / "snapshots"
    snapshots.mkdir(parents=True)
    con = duckdb.connect()
    con.execute(
        "create table t as select (date '2026-01-01' + (range % 3)::int) as day, range as id, "
        "range * 0.5 as x from range(30)"
    )
    snapshot = snapshots / "20260101T000000000000Z-run00001.parquet"
    if per_day:
        snapshot.mkdir()
        for day in ("2026-01-01", "2026-01-02", "2026-01-03"):
            con.execute(
                f"copy (select * from t where day = '{day}') to '{snapshot / (day + '.parquet')}'"
            )
        files = sorted(snapshot.glob("*.parquet"))
    else:
        con.execute(f"copy t to '{snapshot}'")
        files = [snapshot]
    checksum = content_checksum(con, files)
    meta = {
        "address": f"{domain}.{port}",
        "version": 1,
        "snapshot_id": snapshot.stem,
        "path": str(snapshot),
        "rows": 30,
        "published_at": "2026-01-01T00:00:00+00:00",
        "run_id": "run00001-old",
        "checksum": checksum,
        "partition_column": "day" if per_day else None,
        "checksum_version": 2,
    }
    snapshot.with_suffix(".json").write_text(json.dumps(meta))
    (version / "current.parquet").symlink_to(os.path.relpath(snapshot, version))
    (version / "governance.json").write_text(json.dumps({"published": True, "findings": []}))
    return checksum, 30


def test_old_ports_become_iceberg_tables_with_the_same_content(tmp_path):
    ports = tmp_path / "ports"
    whole = old_port(ports, "shop", "orders", per_day=False)
    daily = old_port(ports, "shop", "events", per_day=True)
    results = {r.address: r for r in migrate_ports(ports)}
    assert {a: r.status for a, r in results.items()} == {
        "shop.orders": "migrated",
        "shop.events": "migrated",
    }
    orders = current_snapshot(ports, "shop", "orders", 1)
    events = current_snapshot(ports, "shop", "events", 1)
    assert (orders.checksum, orders.rows) == whole
    assert (events.checksum, events.rows) == daily
    assert events.partition_column == "day" and sorted(events.partitions) == [
        "2026-01-01",
        "2026-01-02",
        "2026-01-03",
    ]
    assert orders.run_id == "run00001-old"  # the migrated snapshot names the run that built it
    assert read_governance_record(ports, "shop", "orders", 1) == {
        "published": True,
        "findings": [],
    }
    # nothing deleted: the old files wait under legacy/ for the owner to remove them
    legacy = ports / "shop" / "orders" / "v1" / "legacy"
    assert {p.name for p in legacy.iterdir()} == {"current.parquet", "snapshots", "governance.json"}


def test_migrating_twice_changes_nothing(tmp_path):
    ports = tmp_path / "ports"
    old_port(ports, "shop", "orders", per_day=False)
    migrate_ports(ports)
    before = current_snapshot(ports, "shop", "orders", 1)
    assert migrate_ports(ports) == []  # no old-format port left
    assert current_snapshot(ports, "shop", "orders", 1) == before


def test_the_command_reports_each_port(tmp_path):
    data = tmp_path / "data"
    old_port(data / "ports", "shop", "orders", per_day=False)
    out = subprocess.run(
        [str(MESH), "ports", "migrate"],
        env={**os.environ, "MESH_DATA_DIR": str(data)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "shop.orders v1 migrated: 30 rows" in out.stdout
    assert (data / "ports" / "mesh.duckdb").exists()  # the views file names the new table
    views = duckdb.connect(str(data / "ports" / "mesh.duckdb"), read_only=True)
    assert views.execute("select count(*) from shop.orders").fetchone()[0] == 30


def test_doctor_points_at_the_migration_until_it_is_done(tmp_path, monkeypatch):
    from mesh_platform.core.environment import get_environment
    from mesh_platform.scaffold.doctor import port_store_reachable

    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path / "data"))
    env = get_environment()
    old_port(env.ports_dir, "shop", "orders", per_day=False)
    check = port_store_reachable(env)
    assert not check.ok and "shop.orders v1" in check.detail
    assert "mesh ports migrate" in check.fix
    migrate_ports(env.ports_dir)
    assert port_store_reachable(env).ok
