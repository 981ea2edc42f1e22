"""Issue 27, finding 8: what a bad delivery leaves in a run's messages and in a day's audit.

A row whose partition day is missing (a line that landed in a folder whose name is not a date)
belongs to no day, so a run of some days must still verify it (and reject it, with the check's
own name as its reason); and a reader's error, quoting a huge line of source data, must not be
dumped into the step's failure.
"""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import duckdb
import pytest
import yaml

from mesh_platform.build.rejects import (
    REASON_COLUMN,
    attach_raw_text,
    derive_row_rules,
    split_bad_rows,
)
from mesh_platform.build.step import ERROR_CHARS, _bounded, _days_filter
from mesh_platform.core.contracts import load_contract
from mesh_platform.ports.store import DayPartitions

CONTRACT = {
    "dataset": "shop/marts/visits",
    "columns": [
        {"name": "id", "data_type": "varchar", "checks": [{"missing": None}]},
        {
            "name": "day",
            "data_type": "date",
            "missing_values": ["1970-01-01"],
            "checks": [{"missing": {"name": "landed in a folder that is not a date"}}],
        },
    ],
}


@pytest.fixture
def binding(tmp_path):
    path = tmp_path / "visits.yaml"
    path.write_text(yaml.safe_dump(CONTRACT))
    return SimpleNamespace(contract=load_contract(path, "shop/marts/visits"))


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute("create table marts.visits (id varchar, day date)")
    con.executemany(
        "insert into marts.visits values (?, ?)",
        [("v1", date(2026, 3, 1)), ("v2", date(2026, 3, 2)), ("v3", date(1970, 1, 1))],
    )
    return con


def test_a_run_of_some_days_also_verifies_the_rows_whose_day_is_missing(binding, con):
    days = DayPartitions("day", (date(2026, 3, 2),))
    where = _days_filter(days, binding)
    ids = con.execute(f"select id from marts.visits where {where} order by id").fetchall()
    assert ids == [("v2",), ("v3",)]  # the day built, and the row of no day; not 2026-03-01


def test_the_row_of_no_day_is_rejected_with_the_checks_own_name(binding, con):
    where = _days_filter(DayPartitions("day", (date(2026, 3, 2),)), binding)
    rules = derive_row_rules(binding.contract)
    result = split_bad_rows(con, "marts.visits", rules, max_share=0.9, row_filter=where)
    assert (result.rows_in, result.rows_rejected) == (2, 1)
    (reason,) = con.execute(f"select {REASON_COLUMN} from marts.visits__rejects").fetchone()
    assert reason == (
        "missing on column `day`: landed in a folder that is not a date "
        "(check contract__day__missing)"
    )


def test_a_readers_error_does_not_carry_the_source_line_into_the_failure():
    line = '{"listener_id": 42, "email": "someone@example.com", "junk": "' + "x" * 9000
    error = (
        f"Invalid Input Error: CSV Error on Line: 2\nOriginal Line: {line}\n"
        "Maximum line size of 67108864 bytes exceeded.\n\n  file = events/date=2026-03-01/p.jsonl"
    )
    text = _bounded(error)
    assert "someone@example.com" not in text and "xxxx" not in text
    assert "CSV Error on Line: 2" in text and "file = events/date=2026-03-01/p.jsonl" in text
    long = _bounded("e" * (ERROR_CHARS + 500))
    assert long.startswith("e" * ERROR_CHARS) and "500 more characters" in long


def test_each_rejected_row_keeps_the_raw_text_it_came_from(binding, con):
    """Rows equal in every port column are told apart by none: each gets one of their lines,
    each line used once; a row of another day takes no line of this one."""
    con.execute("create schema staging")
    con.execute("create table staging.lines (id varchar, day date, raw_line varchar)")
    con.executemany(
        "insert into staging.lines values (?, ?, ?)",
        [
            ("v1", date(2026, 3, 1), '{"id": "v1"}'),
            ("v2", date(2026, 3, 2), '{"id": "v2"}'),
            ("v3", date(1970, 1, 1), '{"id": "v3", "day": "2026-02-30"}'),
            (None, date(2026, 3, 2), "garbled line A"),
            (None, date(2026, 3, 2), "garbled line B"),
            (None, date(2026, 3, 1), "garbled on another day"),
        ],
    )
    con.executemany("insert into marts.visits values (?, ?)", [(None, date(2026, 3, 2))] * 2)
    where = _days_filter(DayPartitions("day", (date(2026, 3, 2),)), binding)
    rules = derive_row_rules(binding.contract)
    split = split_bad_rows(con, "marts.visits", rules, max_share=0.9, row_filter=where)
    day = ("day", [date(2026, 3, 2), date(1970, 1, 1)])
    assert attach_raw_text(con, split, "staging.lines", "raw_line", day) == 3
    rows = con.execute(
        "select id, day::varchar, raw_line from marts.visits__rejects order by all"
    ).fetchall()
    assert rows == [
        ("v3", "1970-01-01", '{"id": "v3", "day": "2026-02-30"}'),
        (None, "2026-03-02", "garbled line A"),
        (None, "2026-03-02", "garbled line B"),
    ]
