"""Partial publishing: row predicates derived from a Soda contract split good and bad rows."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import duckdb
import pytest
import yaml

from mesh_platform.build.rejects import (
    REASON_COLUMN,
    counted_no_bad_rows,
    derive_row_rules,
    publish_rejects,
    read_rejects_record,
    split_bad_rows,
    split_port,
)
from mesh_platform.build.verification import verify_contract
from mesh_platform.core.contracts import (
    CheckOutcome,
    ContractVerification,
    load_contract,
)

CONTRACT = {
    "dataset": "shop/marts/orders",
    "columns": [
        {
            "name": "id",
            "data_type": "varchar",
            "missing_values": [""],
            "checks": [{"missing": None}, {"duplicate": None}],
        },
        {
            "name": "status",
            "data_type": "varchar",
            "checks": [{"invalid": {"valid_values": ["open", "paid"]}}],
        },
        {
            "name": "code",
            "data_type": "varchar",
            "missing_values": ["N/A"],
            "checks": [
                {"missing": None},
                {"invalid": {"valid_format": {"name": "code", "regex": "^[A-Z]{2}$"}}},
            ],
        },
        {
            "name": "amount",
            "data_type": "bigint",
            "checks": [{"invalid": {"valid_min": 0, "valid_max": 1000}}],
        },
    ],
    "checks": [
        {"schema": None},
        {"row_count": None},
        {
            "failed_rows": {
                "qualifier": "big_open",
                "expression": "status = 'open' and amount > 500",
            }
        },
    ],
}

ROWS = [
    ("o1", "open", "AB", 10),  # good
    ("o2", "paid", "CD", 20),  # good
    (None, "open", "EF", 30),  # missing id
    ("o2", "paid", "CD", 20),  # duplicate of o2 (the first one stays)
    ("o5", "lost", "GH", 40),  # unknown enum
    ("o6", "open", "N/A", 50),  # missing by missing_values (not also invalid)
    ("o7", "paid", "x'; drop table marts.orders; --", 60),  # SQL-looking text: invalid format
    ("o8", "paid", "IJ", -1),  # negative
    ("o9", "open", "KL", 900),  # failed_rows expression (and within valid_max)
    ("o10", "paid", None, 5000),  # missing code and too big
    ("", "paid", "MN", 1),  # missing by missing_values, and never a duplicate ...
    ("", "paid", "OP", 2),  # ... of another missing key
]


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "orders.yaml"
    path.write_text(yaml.safe_dump(CONTRACT))
    return load_contract(path, "shop/marts/orders")


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute(
        "create table marts.orders (id varchar, status varchar, code varchar, amount bigint)"
    )
    con.executemany("insert into marts.orders values (?, ?, ?, ?)", ROWS)
    return con


def test_row_level_checks_become_predicates_and_dataset_checks_do_not(spec):
    rules = derive_row_rules(spec)
    assert [r.check.name for r in rules] == [
        "contract__id__missing",
        "contract__id__duplicate",
        "contract__status__invalid",
        "contract__code__missing",
        "contract__code__invalid",
        "contract__amount__invalid",
        "contract__failed_rows__big_open",
    ]
    by_name = {r.check.name: r.predicate for r in rules}
    assert "'N/A'" in by_name["contract__code__missing"]  # the column's shared missing_values
    assert "column `code`" in rules[3].reason and "contract__code__missing" in rules[3].reason


def test_split_moves_each_bad_row_with_its_reasons(spec, con):
    result = split_bad_rows(con, "marts.orders", derive_row_rules(spec), max_share=0.9)
    assert (result.rows_in, result.rows_rejected, result.rows_kept) == (12, 10, 2)
    assert con.execute("select id from marts.orders order by id").fetchall() == [("o1",), ("o2",)]
    rejects = dict(
        con.execute(
            f"select coalesce(id, '-'), {REASON_COLUMN} from marts.orders__rejects"
        ).fetchall()
    )
    assert "contract__id__missing" in rejects["-"]
    blanks = con.execute(f"select {REASON_COLUMN} from marts.orders__rejects where id = ''")
    assert all("duplicate" not in reason for (reason,) in blanks.fetchall())
    assert "contract__id__duplicate" in rejects["o2"]
    assert "contract__status__invalid" in rejects["o5"]
    assert "contract__code__missing" in rejects["o6"]
    assert "contract__code__invalid" not in rejects["o6"]  # missing is not also invalid
    assert "contract__code__invalid" in rejects["o7"]
    assert "contract__amount__invalid" in rejects["o8"]
    assert "contract__failed_rows__big_open" in rejects["o9"]
    assert "contract__code__missing" in rejects["o10"]
    assert "contract__amount__invalid" in rejects["o10"]
    # the SQL-looking value is kept verbatim, and did nothing
    code = "x'; drop table marts.orders; --"
    assert con.execute("select code from marts.orders__rejects where id = 'o7'").fetchone() == (
        code,
    )
    assert result.by_check["contract__amount__invalid"] == 2
    assert result.rows_in == result.rows_kept + result.rows_rejected


def test_split_above_max_share_changes_nothing(spec, con):
    result = split_bad_rows(con, "marts.orders", derive_row_rules(spec), max_share=0.5)
    assert result.over_threshold
    assert con.execute("select count(*) from marts.orders").fetchone()[0] == 12
    text = result.describe("shop", "orders", "shop.orders", 1)
    assert "blocked" in text and "contract__status__invalid" in text


def test_rejects_are_published_beside_the_snapshot_with_reconciliation(spec, con, tmp_path):
    result = split_bad_rows(con, "marts.orders", derive_row_rules(spec), max_share=0.9)
    snap = tmp_path / "ports/shop/orders/v1/snapshots"
    snap.mkdir(parents=True)
    (snap / "s1.parquet").write_bytes(b"")
    path = publish_rejects(con, result, tmp_path / "ports", "shop", "orders", 1, "s1", 2)
    assert path.exists() and (path.parent / "current.parquet").resolve() == path
    record = read_rejects_record(tmp_path / "ports", "shop", "orders", 1, "s1")
    assert record["reconciled"] and record["rows_rejected"] == 10 and record["rows_in"] == 12
    n = con.execute(f"select count(*) from read_parquet('{path}')").fetchone()[0]
    assert n == 10


def _port(spec):
    """The parts of a port binding :func:`split_port` reads."""
    return SimpleNamespace(
        contract=spec,
        relation="marts.orders",
        address="shop.orders",
        product=SimpleNamespace(domain="shop", name="orders"),
        port=SimpleNamespace(
            rejects_bad_rows=True, version=1, bad_rows=SimpleNamespace(max_share=0.9, raw_text=None)
        ),
    )


def _clean(con):
    con.execute("delete from marts.orders where id is null or id not in ('o1', 'o2')")
    con.execute("delete from marts.orders where rowid = (select max(rowid) from marts.orders)")
    assert con.execute("select id from marts.orders order by id").fetchall() == [("o1",), ("o2",)]


def test_soda_counting_no_bad_rows_skips_the_split(spec, con):
    """The usual day: Soda counted no bad row, so the relation is not scanned again; the rejects
    table exists (empty, the split's shape) and the reconciliation still holds."""
    _clean(con)
    verification = verify_contract(con, spec, "shop")
    assert verification.passed and counted_no_bad_rows(derive_row_rules(spec), verification)
    con.execute("create table marts.orders__rejects as select 1 as stale")  # from an old run
    split = split_port(logging.getLogger("t"), con, _port(spec), verification)
    assert (split.rows_in, split.rows_rejected, split.over_threshold) == (2, 0, False)
    assert set(split.by_check) == {r.check.name for r in derive_row_rules(spec)}
    columns = [r[0] for r in con.execute("describe marts.orders__rejects").fetchall()]
    assert columns == ["id", "status", "code", "amount", REASON_COLUMN]
    assert con.execute("select count(*) from marts.orders__rejects").fetchone()[0] == 0
    # it takes Soda's counts for the rows verified: it does not scan them again
    con.execute("insert into marts.orders values ('o1', 'lost', 'AB', 10)")
    again = split_port(logging.getLogger("t"), con, _port(spec), verification)
    assert (again.rows_in, again.rows_rejected) == (3, 0)


def test_soda_counting_bad_rows_splits_them_out(spec, con):
    verification = verify_contract(con, spec, "shop")
    assert not verification.passed
    assert not counted_no_bad_rows(derive_row_rules(spec), verification)
    split = split_port(logging.getLogger("t"), con, _port(spec), verification)
    assert (split.rows_in, split.rows_rejected) == (12, 10)
    # what is left passes the contract (the build step verifies it again before publishing)
    assert verify_contract(con, spec, "shop").passed


def test_a_row_check_soda_did_not_count_means_bad_rows(spec, con):
    """Silence is not a count of zero: a rule without its Soda count makes the split run."""
    _clean(con)
    verification = verify_contract(con, spec, "shop")
    rules = derive_row_rules(spec)
    duplicate = next(r.check for r in rules if r.check.check_type == "duplicate")
    outcomes = [
        CheckOutcome(o.check, o.passed, o.outcome, {}) if o.check == duplicate else o
        for o in verification.outcomes
    ]
    assert not counted_no_bad_rows(rules, ContractVerification(spec, outcomes))
    missing = [o for o in verification.outcomes if o.check != duplicate]
    assert not counted_no_bad_rows(rules, ContractVerification(spec, missing))
