"""Bad source data, kind by kind: rejected with a reason or blocked, never lost, never served.

Every fault kind of :mod:`operational.faults` is injected into the session's generated data and
the domains it feeds are materialized through Dagster. For each kind the test asserts a message
naming domain, product, column and check; the bad rows rejected into the port's rejects table
with that reason (``playback.play_events`` publishes partially) or the whole publish blocked
(every other port); the last good snapshot still served when blocked; and reconciliation:
rows in = rows published + rows rejected.

How the kinds are grouped, to keep the module to a few Dagster runs:

- **reject round** (one run of ``playback``): the 17 play-event kinds that must be rejected and
  the 3 harmless ones (``out_of_order``, ``extra_field``, ``empty_file``) are injected together.
  Each kind edits its own day file, so its rows are told apart by the day they landed on and
  counted separately; together they stay under the port's 2% ``max_share``.
- **block round** (one ``materialize_mesh`` call over four domains): ``bad_batch`` (playback:
  5% bad rows, above ``max_share``), three artists kinds, two listeners kinds and three podcasts
  kinds. Each blocking kind holds back a different product (the two podcast_shows kinds are
  each named by their own check), so one run per domain shows every kind's own message.

The module works on its own copy of the session's mesh (data, ports, warehouse files and the
Dagster instance), so the faults and the failed runs they cause never reach other modules.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from datetime import date

import dagster as dg
import duckdb
import pytest

from mesh_platform.build.execute import DomainRun
from mesh_platform.build.instance import get_instance
from mesh_platform.build.rejects import REASON_COLUMN, read_rejects_record, rejects_dir
from mesh_platform.core.environment import apply_tool_env
from mesh_platform.ports.reader import connect
from mesh_platform.ports.store import current_snapshot
from mesh_platform.run.runner import materialize_mesh
from operational.faults import CR_NAME, FAULTS, FaultReport, count_play_lines, inject

pytestmark = pytest.mark.slow

REJECT_KINDS = [k for k, f in FAULTS.items() if f.domain == "playback" and f.outcome != "block"]
BLOCK_KINDS = [k for k, f in FAULTS.items() if f.outcome == "block"]
CLEAN_OPERATIONAL = "operational-clean"
MISSING_DAY = "1970-01-01"  # play_events' event_date of a line whose folder is not a date
BLOCK_DOMAINS = ["playback", "artists", "listeners", "podcasts"]
# output port of each product a blocking kind holds back (name, version)
PORTS = {
    ("playback", "play_events"): ("play_events", 1),
    ("artists", "artist_payments"): ("artist_payments", 1),
    ("artists", "artist_profiles"): ("artist_profiles", 1),
    ("artists", "track_catalog"): ("track_catalog", 1),
    ("listeners", "listener_profile_updates"): ("listener_profile_updates", 1),
    ("listeners", "subscription_periods"): ("subscription_periods", 1),
    ("podcasts", "podcast_shows"): ("podcast_shows", 1),
    ("podcasts", "podcast_episodes"): ("podcast_episodes", 1),
}


@dataclass
class Round:
    reports: dict[str, FaultReport]
    runs: dict[str, DomainRun]
    before: dict[tuple[str, str], object]
    clean_lines: int = 0


@pytest.fixture(scope="module")
def clean_mesh(built_mesh, tmp_path_factory):
    """A copy of the session's mesh (data, ports, warehouse files and Dagster instance): the
    faults, and the failed runs they cause, stay out of the mesh other modules read."""
    env, _ = built_mesh
    data = tmp_path_factory.mktemp("bad-input") / "data"
    shutil.copytree(env.data_dir, data, symlinks=True)
    mp = pytest.MonkeyPatch()
    mp.setenv("MESH_DATA_DIR", str(data))
    own = apply_tool_env()
    shutil.copytree(own.operational_dir, data.parent / CLEAN_OPERATIONAL)
    yield own
    mp.undo()


@pytest.fixture
def bad_env(clean_mesh, monkeypatch):
    monkeypatch.setenv("MESH_DATA_DIR", str(clean_mesh.data_dir))
    return apply_tool_env()


def _restore_operational(env) -> None:
    shutil.rmtree(env.operational_dir)
    shutil.copytree(env.data_dir.parent / CLEAN_OPERATIONAL, env.operational_dir)


@pytest.fixture(scope="module")
def reject_round(clean_mesh) -> Round:
    env = clean_mesh
    clean_lines = count_play_lines(env.operational_dir)
    before = {
        ("playback", "play_events"): current_snapshot(env.ports_dir, "playback", "play_events", 1)
    }
    reports = {r.kind: r for r in inject(env.operational_dir, REJECT_KINDS)}
    try:
        (run,) = materialize_mesh(only=["playback"])
    finally:
        _restore_operational(env)
    return Round(reports, {"playback": run}, before, clean_lines)


@pytest.fixture(scope="module")
def block_round(clean_mesh, reject_round) -> Round:
    env = clean_mesh
    before = {key: current_snapshot(env.ports_dir, key[0], *PORTS[key]) for key in PORTS}
    reports = {r.kind: r for r in inject(env.operational_dir, BLOCK_KINDS)}
    try:
        runs = {r.domain: r for r in materialize_mesh(only=BLOCK_DOMAINS)}
    finally:
        _restore_operational(env)
    return Round(reports, runs, before)


def _warnings(run: DomainRun) -> str:
    instance = get_instance()
    texts = []
    for run_id in run.run_ids:
        for entry in instance.all_logs(run_id):
            if entry.level == 30 and entry.user_message:  # logging.WARNING
                texts.append(entry.user_message)
    return "\n".join(texts)


def _day(report: FaultReport) -> str:
    """The day folder the kind's lines landed in (``2026-02-30`` for a folder that is no date)."""
    return re.search(r"date=(\d{4}-\d{2}-\d{2})", report.source).group(1)


