"""Publishing survives a SIGKILL at every step; readers lease snapshots that retention spares."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from mesh_platform.core.failpoints import PUBLISH_POINTS
from mesh_platform.ports.checksums import content_checksum
from mesh_platform.ports.publish import publish_snapshot
from mesh_platform.ports.retention import RETAINED_SNAPSHOTS, lease_current
from mesh_platform.ports.store import current_snapshot, list_published, snapshot_history

PUBLISHER = textwrap.dedent(
    """
    import sys, duckdb
    from pathlib import Path
    from mesh_platform.ports.publish import publish_snapshot
    con = duckdb.connect()
    con.execute("create table t as select range as id, 'n' || range as name, range * 1.5 as x "
                "from range(20000) order by random()")
    print(publish_snapshot(con, "t", Path(sys.argv[1]), "shop", "widgets", 1,
                           run_id=sys.argv[2]).checksum)
    """
)


@pytest.fixture(autouse=True)
def no_grace(monkeypatch):
    monkeypatch.setenv("MESH_PORTS_GRACE_SECONDS", "0")


def publish_in_subprocess(ports_dir: Path, run_id: str, failpoint: str | None = None):
    env = {k: v for k, v in os.environ.items() if k != "MESH_FAILPOINT"}
    if failpoint:
        env["MESH_FAILPOINT"] = failpoint
    return subprocess.run(
        [sys.executable, "-c", PUBLISHER, str(ports_dir), run_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_port_consistent(ports_dir: Path) -> None:
    """The current snapshot is complete: its files' rows and checksum match its summary."""
    published = current_snapshot(ports_dir, "shop", "widgets", 1)
    assert published is not None
    con = duckdb.connect()
    files = [Path(f) for f in published.files]
    assert content_checksum(con, files) == published.checksum
    assert (
        con.execute(f"select count(*) from read_parquet({[str(f) for f in files]})").fetchone()[0]
        == published.rows
    )


def leftovers(ports_dir: Path) -> list[str]:
    """Data files on disk that no kept snapshot names."""
    named = {f for p in snapshot_history(ports_dir, "shop", "widgets", 1) for f in p.files}
    data = ports_dir / "shop" / "widgets" / "v1" / "data"
    return sorted(str(p) for p in data.rglob("*.parquet") if str(p) not in named)


def test_checksum_ignores_row_order_and_sees_any_change():
    con = duckdb.connect()
    con.execute("create table a as select range as id, range % 7 as k from range(1000)")
    con.execute("copy (select * from a order by id) to '/dev/shm/mesh-ck-a.parquet'")
    con.execute("copy (select * from a order by random()) to '/dev/shm/mesh-ck-b.parquet'")
    con.execute(
        "copy (select id, case when id = 500 then 99 else k end as k from a) "
        "to '/dev/shm/mesh-ck-c.parquet'"
    )
    try:
        a, b, c = (content_checksum(con, Path(f"/dev/shm/mesh-ck-{x}.parquet")) for x in "abc")
    finally:
        for x in "abc":
            Path(f"/dev/shm/mesh-ck-{x}.parquet").unlink(missing_ok=True)
    assert a == b
    assert a != c
    assert a.startswith("1000:")


@pytest.mark.parametrize("point", PUBLISH_POINTS)
def test_kill_at_each_publish_step_then_rerun_converges(tmp_path, point):
    clean = publish_in_subprocess(tmp_path / "clean", "run-clean000")
    assert clean.returncode == 0, clean.stderr
    clean_checksum = clean.stdout.strip()

    ports = tmp_path / "ports"
    first = publish_in_subprocess(ports, "run-first000")
    assert first.returncode == 0, first.stderr
    killed = publish_in_subprocess(ports, "run-killed00", failpoint=point)
    assert killed.returncode == -signal.SIGKILL, (point, killed.stderr)
    # what readers see after the crash: the old or the new snapshot, complete
    assert_port_consistent(ports)
    assert [p.address for p in list_published(ports)] == ["shop.widgets"]

    rerun = publish_in_subprocess(ports, "run-rerun000")
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.strip() == clean_checksum
    assert_port_consistent(ports)
    assert current_snapshot(ports, "shop", "widgets", 1).checksum == clean_checksum
    assert leftovers(ports) == []


