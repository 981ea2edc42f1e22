"""Every DuckDB instance of a build is bounded: its domain's share of MESH_MEMORY_BUDGET, or
MESH_DUCKDB_MEMORY_LIMIT when set; both checked up front, naming the variable."""

from __future__ import annotations

import os

import duckdb
import pytest

from mesh_platform.core import memory
from mesh_platform.core.environment import duckdb_memory_limit, get_environment
from mesh_platform.core.memory import (
    COORDINATOR_ALLOWANCE,
    GIB,
    MIB,
    MIN_DUCKDB_LIMIT,
    PARALLEL_MIN_SHARE,
    PROCESS_ALLOWANCE,
    duckdb_share,
    memory_budget,
    size_bytes,
)


@pytest.fixture(autouse=True)
def _no_memory_settings(monkeypatch):
    for name in ("MESH_DUCKDB_MEMORY_LIMIT", "MESH_MEMORY_BUDGET", "MESH_DOMAINS_AT_ONCE"):
        monkeypatch.delenv(name, raising=False)


def test_the_default_budget_is_a_quarter_of_ram_up_to_3_gib():
    assert memory_budget(ram=8 * GIB) == 2 * GIB  # a small machine keeps three quarters
    # ... and a very small one still builds, one domain at a time with a working DuckDB
    assert memory_budget(ram=4 * GIB) == memory.DEFAULT_BUDGET_FLOOR
    assert duckdb_share(memory_budget(ram=2 * GIB), 1) >= MIN_DUCKDB_LIMIT
    assert memory_budget(ram=int(23.5 * GIB)) == 3 * GIB  # this one: 25 % would be 5.9 GiB
    assert memory_budget(ram=256 * GIB) == 3 * GIB


def test_the_budget_is_divided_among_the_domains_building_at_once(monkeypatch):
    monkeypatch.setenv("MESH_MEMORY_BUDGET", "3GiB")
    monkeypatch.setenv("MESH_DOMAINS_AT_ONCE", "2")
    two = (3 * GIB - COORDINATOR_ALLOWANCE) // 2 - PROCESS_ALLOWANCE
    assert duckdb_memory_limit() == f"{two // MIB}MiB"
    monkeypatch.setenv("MESH_DOMAINS_AT_ONCE", "1")
    one = 3 * GIB - COORDINATOR_ALLOWANCE - PROCESS_ALLOWANCE
    assert duckdb_memory_limit() == f"{one // MIB}MiB"
    # dbt's profile reads the resolved share from the tool environment of each invocation
    assert get_environment().tool_env()["MESH_DUCKDB_MEMORY_LIMIT"] == f"{one // MIB}MiB"


def test_a_percentage_budget_is_a_share_of_ram_and_has_no_cap(monkeypatch):
    monkeypatch.setattr(memory, "total_memory", lambda: 64 * GIB)
    monkeypatch.setenv("MESH_MEMORY_BUDGET", "50%")
    assert memory_budget() == 32 * GIB
    monkeypatch.setenv("MESH_DOMAINS_AT_ONCE", "4")
    limit = duckdb_memory_limit()
    assert limit == f"{((32 * GIB - COORDINATOR_ALLOWANCE) // 4 - PROCESS_ALLOWANCE) // MIB}MiB"


def test_mesh_duckdb_memory_limit_wins_over_the_budget(monkeypatch):
    monkeypatch.setenv("MESH_MEMORY_BUDGET", "100MB")  # far too small, but not used
    monkeypatch.setenv("MESH_DUCKDB_MEMORY_LIMIT", "2GB")
    assert duckdb_memory_limit() == "2GB"


def test_the_resolved_share_is_not_exported_as_the_users_limit(monkeypatch, tmp_path):
    """apply_tool_env must not freeze the share: the runner decides later how many domains
    build at once, and an exported value would look like the user's (which wins)."""
    from mesh_platform.core.environment import apply_tool_env

    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MESH_MEMORY_BUDGET", "3GiB")
    monkeypatch.setenv("MESH_DOMAINS_AT_ONCE", "1")
    umask, saved = os.umask(0o077), dict(os.environ)
    try:
        apply_tool_env()
        exported = dict(os.environ)
    finally:
        os.umask(umask)
        os.environ.clear()
        os.environ.update(saved)
    assert exported["MESH_DATA_DIR"] == str(tmp_path)  # the tool environment was exported…
    assert "MESH_DUCKDB_MEMORY_LIMIT" not in exported  # …but not the resolved share
    monkeypatch.setenv("MESH_DOMAINS_AT_ONCE", "2")
    two = (3 * GIB - COORDINATOR_ALLOWANCE) // 2 - PROCESS_ALLOWANCE
    assert duckdb_memory_limit() == f"{two // MIB}MiB"


def test_a_budget_too_small_for_the_domains_at_once_says_what_to_set(monkeypatch):
    monkeypatch.setenv("MESH_MEMORY_BUDGET", "1GB")
    monkeypatch.setenv("MESH_DOMAINS_AT_ONCE", "2")
    with pytest.raises(ValueError) as failure:
        duckdb_memory_limit()
    message = str(failure.value)
    needed = (2 * (MIN_DUCKDB_LIMIT + PROCESS_ALLOWANCE) + COORDINATOR_ALLOWANCE) // MIB
    assert "MESH_MEMORY_BUDGET=1GB" in message and "2 domain(s) building at once" in message
    assert f"{needed}MiB or more" in message and "MESH_DUCKDB_MEMORY_LIMIT" in message
    # and the advice is right: that budget is enough
    monkeypatch.setenv("MESH_MEMORY_BUDGET", f"{needed}MiB")
    assert duckdb_memory_limit() == f"{MIN_DUCKDB_LIMIT // MIB}MiB"