def _event_day(report: FaultReport) -> str:
    """The event_date the kind's rows get: their folder's, or the port's missing day (see
    play_events.sql) when the folder's name is not a date."""
    try:
        return date.fromisoformat(_day(report)).isoformat()
    except ValueError:
        return MISSING_DAY


def _rejects(env) -> tuple[dict, str]:
    snap = current_snapshot(env.ports_dir, "playback", "play_events", 1)
    record = read_rejects_record(env.ports_dir, "playback", "play_events", 1, snap.snapshot_id)
    return record, record["rejects_path"]


@pytest.fixture(scope="module")
def faulted_lines(clean_mesh, tmp_path_factory) -> dict[str, int]:
    """Lines per day of the faulted play stream of the reject round (rebuilt in a scratch copy)."""
    scratch = tmp_path_factory.mktemp("faulted") / "operational"
    shutil.copytree(clean_mesh.operational_dir, scratch)
    inject(scratch, REJECT_KINDS)
    lines = {}
    for folder in sorted((scratch / "events" / "plays").glob("date=*")):
        lines[folder.name[5:]] = count_play_lines_in(folder)
    return lines


def count_play_lines_in(folder) -> int:
    total = 0
    for path in folder.glob("*.jsonl"):
        data = path.read_bytes()
        total += data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    return total