LEASE_HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from mesh_platform.ports.retention import lease_current
    lease = lease_current(Path(sys.argv[1]), "shop", "widgets", 1)
    print(lease.published.snapshot_id, flush=True)
    sys.stdin.read()  # hold the lease until the test closes our stdin (or kills us)
    """
)


def test_retention_spares_a_snapshot_leased_by_another_process(tmp_path):
    con = duckdb.connect()

    def publish(rows: int):
        con.execute(f"create or replace table t as select range as id from range({rows})")
        return publish_snapshot(con, "t", tmp_path, "shop", "widgets", 1)

    first = publish(1)
    reader = subprocess.Popen(
        [sys.executable, "-c", LEASE_HOLDER, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "MESH_PORTS_LEASE_SECONDS": "3"},
    )
    try:
        assert reader.stdout.readline().strip() == first.snapshot_id
        for rows in range(2, RETAINED_SNAPSHOTS + 5):
            publish(rows)
        kept = {p.snapshot_id: p for p in snapshot_history(tmp_path, "shop", "widgets", 1)}
        assert first.snapshot_id in kept, "retention expired a snapshot a reader holds"
        assert len(kept) == RETAINED_SNAPSHOTS + 1
        assert all(Path(f).exists() for f in first.files)
    finally:
        reader.kill()  # a dead reader's lease expires (MESH_PORTS_LEASE_SECONDS)
        reader.wait()
    time.sleep(3.2)
    publish(100)
    assert not any(Path(f).exists() for f in first.files)
    assert len(snapshot_history(tmp_path, "shop", "widgets", 1)) == RETAINED_SNAPSHOTS


def test_lease_in_this_process_and_release(tmp_path):
    con = duckdb.connect()
    con.execute("create table t as select range as id from range(3)")
    publish_snapshot(con, "t", tmp_path, "shop", "widgets", 1)
    lease = lease_current(tmp_path, "shop", "widgets", 1)
    for _ in range(RETAINED_SNAPSHOTS + 1):
        publish_snapshot(con, "t", tmp_path, "shop", "widgets", 1)
    assert all(Path(f).exists() for f in lease.files)
    lease.release()
    publish_snapshot(con, "t", tmp_path, "shop", "widgets", 1)
    assert not any(Path(f).exists() for f in lease.files)


def test_two_first_publishers_of_one_domain_racing_for_its_namespace_both_publish(
    tmp_path, monkeypatch
):
    """Two publishers of one domain's first ports both find its catalog namespace missing and
    both insert it; the loser's insert fails on the catalog's unique key (on PostgreSQL a
    UniqueViolation, not pyiceberg's NamespaceAlreadyExistsError). Reproduced on the real SQLite
    catalog: the existence check answers "missing" once, as it did to the loser just before the
    winner's insert landed. The loser's publish must go on: the namespace exists."""
    from pyiceberg.catalog.sql import SqlCatalog

    from tests.ports_support import publish_one_row

    ports = tmp_path / "ports"
    publish_one_row(ports, "shop.orders", 1)  # the winner: the namespace exists now
    real = SqlCatalog.namespace_exists
    stale = [False]  # the loser's check, then the catalog's own answers

    def namespace_exists(self, namespace):
        return stale.pop() if stale else real(self, namespace)

    monkeypatch.setattr(SqlCatalog, "namespace_exists", namespace_exists)

    published = publish_one_row(ports, "shop.refunds", 1)

    assert stale == [], "the race was not reproduced"
    assert published.rows == 1
    assert [p.address for p in list_published(ports)] == ["shop.orders", "shop.refunds"]
