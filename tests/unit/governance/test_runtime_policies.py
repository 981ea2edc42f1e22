"""Data-level policies on a real DuckDB table: treatments verified, PII found in values,
shared-key formats, each with its exact finding."""

from __future__ import annotations

import duckdb

from mesh_platform.core.bindings import bind_domain
from mesh_platform.core.domain import load_domain
from mesh_platform.governance.config import load_governance
from mesh_platform.governance.context import MeshContext, PortSubject
from mesh_platform.governance.runtime import data_findings
from tests.unit.governance.fixture_mesh import TODAY, fixture_mesh


def _subject(tmp_path, mutate=None):
    mesh = fixture_mesh(tmp_path)
    mesh.product["classification"] = "confidential"
    mesh.columns += [
        {
            "name": "buyer_email_sha256",
            "description": "Hashed e-mail.",
            "data_type": "varchar",
            "config": {"meta": {"pii": {"category": "email", "treatment": "hashed"}}},
        },
        {"name": "note", "description": "Free text.", "data_type": "varchar"},
        {"name": "track_id", "description": "A track.", "data_type": "varchar"},
    ]
    if mutate:
        mutate(mesh)
    mesh.write()
    manifest = mesh.manifest()
    bindings = bind_domain(load_domain(tmp_path / "domains" / "shop"), manifest)
    ctx = MeshContext(
        config=load_governance(tmp_path / "governance"),
        manifest=manifest,
        today=TODAY,
        bindings=[bindings],
        declared_ports={},
    )
    (binding,) = bindings.ports.values()
    node = manifest["nodes"][binding.unique_id]
    return ctx, PortSubject(bindings.domain, binding.product, binding.port, node, binding.contract)


def _table(rows):
    con = duckdb.connect()
    con.execute(
        "create table t (sold_on date, listener_id bigint, widgets bigint, updated_at timestamp,"
        " buyer_email_sha256 varchar, note varchar, track_id varchar)"
    )
    con.executemany("insert into t values (?, ?, ?, ?, ?, ?, ?)", rows)
    return con


GOOD_HASH = "a" * 64
CLEAN = ("2026-01-01", 1, 3, "2026-01-01 10:00:00", GOOD_HASH, "gift wrap", "trk_000001")


def test_clean_data_has_no_finding(tmp_path):
    ctx, subject = _subject(tmp_path)
    assert data_findings(ctx, subject, _table([CLEAN, CLEAN]), "t") == []


def test_unhashed_value_in_hashed_column(tmp_path):
    ctx, subject = _subject(tmp_path)
    bad = (*CLEAN[:4], "jane@example.com", *CLEAN[5:])
    (finding,) = data_findings(ctx, subject, _table([CLEAN, bad]), "t")
    assert finding.line() == (
        "[error] classification.treatment-verified — domain shop, product daily_widgets, port "
        "shop.daily_widgets v1, field `buyer_email_sha256`: column `buyer_email_sha256` is "
        "declared hashed but 1 value(s) do not look hashed (expected ^[0-9a-f]{64}$); the data "
        "may expose personal data. Fix: apply {{ mesh.hash('column') }} — hex SHA-256 of the "
        "trimmed, lowercase value to `buyer_email_sha256` in model daily_widgets."
    )


def test_email_and_ip_in_free_text(tmp_path):
    ctx, subject = _subject(tmp_path)
    rows = [
        (*CLEAN[:5], "call jane.doe@example.com", CLEAN[6]),
        (*CLEAN[:5], "from 192.168.10.1 today", CLEAN[6]),
        (*CLEAN[:5], "version 1.2.3", CLEAN[6]),
    ]
    lines = [f.line() for f in data_findings(ctx, subject, _table(rows), "t")]
    assert [line.split(": ", 1)[1].split(" Fix:")[0] for line in lines] == [
        "1 sampled value(s) of column `note` look like personal data (email), but the "
        "column is not classified as personal data.",
        "1 sampled value(s) of column `note` look like personal data (ip_address), but "
        "the column is not classified as personal data.",
    ]
    assert all("jane.doe" not in line and "192.168" not in line for line in lines)


def test_shared_key_in_another_format(tmp_path):
    ctx, subject = _subject(tmp_path)
    rows = [CLEAN, (*CLEAN[:6], "TRK-1")]
    (finding,) = data_findings(ctx, subject, _table(rows), "t")
    assert finding.policy == "interoperability.shared-key-format"
    assert finding.field == "track_id"
    assert "do not have the format of shared key `track_id` (^trk_[0-9]{5,}$)" in finding.message


def test_value_scan_is_sampled_on_big_tables(tmp_path):
    """Above the sample size the scan reads a block sample, so cost stays bounded."""
    from mesh_platform.governance.runtime import _sample_clause

    con = duckdb.connect()
    con.execute("create table big as select range as id from range(1000000)")
    assert _sample_clause(con, "big", 200_000) == " using sample 20.0000% (system)"
    assert _sample_clause(con, "big", 2_000_000) == ""


def test_a_daily_run_checks_only_the_days_it_built(tmp_path):
    """A run of a daily port checks the days it built, like its contract: a bad value in a day
    published earlier is not re-read (nor re-reported) by every later day's run."""
    ctx, subject = _subject(tmp_path)
    old_bad = ("2025-12-31", 1, 3, "2025-12-31 10:00:00", "jane@example.com", "call jane@x.org",
               "TRK-1")  # fmt: skip
    con = _table([old_bad, CLEAN])
    today = "sold_on >= '2026-01-01'::date and sold_on <= '2026-01-01'::date"
    assert data_findings(ctx, subject, con, "t", row_filter=today) == []
    assert sorted(f.policy for f in data_findings(ctx, subject, con, "t")) == [
        "classification.personal-data-in-values",
        "classification.treatment-verified",
        "interoperability.shared-key-format",
    ]
    new_bad = ("2026-01-01", *old_bad[1:])
    con.execute("insert into t values (?, ?, ?, ?, ?, ?, ?)", new_bad)
    assert len(data_findings(ctx, subject, con, "t", row_filter=today)) == 3


def test_the_sample_is_taken_of_the_days_built(tmp_path):
    """The block sample is sized on the filtered rows: a day of a big table is sampled, not
    the table (where one day's rows could miss the sample altogether)."""
    from mesh_platform.governance.runtime import _sample_clause

    con = duckdb.connect()
    con.execute(
        "create table big as select range as id, date '2026-01-01' + (range // 100000)::int "
        "as d from range(1000000)"
    )
    day = "(select * from big where d = '2026-01-05'::date)"
    assert _sample_clause(con, day, 200_000) == ""
    assert _sample_clause(con, day, 50_000) == " using sample 50.0000% (system)"


def test_a_build_of_every_day_samples_the_bare_table(tmp_path):
    """When the days built are all the rows (a full build), the filter is dropped so DuckDB
    can push the block sample into the scan instead of reading every row."""
    from mesh_platform.governance.runtime import _rows_checked

    con = _table([CLEAN, ("2026-01-02", *CLEAN[1:])])
    every_day = "sold_on >= '2026-01-01'::date and sold_on <= '2026-01-02'::date"
    one_day = "sold_on >= '2026-01-02'::date and sold_on <= '2026-01-02'::date"
    assert _rows_checked(con, "t", every_day) == "t"
    assert _rows_checked(con, "t", None) == "t"
    assert _rows_checked(con, "t", one_day) == f"(select * from t where {one_day})"
