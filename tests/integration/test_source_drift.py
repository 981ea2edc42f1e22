"""Issue 27 A, reproduced: the artists' payments export gains a `currency` column with every
10th payment in JPY (amount ×150). The build must stop artist_payments before anything is built
or published, name domain, product, source and column, and keep the last good snapshot; the
domain's other products still publish; the unchanged source passes again."""

from __future__ import annotations

import csv
import shutil

import duckdb
import pytest

from mesh_platform.core.environment import apply_tool_env
from mesh_platform.ports.store import current_snapshot
from mesh_platform.run.runner import materialize_mesh
from tests.ports_support import port_sql

pytestmark = pytest.mark.slow


@pytest.fixture
def drift_env(built_mesh, tmp_path, monkeypatch):
    env, _ = built_mesh
    data = tmp_path / "data"
    shutil.copytree(env.data_dir, data, symlinks=True)
    monkeypatch.setenv("MESH_DATA_DIR", str(data))
    return apply_tool_env()


def add_currency(path) -> None:
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    out = [[*rows[0], "currency"]]
    for i, row in enumerate(rows[1:]):
        if i % 10 == 9:
            row = [*row[:3], f"{float(row[3]) * 150:.2f}", *row[4:], "JPY"]
        else:
            row = [*row, "EUR"]
        out.append(row)
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(out)


def _paid(env) -> float:
    port = port_sql(env.ports_dir, "artists.artist_payments")
    return duckdb.connect().execute(f"select sum(amount_eur) from {port}").fetchone()[0]


def test_a_new_source_column_blocks_only_the_products_reading_it(drift_env):
    env = drift_env
    payments = env.operational_dir / "artist_management" / "payments.csv"
    clean = payments.read_bytes()
    before = current_snapshot(env.ports_dir, "artists", "artist_payments", 1)
    paid = _paid(env)
    add_currency(payments)

    (run,) = materialize_mesh(only=["artists"])

    assert not run.success
    message = "\n".join(run.errors)
    assert "domain artists, product artist_payments" in message
    assert "source artist_management.payments" in message
    assert "column `currency` (VARCHAR) is new" in message
    assert "so it was NOT published (nothing was built from it)" in message
    assert "_artists__sources.yml" in message and "mesh_schema_drift" in message
    # nothing published changed for the port; the domain's other products published
    assert current_snapshot(env.ports_dir, "artists", "artist_payments", 1) == before
    assert _paid(env) == paid
    assert "artists/artist_payments" not in run.materialized
    assert {"artists/artist_profiles", "artists/track_catalog"} <= run.materialized

    payments.write_bytes(clean)  # the export fixed: it builds and publishes again
    (run,) = materialize_mesh(only=["artists"])
    assert run.success, run.errors
    assert "artists/artist_payments" in run.materialized
    assert _paid(env) == paid


def test_a_stray_carriage_return_and_a_control_character_are_rejected_rows(drift_env):
    """Issue 27 B (part): a stray `\\r` or a control character in an event line used to fail the
    read of the whole stream; now the pieces are rows the port's contract rejects."""
    from mesh_platform.build.rejects import REASON_COLUMN, read_rejects_record

    env = drift_env
    day = sorted((env.operational_dir / "events" / "plays").glob("date=*"))[3]
    path = day / "plays.jsonl"
    lines = path.read_bytes().split(b"\n")
    lines[1] = lines[1][:50] + b"\r" + lines[1][50:]
    lines[2] = lines[2][:30] + b"\x01" + lines[2][30:]
    lines[3] = lines[3][:40] + b" <<garbled>>"
    path.write_bytes(b"\n".join(lines))

    (run,) = materialize_mesh(only=["playback"])

    assert run.success, run.errors
    snap = current_snapshot(env.ports_dir, "playback", "play_events", 1)
    record = read_rejects_record(env.ports_dir, "playback", "play_events", 1, snap.snapshot_id)
    assert record["reconciled"]
    rejected = (
        duckdb.connect()
        .execute(
            f"select {REASON_COLUMN} from read_parquet('{record['rejects_path']}') "
            f"where event_date = date '{day.name[5:]}'"
        )
        .fetchall()
    )
    assert len(rejected) == 4  # the line split by `\r` (two pieces), the cut one, the garbled one
    assert all("event_id" in reason for (reason,) in rejected)


def test_a_contract_reading_a_held_back_model_names_it_instead_of_failing_every_check(
    drift_env,
):
    """artist_payments' contract checks each payment's artist against marts.artist_profiles.
    When the tracks export drifts before artist_profiles was ever built, the step holds
    artist_profiles back; artist_payments builds, but Soda cannot run its contract (the table
    does not exist). The step must say that, not report 11 checks NOT_EVALUATED beside a
    catalog error."""
    env = drift_env
    with duckdb.connect(str(env.domain_database("artists"))) as con:
        con.execute("drop table marts.artist_profiles")  # as on a fresh data dir
    tracks = env.operational_dir / "artist_management" / "tracks.csv"
    text = tracks.read_text()
    tracks.write_text(text.replace(",title,", ",track_title,", 1))
    before = current_snapshot(env.ports_dir, "artists", "artist_payments", 1)

    (run,) = materialize_mesh(only=["artists"])

    assert not run.success
    message = "\n".join(run.errors)
    assert (
        "domain artists, product artist_payments: output port artists.artist_payments v1 was "
        "built but NOT verified or published: its contract reads marts.artist_profiles "
        "(model artist_profiles), which this run held back"
    ) in message
    assert "check contract__artist_id__failed_rows__known_artist reads marts.artist_profiles" in (
        message
    )
    assert "NOT_EVALUATED" not in message and "does not exist" not in message
    assert current_snapshot(env.ports_dir, "artists", "artist_payments", 1) == before
    assert "artists/artist_payments" not in run.materialized

    tracks.write_text(text)  # the export fixed: profiles build, payments verify and publish
    (run,) = materialize_mesh(only=["artists"])
    assert run.success, run.errors
    assert {"artists/artist_payments", "artists/artist_profiles"} <= run.materialized
