"""A day range's keys against the keys a per-day port already publishes (real DuckDB, Parquet)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from mesh_platform.build.port_uniqueness import (
    ACROSS_DAYS_METRIC,
    fold_into,
    published_elsewhere,
)
from mesh_platform.build.rejects import derive_row_rules, split_bad_rows
from mesh_platform.core.contracts import CheckOutcome, ContractVerification, load_contract
from mesh_platform.ports.publish import publish_snapshot
from mesh_platform.ports.store import DayPartitions, current_snapshot

CONTRACT = """
dataset: ds/marts/events
columns:
  - name: event_id
    missing_values: ['']
    checks:
      - duplicate:
  - name: event_date
  - name: device
checks:
  - duplicate:
      columns: [device, event_id]
  - duplicate:
      qualifier: per_day
      columns: [event_date, event_id]
"""
DAY = "event_date"


@pytest.fixture
def port(tmp_path: Path):
    """Three days of events published per day; the relation as dbt leaves it."""
    contract = tmp_path / "events.yaml"
    contract.write_text(CONTRACT)
    spec = load_contract(contract, "ds/marts/events")
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute(
        "create table marts.events as select 'e' || lpad(i::varchar, 6, '0') as event_id, "
        "date '2026-01-01' + (i // 100)::int as event_date, 'ios' as device "
        "from range(300) t(i)"
    )
    ports = tmp_path / "ports"
    publish_snapshot(con, "marts.events", ports, "ds", "events", 1, partitions=DayPartitions(DAY))
    return con, spec, ports


def _add_day(con, ids: list[str], day: str = "2026-01-04") -> tuple[DayPartitions, str]:
    con.execute("insert into marts.events select unnest(?), ?::date, 'ios'", [ids, day])
    days = DayPartitions(DAY, (date.fromisoformat(day),))
    return days, f"{DAY} >= '{day}'::date and {DAY} <= '{day}'::date"


def _check(con, spec, ports, days, row_filter):
    current = current_snapshot(ports, "ds", "events", 1)
    return published_elsewhere(con, "marts.events", spec.checks, days, row_filter, current)


def test_a_new_day_with_fresh_keys_passes(port):
    con, spec, ports = port
    days, where = _add_day(con, ["e900000", "e900001", ""])  # a missing key is no duplicate
    found = _check(con, spec, ports, days, where)
    # the per-day check keys on the day column: a key cannot repeat across days, not checked
    assert [f.check.name for f in found] == [
        "contract__event_id__duplicate",
        "contract__duplicate",
    ]
    assert [f.rows for f in found] == [0, 0]
    assert all(f.compared_with.startswith("snapshot ") for f in found)


def test_keys_published_for_other_days_are_found_with_their_days(port):
    con, spec, ports = port
    days, where = _add_day(con, ["e000001", "e000150", "e000150", "e999999", ""])
    (by_column, by_columns) = _check(con, spec, ports, days, where)
    assert (by_column.rows, by_column.keys) == (3, 2)
    assert by_column.samples == [(("e000001",), ["2026-01-01"]), (("e000150",), ["2026-01-02"])]
    assert by_column.days == ["2026-01-01", "2026-01-02"]
    text = by_column.detail()
    assert "3 rows of the days built reuse 2 keys already published" in text
    assert "event_id=e000001 (on 2026-01-01)" in text and "ios" not in text
    assert by_columns.rows == 3  # (device, event_id) repeats too

    verification = ContractVerification(
        spec, [CheckOutcome(c, True, "PASSED", {"duplicate_count": 0}) for c in spec.checks]
    )
    folded = fold_into(verification, [by_column, by_columns])
    assert not folded.passed
    failed = {o.check.name: o for o in folded.failed}
    assert set(failed) == {"contract__event_id__duplicate", "contract__duplicate"}
    assert failed["contract__event_id__duplicate"].port_diagnostics[ACROSS_DAYS_METRIC] == 3
    assert failed["contract__event_id__duplicate"].diagnostics == {"duplicate_count": 0}


def test_rebuilding_a_day_compares_it_with_the_other_days_only(port):
    """A rerun of a published day finds its own published keys: not duplicates."""
    con, spec, ports = port
    days = DayPartitions(DAY, (date(2026, 1, 2),))
    where = f"{DAY} >= '2026-01-02'::date and {DAY} <= '2026-01-02'::date"
    assert [f.rows for f in _check(con, spec, ports, days, where)] == [0, 0]


def test_without_a_published_snapshot_the_relation_s_other_days_are_compared(port, tmp_path):
    con, spec, _ = port
    days, where = _add_day(con, ["e000002"])
    found = _check(con, spec, tmp_path / "nothing-published", days, where)
    assert found[0].rows == 1 and "no per-day snapshot" in found[0].compared_with


def test_a_first_build_of_every_day_has_no_other_day_to_compare_with(port, tmp_path):
    """The first build of a per-day port asks for all its days: nothing to join, no keys
    collected (at scale 10 that join cost 3.9 s of a build for an empty answer)."""
    con, spec, _ = port
    days = DayPartitions(DAY, tuple(date(2026, 1, d) for d in (1, 2, 3)))
    where = f"{DAY} >= '2026-01-01'::date and {DAY} <= '2026-01-03'::date"
    found = _check(con, spec, tmp_path / "nothing-published", days, where)
    assert [(f.rows, f.compared_with) for f in found] == [
        (0, "nothing (no other day published)")
    ] * 2
    # a day outside the run is still compared
    days, where = _add_day(con, ["e000002"])
    found = _check(con, spec, tmp_path / "nothing-published", days, where)
    assert found[0].rows == 1


def test_a_full_build_is_not_checked_here(port):
    con, spec, ports = port
    assert _check(con, spec, ports, DayPartitions(DAY), None) == []
    assert _check(con, spec, ports, None, None) == []


def test_the_rejects_split_rejects_every_built_row_of_a_published_key(port):
    """Like a second row of a key within the day: the published row came first."""
    con, spec, ports = port
    days, where = _add_day(con, ["e000001", "e000001", "e800000", "e800000"])
    found = _check(con, spec, ports, days, where)
    keys = {f.check: f.keys_relation for f in found if f.rows}
    rules = [
        r for r in derive_row_rules(spec, keys) if r.check.name == "contract__event_id__duplicate"
    ]
    split = split_bad_rows(con, "marts.events", rules, max_share=1.0, row_filter=where)
    # both rows of e000001 (published on 2026-01-01) and the second e800000 of the day
    assert split.rows_rejected == 3
    rejected = con.execute("select event_id from marts.events__rejects order by 1").fetchall()
    assert rejected == [("e000001",), ("e000001",), ("e800000",)]
    assert _check(con, spec, ports, days, where)[0].rows == 0