@pytest.mark.parametrize("value", ["512MB", "2GB", "1.5GiB", "50%", " 3 gb "])
def test_sizes_and_percentages_are_accepted_by_duckdb(monkeypatch, value):
    monkeypatch.setenv("MESH_DUCKDB_MEMORY_LIMIT", value)
    limit = duckdb_memory_limit()
    # what the platform and dbt's profile hand DuckDB must be something DuckDB takes
    duckdb.connect(config={"memory_limit": limit}).close()


def test_the_budgets_share_is_taken_by_duckdb(monkeypatch):
    monkeypatch.setenv("MESH_MEMORY_BUDGET", "3GB")
    monkeypatch.setenv("MESH_DOMAINS_AT_ONCE", "2")
    con = duckdb.connect(config={"memory_limit": duckdb_memory_limit()})
    shown = con.execute("select current_setting('memory_limit')").fetchone()[0]
    con.close()
    assert shown == f"{duckdb_memory_limit().removesuffix('MiB')}.0 MiB"


@pytest.mark.parametrize("name", ["MESH_DUCKDB_MEMORY_LIMIT", "MESH_MEMORY_BUDGET"])
@pytest.mark.parametrize("value", ["lots", "2 G B", "-1GB", "2PB"])
def test_a_typo_fails_naming_the_variable(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name) as failure:
        duckdb_memory_limit()
    assert "e.g. 2GB or 50%" in str(failure.value)


@pytest.mark.parametrize("value", ["0%", "150%"])
def test_a_share_of_ram_must_be_one(value):
    with pytest.raises(ValueError, match=r"MESH_MEMORY_BUDGET=.*between 0% and 100%"):
        size_bytes("MESH_MEMORY_BUDGET", value, ram=GIB)


def test_domains_build_in_parallel_only_while_each_duckdb_gets_enough():
    # the default 3 GiB would leave two domains 800 MiB each: too little for scale 50's 11 GB
    # of sources, one at a time
    big, small = 11 * 10**9, 2_200_000_000
    assert memory.parallel_domains(2, budget=3 * GIB, sources_bytes=big) == 1
    # scale 10's 2.2 GB builds two at once in 800 MiB each (measured), so do smaller ones
    assert memory.parallel_domains(2, budget=3 * GIB, sources_bytes=small) == 2
    assert memory.parallel_domains(2, budget=3 * GIB, sources_bytes=0) == 2
    assert duckdb_share(3 * GIB, 1) >= PARALLEL_MIN_SHARE
    # a bigger budget runs them in parallel, each DuckDB with at least PARALLEL_MIN_SHARE
    for budget, cores, expected in ((4 * GIB, 2, 2), (8 * GIB, 8, 4), (64 * GIB, 8, 8)):
        at_once = memory.parallel_domains(cores, budget=budget, sources_bytes=big)
        assert at_once == expected
        assert duckdb_share(budget, at_once) >= PARALLEL_MIN_SHARE
        assert duckdb_share(budget, at_once + 1) < PARALLEL_MIN_SHARE or at_once == cores
    assert memory.parallel_domains(2, budget=256 * MIB, sources_bytes=0) == 1  # never none


def test_the_sources_size_is_read_from_the_operational_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path))
    assert memory.operational_bytes() == 0  # nothing generated yet
    days = tmp_path / "operational" / "play_event_stream" / "date=2026-01-01"
    days.mkdir(parents=True)
    (days / "part-0.jsonl").write_bytes(b"x" * 1000)
    (tmp_path / "operational" / "registration.sqlite").write_bytes(b"y" * 24)
    assert memory.operational_bytes() == 1024


def test_an_explicit_duckdb_limit_leaves_the_parallelism_alone(monkeypatch):
    monkeypatch.setenv("MESH_DUCKDB_MEMORY_LIMIT", "4GB")
    assert memory.parallel_domains(2, budget=1 * GIB) == 2


def test_mesh_materialize_checks_the_memory_settings_before_anything_else(monkeypatch, tmp_path):
    from mesh_platform.run.runner import materialize_mesh

    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path))  # no data: that error would come next
    monkeypatch.setenv("MESH_MEMORY_BUDGET", "half")
    umask, saved = os.umask(0o077), dict(os.environ)
    try:
        with pytest.raises(ValueError, match=r"MESH_MEMORY_BUDGET='half' is not a memory size"):
            materialize_mesh()
    finally:
        os.umask(umask)
        os.environ.clear()
        os.environ.update(saved)


def test_a_run_started_outside_the_runner_gets_what_the_runner_would_give(monkeypatch):
    """A run from Dagster's UI or a schedule (no MESH_DOMAINS_AT_ONCE) is bounded as
    `mesh materialize` would bound it: with the default budget, one domain's share."""
    monkeypatch.setattr(memory.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(memory, "operational_bytes", lambda: 11 * 10**9)  # scale 50's sources
    monkeypatch.setenv("MESH_MEMORY_BUDGET", "3GiB")
    assert memory.domains_at_once() == 1
    assert duckdb_memory_limit() == f"{duckdb_share(3 * GIB, 1) // MIB}MiB"
    monkeypatch.setenv("MESH_MEMORY_BUDGET", "8GiB")
    assert memory.domains_at_once() == 2
