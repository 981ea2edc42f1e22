"""A failed contract check shows a few failing rows, with personal data masked."""

from __future__ import annotations

from pathlib import Path

import duckdb

from mesh_platform.build.failing_rows import MASK, failing_rows_metadata
from mesh_platform.core.contracts import CheckOutcome, ContractCheck, ContractSpec
from mesh_platform.governance.config import load_governance

from ..conftest import REPO

UNIQUE = ContractCheck("contract__listener_id__duplicate", "duplicate", "listener_id", None)
VALID_PLAN = ContractCheck(
    "contract__plan_id__invalid", "invalid", "plan_id", None, {"valid_values": ["free", "premium"]}
)
EMAIL_PRESENT = ContractCheck("contract__email__missing", "missing", "email", None)
ROWS = ContractCheck("contract__row_count", "row_count", None, None)
SPEC = ContractSpec(
    Path("c.yaml"),
    "marts.listeners",
    ("listener_id", "email", "plan_id"),
    (UNIQUE, VALID_PLAN, EMAIL_PRESENT, ROWS),
)
COLUMNS = {
    "listener_id": {"name": "listener_id", "data_type": "integer", "meta": {"pii": False}},
    "email": {"name": "email", "data_type": "varchar"},  # unclassified, but its name says it
    "plan_id": {"name": "plan_id", "data_type": "varchar", "meta": {"pii": False}},
}


def _con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute(
        "create table marts.listeners as select * from (values "
        "(1, 'a@x.example', 'free'), (2, 'b@x.example', 'gold'), (3, null, 'premium'),"
        "(3, 'c@x.example', 'premium')) t(listener_id, email, plan_id)"
    )
    return con


def _sample(check: ContractCheck, row_filter: str | None = None) -> str | None:
    personal = load_governance(REPO / "governance").personal_data
    meta = failing_rows_metadata(
        _con(),
        "marts.listeners",
        CheckOutcome(check, False, "FAILED"),
        SPEC,
        COLUMNS,
        personal,
        row_filter,
    )
    value = meta.get("mesh/failing_rows_sample")
    return value.md_str if value is not None else None


def test_invalid_value_sample_shows_key_and_value():
    table = _sample(VALID_PLAN)
    assert "| listener_id | plan_id |" in table
    assert "| 2 | gold |" in table
    assert "free" not in table.split("\n\n")[0]  # only failing rows


def test_duplicate_sample_shows_the_repeated_key():
    assert "| 3 |" in _sample(UNIQUE)


def test_personal_data_is_masked():
    table = _sample(EMAIL_PRESENT)
    assert "| listener_id | email |" in table
    assert f"| 3 | {MASK} |" in table
    assert "@x.example" not in table
    assert "Masked as personal data: `email`" in table


def test_run_filter_limits_the_sample_to_the_rows_built():
    assert _sample(VALID_PLAN, row_filter="listener_id <> 2") is None


def test_whole_relation_checks_have_no_row_sample():
    assert _sample(ROWS) is None