@pytest.mark.parametrize("kind", REJECT_KINDS)
def test_play_event_fault_is_rejected_with_its_reason(kind, reject_round, faulted_lines, bad_env):
    env = bad_env
    report = reject_round.reports[kind]
    run = reject_round.runs["playback"]
    assert run.success, run.errors  # partial publishing: the good rows are published
    record, path = _rejects(env)
    day = _event_day(report)
    con = duckdb.connect()
    rejected = con.execute(
        f"select {REASON_COLUMN} from read_parquet('{path}') where event_date = date '{day}'"
    ).fetchall()
    published_day = (
        connect()
        .execute(f"select count(*) from playback.play_events where event_date = date '{day}'")
        .fetchone()[0]
    )
    # reconciliation for the kind's own day: every delivered line is published or rejected
    lines = faulted_lines[_day(report)]
    assert published_day + len(rejected) == lines + report.rows_carried
    if report.outcome == "accept":
        assert rejected == []
        return
    assert len(rejected) == report.rows_bad
    assert all(report.check in reason for (reason,) in rejected), rejected
    assert all(f"column `{report.column}`" in reason for (reason,) in rejected)
    # a clear warning in the run: domain, product, column and check
    warning = _warnings(run)
    assert "domain playback, product play_events" in warning
    assert f"column `{report.column}`" in warning and report.check in warning
    assert record["rejected_by_check"][report.check]["column"] == report.column


def test_reject_round_reconciles_and_serves_the_good_rows(reject_round, bad_env):
    env = bad_env
    reports = reject_round.reports.values()
    record, path = _rejects(env)
    snap = current_snapshot(env.ports_dir, "playback", "play_events", 1)
    assert snap != reject_round.before[("playback", "play_events")]  # a new snapshot, good rows
    rows_in = reject_round.clean_lines + sum(r.rows_delta + r.rows_carried for r in reports)
    assert record["rows_in"] == rows_in
    assert record["rows_rejected"] == sum(r.rows_bad for r in reports)
    assert record["rows_published"] == snap.rows
    assert record["rows_in"] == record["rows_published"] + record["rows_rejected"]
    assert record["reconciled"]
    served = connect().execute("select count(*) from playback.play_events").fetchone()[0]
    assert served == snap.rows
    # nothing that fails the contract is served; the SQL-looking value sits verbatim in rejects
    assert (
        not connect()
        .execute(
            "select count(*) from playback.play_events where event_id = '' or device = 'hologram'"
        )
        .fetchone()[0]
    )
    sql_text = (
        duckdb.connect()
        .execute(f"select count(*) from read_parquet('{path}') where track_id like '%DROP TABLE%'")
        .fetchone()[0]
    )
    assert sql_text == reject_round.reports["quotes_newlines_sql_text"].rows_bad
    assert (rejects_dir(env.ports_dir, "playback", "play_events", 1) / "current.parquet").exists()
    # the counts are on the Dagster materialization too
    event = get_instance().get_latest_materialization_event(
        dg.AssetKey(["playback", "play_events"])
    )
    rejects = event.asset_materialization.metadata["mesh/rejects"].value  # one grouped entry
    assert rejects["rows_in"] == record["rows_in"]
    assert rejects["rows_rejected"] == record["rows_rejected"]
    assert rejects["rows_published"] == snap.rows
    assert rejects["rejected_by_check"] == record["rejected_by_check"]
    # and each contract check that rejected rows says so, as a warning on the check
    check = dg.AssetCheckKey(dg.AssetKey(["playback", "play_events"]), "contract__device__invalid")
    storage = get_instance().event_log_storage
    (latest,) = storage.get_asset_check_execution_history(check, limit=1)
    evaluation = latest.event.dagster_event.event_specific_data
    assert evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    rejected = record["rejected_by_check"]["contract__device__invalid"]["rows"]
    assert evaluation.metadata["mesh/rows_rejected"].value == rejected


@pytest.mark.parametrize("kind", BLOCK_KINDS)
def test_blocking_fault_blocks_the_publish_and_keeps_the_last_good_port(kind, block_round, bad_env):
    env = bad_env
    report = block_round.reports[kind]
    run = block_round.runs[report.domain]
    assert not run.success
    message = "\n".join(run.errors)
    assert f"domain {report.domain}, product {report.product}" in message
    assert "NOT published" in message
    assert report.check in message
    if report.column:
        assert report.column in message
    # the last good snapshot is still the one served: nothing published, nothing rejected
    key = (report.domain, report.product)
    name, version = PORTS[key]
    assert current_snapshot(env.ports_dir, report.domain, name, version) == block_round.before[key]
    served = connect().execute(f"select count(*) from {report.domain}.{name}").fetchone()[0]
    assert served == block_round.before[key].rows


