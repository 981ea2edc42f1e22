"""Every guarded query runs under a row cap applied inside the query, a memory limit and a
timeout (``MESH_QUERY_*``), can be interrupted from another thread, fails without showing row
data, and is audited whatever happens. Real DuckDB over the repository's access policy; no port
needs to be published for these, so no mesh is built."""

from __future__ import annotations

import json
import threading
import time

import pytest

from mesh_platform.access.audit import read_entries
from mesh_platform.access.errors import QueryRefused
from mesh_platform.access.service import AccessService

FOREVER = "select count(*) from range(1e12::bigint)"  # hours of work, a few bytes of result


@pytest.fixture
def service(tmp_path, monkeypatch) -> AccessService:
    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path / "data"))
    for name in ("TIMEOUT_S", "MEMORY_LIMIT", "MAX_ROWS", "TEMP_LIMIT"):
        monkeypatch.delenv(f"MESH_QUERY_{name}", raising=False)
    return AccessService()


def _audit(service: AccessService):
    return list(read_entries(service.env.data_dir))


def test_limits_are_read_from_the_environment_when_asked(monkeypatch):
    from mesh_platform.access import limits as query_limits_module

    for name in ("TIMEOUT_S", "MEMORY_LIMIT", "MAX_ROWS", "TEMP_LIMIT"):
        monkeypatch.delenv(f"MESH_QUERY_{name}", raising=False)
    defaults = query_limits_module.query_limits()
    assert defaults.timeout_s > 0 and defaults.max_rows > 0 and defaults.memory_limit
    monkeypatch.setenv("MESH_QUERY_TIMEOUT_S", "2.5")
    monkeypatch.setenv("MESH_QUERY_MEMORY_LIMIT", "300MB")
    monkeypatch.setenv("MESH_QUERY_MAX_ROWS", "10")
    monkeypatch.setenv("MESH_QUERY_TEMP_LIMIT", "1GB")
    chosen = query_limits_module.query_limits()
    assert (chosen.timeout_s, chosen.memory_limit, chosen.max_rows, chosen.temp_limit) == (
        2.5,
        "300MB",
        10,
        "1GB",
    )
    for name, bad in (
        ("MESH_QUERY_TIMEOUT_S", "soon"),
        ("MESH_QUERY_TIMEOUT_S", "0"),
        ("MESH_QUERY_MEMORY_LIMIT", "lots"),
        ("MESH_QUERY_MAX_ROWS", "-1"),
        ("MESH_QUERY_TEMP_LIMIT", "50%"),
    ):
        monkeypatch.setenv(name, bad)
        with pytest.raises(ValueError, match=name):
            query_limits_module.query_limits()
        monkeypatch.undo()


def test_a_huge_result_stops_at_the_row_cap_without_being_built(service, monkeypatch):
    monkeypatch.setenv("MESH_QUERY_MAX_ROWS", "1000")
    monkeypatch.setenv("MESH_QUERY_TIMEOUT_S", "60")
    with service.connect("alice") as con:
        # 10^12 rows cannot be materialized: the only way to answer is to stop inside the query
        result = con.run("select range a, range * 2 b from range(1e12::bigint)", max_rows=1)
        assert result.table.num_rows == 1 and result.truncated
        with pytest.warns(UserWarning, match="MESH_QUERY_MAX_ROWS"):
            rows = con.fetchall("select range from range(1e12::bigint)")
        assert len(rows) == 1000
        assert con.fetchall("select 1") == [(1,)]  # the connection is usable afterwards
    reads = [e for e in _audit(service) if e.action == "read"]
    assert [e.rows for e in reads] == [1, 1000, 1]


def test_a_query_running_past_the_timeout_is_stopped_with_a_clear_error(service, monkeypatch):
    monkeypatch.setenv("MESH_QUERY_TIMEOUT_S", "1")
    with service.connect("alice", channel="cli") as con:
        started = time.monotonic()
        with pytest.raises(ValueError, match=r"longer than 1 s.*MESH_QUERY_TIMEOUT_S"):
            con.fetchall(FOREVER)
        assert time.monotonic() - started < 30  # generous: without a timeout it runs for hours
        assert con.fetchall("select 2") == [(2,)]
    failed = [e for e in _audit(service) if e.action == "failed"]
    assert len(failed) == 1 and "timeout" in failed[0].detail and failed[0].channel == "cli"


