"""Incremental consumers: which upstream days changed since a step last built, by content."""

from __future__ import annotations

import duckdb

from mesh_platform.ports.changes import (
    CHANGED_FROM_ENV,
    decide,
    load_records,
    record_path,
    resolve_upstream,
    save_records,
    upstream_state,
)
from mesh_platform.ports.publish import publish_snapshot
from mesh_platform.ports.store import DayPartitions

PLAYS = "playback.play_events v1"
CATALOG = "artists.track_catalog v1"


def days(**by_day):
    return {"days": {d.replace("_", "-")[1:]: c for d, c in by_day.items()}}


def test_first_build_and_full_refresh_rebuild_fully():
    now = {PLAYS: days(d2026_01_01="1:a")}
    assert decide([None], now).changed_from is None
    assert decide([now], now, full_refresh=True).changed_from is None
    assert decide([None], now).env() == {}
    # one rebuilt asset never recorded is enough to rebuild fully
    then = {PLAYS: days(d2026_01_01="1:a")}
    assert decide([then, None], {PLAYS: days(d2026_01_01="1:a", d2026_01_02="1:b")}).env() == {}


def test_the_asset_that_saw_the_least_decides():
    """Each rebuilt asset recomputes from what *it* has not seen: the earliest day wins."""
    seen_up_to_day_2 = {PLAYS: days(d2026_01_01="1:a", d2026_01_02="1:b")}
    seen_day_1 = {PLAYS: days(d2026_01_01="1:a")}
    now = {PLAYS: days(d2026_01_01="1:a", d2026_01_02="1:b", d2026_01_03="1:c")}
    assert decide([seen_up_to_day_2], now).changed_from == "2026-01-03"
    assert decide([seen_up_to_day_2, seen_day_1], now).changed_from == "2026-01-02"


def test_only_changed_days_of_a_per_day_port_rebuild_from_the_earliest():
    then = {PLAYS: days(d2026_01_01="1:a", d2026_01_02="1:b"), CATALOG: {"checksum": "9:x"}}
    new_day = {PLAYS: days(d2026_01_01="1:a", d2026_01_02="1:b", d2026_01_03="1:c")}
    new_day[CATALOG] = {"checksum": "9:x"}
    assert decide([then], new_day).changed_from == "2026-01-03"
    late_rows = {PLAYS: days(d2026_01_01="2:z", d2026_01_02="1:b"), CATALOG: {"checksum": "9:x"}}
    changes = decide([then], late_rows)
    assert changes.changed_from == "2026-01-01"
    assert changes.env() == {CHANGED_FROM_ENV: "2026-01-01"}
    dropped = {PLAYS: days(d2026_01_02="1:b"), CATALOG: {"checksum": "9:x"}}
    assert decide([then], dropped).changed_from == "2026-01-01"


def test_a_port_published_whole_that_changed_or_is_new_rebuilds_fully():
    then = {PLAYS: days(d2026_01_01="1:a"), CATALOG: {"checksum": "9:x"}}
    catalog_changed = {PLAYS: days(d2026_01_01="1:a", d2026_01_02="1:b")}
    catalog_changed[CATALOG] = {"checksum": "9:y"}
    changes = decide([then], catalog_changed)
    assert changes.changed_from is None and "published whole" in changes.reason
    newly_read = {**then, "podcasts.podcast_shows v1": {"checksum": "1:q"}}
    assert decide([then], newly_read).changed_from is None


def test_nothing_changed_upstream_rebuilds_fully():
    """Then the run was started by something else (an operational source): be safe."""
    now = {PLAYS: days(d2026_01_01="1:a")}
    changes = decide([now], now)
    assert changes.changed_from is None and "no upstream port changed" in changes.reason


def test_reads_published_ports_and_remembers_what_was_read(tmp_path):
    con = duckdb.connect()
    con.execute(
        "create table plays as select date '2026-01-01' + (i % 3)::int as event_date, i "
        "from range(30) r(i)"
    )
    publish_snapshot(
        con, "plays", tmp_path, "playback", "play_events", 1,
        partitions=DayPartitions("event_date"),
    )  # fmt: skip
    con.execute("create table catalog as select 1 as id")
    publish_snapshot(con, "catalog", tmp_path, "artists", "track_catalog", 1)
    ports = [("artists.track_catalog", 1), ("playback.play_events", 1), ("x.missing", 1)]
    first = upstream_state(resolve_upstream(tmp_path, ports))
    assert sorted(first[PLAYS]["days"]) == ["2026-01-01", "2026-01-02", "2026-01-03"]
    assert "checksum" in first[CATALOG] and first["x.missing v1"] == {"snapshot": None}
    record = record_path(tmp_path / "step")
    assert load_records(record, ["artists/artist_royalties"]) == [None]
    save_records(record, ["artists/artist_royalties"], decide([None], first))
    assert load_records(record, ["artists/artist_royalties"]) == [first]
    # a run of other assets of the step vouches only for those
    save_records(record, ["artists/track_catalog"], decide([None], first))
    assert load_records(record, ["artists/artist_royalties", "x/y"]) == [first, None]
    con.execute("insert into plays values (date '2026-01-04', 99)")
    publish_snapshot(
        con, "plays", tmp_path, "playback", "play_events", 1,
        partitions=DayPartitions("event_date", ()),
    )  # fmt: skip
    later = decide(
        load_records(record, ["artists/artist_royalties"]),
        upstream_state(resolve_upstream(tmp_path, ports)),
    )
    assert later.changed_from == "2026-01-04"