def test_huge_line_and_bad_day_folder_are_rejected_rows_not_a_failed_domain(reject_round, bad_env):
    """Issue 27, finding 8: a 50 MB line (over DuckDB's default line limit) and a folder named
    date=2026-02-30 each become rejected rows with a reason naming column and check; the
    domain's run succeeds and every other day is published."""
    run = reject_round.runs["playback"]
    assert run.success, run.errors
    record, path = _rejects(bad_env)
    huge = reject_round.reports["huge_line"]
    reasons = dict(
        duckdb.connect()
        .execute(
            f"select event_date::varchar, string_agg({REASON_COLUMN}, ' | ') "
            f"from read_parquet('{path}') group by 1"
        )
        .fetchall()
    )
    assert "missing on column `event_id`" in reasons[_day(huge)]
    assert (
        "missing on column `event_date`: landed in a day folder whose name is not a date"
        in reasons[MISSING_DAY]
    )
    assert "(check contract__event_date__missing)" in reasons[MISSING_DAY]
    assert record["rejected_by_check"]["contract__event_date__missing"]["rows"] == (
        reject_round.reports["date_folder_not_a_date"].rows_bad
    )
    days = connect().execute("select count(distinct event_date) from playback.play_events")
    assert days.fetchone()[0] == 90  # every real day of the stream is served


def test_rejected_lines_keep_their_raw_text_for_the_owners_only(reject_round, bad_env):
    """Issue 27, finding 8: the owners see what arrived — each rejected event keeps its line
    (its first 1,000 characters) in `raw_line`; consumers of the port never see that column."""
    _, path = _rejects(bad_env)
    reports = reject_round.reports

    def raw_lines(kind: str) -> list[str]:
        day = _event_day(reports[kind])
        rows = duckdb.connect().execute(
            f"select raw_line from read_parquet('{path}') where event_date = date '{day}'"
        )
        return [raw for (raw,) in rows.fetchall()]

    (huge,) = raw_lines("huge_line")
    assert len(huge) == 1000 and huge.startswith('{"event_id":"pe_') and huge.endswith("A" * 900)
    (cut,) = raw_lines("truncated_file")  # the last line, cut 25 bytes in
    assert len(cut) == 25 and cut.startswith('{"event_id":')
    badday = raw_lines("date_folder_not_a_date")
    assert len(badday) == 2 and all('"event_id":"pe_badday_' in raw for raw in badday)
    garbled = raw_lines("malformed_json_line")
    assert len(garbled) == 2 and all(r.endswith(" <<garbled by the collector>>") for r in garbled)
    every = duckdb.connect().execute(
        f"select count(*), count(raw_line) from read_parquet('{path}')"
    )
    rejected, with_raw = every.fetchone()
    assert rejected == with_raw  # every rejected row found its line
    columns = [c[0] for c in connect().execute("describe playback.play_events").fetchall()]
    assert "raw_line" not in columns


def test_bare_carriage_return_inside_a_quoted_csv_field_is_read_as_data(bad_env):
    """Issue 27, finding 8: a bare CR inside a quoted field of the artists export is part of
    the value, not a line break: artist_profiles builds and publishes the name as delivered."""
    env = bad_env
    (report,) = inject(env.operational_dir, ["csv_carriage_return"])
    try:
        (run,) = materialize_mesh(only=["artists"])
    finally:
        _restore_operational(env)
    assert run.success, run.errors
    names = connect().execute(
        "select artist_name from artists.artist_profiles where artist_name like '%' || chr(13) || '%'"
    )
    assert names.fetchall() == [(CR_NAME,)], report.detail