def test_a_query_needing_more_memory_than_the_limit_fails_naming_it(service, monkeypatch):
    monkeypatch.setenv("MESH_QUERY_MEMORY_LIMIT", "100MB")
    with (
        service.connect("alice") as con,
        pytest.raises(ValueError, match=r"memory.*MESH_QUERY_MEMORY_LIMIT=100MB"),
    ):
        con.fetchall("select list(range) from range(100000000)")  # an 800 MB list


def test_another_thread_can_interrupt_a_running_query(service, monkeypatch):
    from mesh_platform.access.query import interrupt_all_queries

    monkeypatch.setenv("MESH_QUERY_TIMEOUT_S", "300")
    errors: list[Exception] = []
    with service.connect("alice", channel="api") as con:

        def run():
            try:
                con.fetchall(FOREVER)
            except Exception as exc:
                errors.append(exc)

        worker = threading.Thread(target=run)
        worker.start()
        time.sleep(0.5)
        interrupt_all_queries("the server is stopping")
        worker.join(30)
        assert not worker.is_alive()
    assert len(errors) == 1 and "cancelled: the server is stopping" in str(errors[0])
    failed = [e for e in _audit(service) if e.action == "failed"]
    assert failed and "cancelled" in failed[-1].detail


def test_a_failed_query_shows_no_row_data_and_is_audited(service):
    sql = "select cast(string_agg('row' || range::varchar || 'data', '|') as int) from range(5)"
    with service.connect("alice") as con:
        with pytest.raises(ValueError) as failed:
            con.fetchall(sql)
        message = str(failed.value)
        assert "row0data" not in message and "row3data" not in message
        assert "ConversionException" in message and "try_cast" in message
        with pytest.raises(ValueError) as raised:
            con.fetchall("select error('secret-' || range::varchar) from range(3)")
        assert "secret-0" not in str(raised.value) and "InvalidInputException" in str(raised.value)
        with pytest.raises(ValueError, match="no_such_column.*not found"):  # the binder says which
            con.fetchall("select no_such_column from range(3)")
    entries = _audit(service)
    assert [e.action for e in entries] == ["failed", "failed", "failed"]
    assert "row0data" not in json.dumps([e.detail for e in entries])
    assert entries[0].detail.startswith("ConversionException")


def test_refusals_and_reads_are_audited_too(service):
    with service.connect("alice") as con:
        with pytest.raises(QueryRefused):
            con.fetchall("explain analyze select * from read_text('/etc/hostname')")
        con.fetchall("select 1")
    assert [e.action for e in _audit(service)] == ["refused", "read"]


def test_the_temporary_directory_is_private_and_unreadable_by_queries(
    service, tmp_path, monkeypatch
):
    """The issue's attack: DuckDB's default temp directory (``.tmp`` in the working directory)
    stayed readable with external access off."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".tmp").mkdir()
    (tmp_path / ".tmp" / "secret.txt").write_text("s3cr3t-content")
    attack = "EXPLAIN ANALYZE SELECT cast(content as int) FROM read_text('.tmp/secret.txt')"
    with service.connect("alice") as con:
        with pytest.raises(QueryRefused, match=r"read_text\(\)") as refused:
            con.fetchall(attack)
        assert "s3cr3t" not in str(refused.value)
        # the second layer, for a statement the guard would misjudge: the connection itself
        # cannot read the working directory's .tmp, nor anything else
        import duckdb

        with pytest.raises(duckdb.PermissionException):
            con._con.sql("select content from read_text('.tmp/secret.txt')").fetchall()
        private = con.temp_directory
        assert private.is_dir() and private.stat().st_mode & 0o077 == 0
        assert tmp_path not in private.parents
    assert not private.exists()  # removed with the connection
