"""dbt run inside the step's process (mesh_platform.build.dbt_in_process) on a real dbt-duckdb project.

What a domain engineer relies on when dbt no longer has a process of its own: the events still
stream as dbt's JSON log lines, a failed model still fails the command with dbt's error, one
process can build one domain's file after another's, the file is free for publishing once dbt
returned, and terminating the run stops a long query instead of waiting for it.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mesh_platform.build.dbt_in_process import InProcessDbt

pytestmark = pytest.mark.slow

PROJECT = """
name: tiny
version: "1.0"
profile: tiny
"""
PROFILES = """
tiny:
  target: local
  outputs:
    local:
      type: duckdb
      path: "{{ env_var('TINY_DB') }}"
      threads: 1
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "models").mkdir(parents=True)
    (root / "dbt_project.yml").write_text(PROJECT)
    (root / "profiles.yml").write_text(PROFILES)
    (root / "models" / "plays.sql").write_text("select 1 as play_id, 'trk_000001' as track_id")
    (root / "models" / "broken.sql").write_text("select no_such_column from {{ ref('plays') }}")
    (root / "models" / "slow.sql").write_text(
        # a table of 10^11 hashes: hours of work
        "{{ config(materialized='table') }} select sum(hash(a.range * b.range)) as n from range(100000) a, range(1000000) b"
    )
    return root


def _run(project: Path, database: Path, *args: str) -> tuple[InProcessDbt, list[dict]]:
    dbt = InProcessDbt(["dbt", "build", *args], _env(project, database))
    events = [json.loads(line) for line in dbt.stdout]
    return dbt, events


def _env(project: Path, database: Path) -> dict[str, str]:
    target = project / "target" / database.stem
    return {
        "TINY_DB": str(database),
        "DBT_PROJECT_DIR": str(project),
        "DBT_PROFILES_DIR": str(project),
        "DBT_TARGET_PATH": str(target),
        "DBT_LOG_PATH": str(target),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def _names(events: list[dict]) -> list[str]:
    return [e["info"]["name"] for e in events]


def test_events_stream_as_dbt_json_lines_and_success_is_exit_zero(project, tmp_path):
    dbt, events = _run(project, tmp_path / "a.duckdb", "--select", "plays")
    assert dbt.wait() == 0
    # the event dagster-dbt turns into the model's materialization
    result = next(e for e in events if e["info"]["name"] == "LogModelResult")
    assert result["data"]["node_info"]["unique_id"] == "model.tiny.plays"
    assert result["data"]["node_info"]["node_status"] == "success"
    assert all(e["info"]["level"] != "debug" for e in events)  # like dbt's stdout


def test_a_failed_model_fails_the_command_with_dbts_error(project, tmp_path):
    dbt, events = _run(project, tmp_path / "a.duckdb", "--select", "plays", "broken")
    assert dbt.wait() == 1
    errors = [e["info"]["msg"] for e in events if e["info"]["level"] == "error"]
    assert any("no_such_column" in message for message in errors)


def test_an_error_dbt_raises_is_reported_as_an_error_line(project, tmp_path):
    (project / "profiles.yml").write_text(PROFILES.replace("duckdb", "no_such_adapter"))
    dbt, events = _run(project, tmp_path / "a.duckdb", "--select", "plays")
    assert dbt.wait() == 2
    assert any(e["info"]["level"] == "error" for e in events)


def test_one_process_builds_two_databases_and_leaves_both_free(project, tmp_path):
    """The second domain of a worker must not see the first one's file (dbt-duckdb keeps it)."""
    for name in ("first", "second"):
        database = tmp_path / f"{name}.duckdb"
        dbt, _ = _run(project, database, "--select", "plays")
        assert dbt.wait() == 0
        # another process can write the file: dbt released it when it returned
        subprocess.run(
            [sys.executable, "-c", f"import duckdb; duckdb.connect({str(database)!r}).close()"],
            check=True,
        )
        rows = subprocess.run(
            [
                sys.executable,
                "-c",
                "import duckdb; print(duckdb.connect("
                f"{str(database)!r}, read_only=True).execute('select count(*) "
                "from main.plays').fetchall()[0][0])",
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        assert rows.stdout.strip() == "1"


def test_terminating_stops_a_running_query(project, tmp_path):
    dbt = InProcessDbt(["dbt", "build", "--select", "slow"], _env(project, tmp_path / "a.duckdb"))
    lines = iter(dbt.stdout)
    for line in lines:  # wait until the slow model runs
        if json.loads(line)["info"]["name"] == "LogStartLine":
            break
    time.sleep(1)
    dbt.send_signal(signal.SIGINT)
    rest = [json.loads(line) for line in lines]
    assert dbt.wait(timeout=60) not in (None, 0)  # stopped, and reported as not successful
    results = [
        e["data"]["node_info"]["node_status"] for e in rest if e["info"]["name"] == "LogModelResult"
    ]
    assert "success" not in results


@pytest.mark.parametrize(
    ("settings", "shown"),
    [
        # the default: the budget (3 GiB here) divided among 2 domains at once, less each
        # worker process's own memory — what dbt's DuckDB and the platform's connection get
        ({"MESH_MEMORY_BUDGET": "3GiB", "MESH_DOMAINS_AT_ONCE": "2"}, "800.0 MiB"),
        ({"MESH_MEMORY_BUDGET": "3GiB", "MESH_DOMAINS_AT_ONCE": "1"}, "2.1 GiB"),  # 2240 MiB
        # MESH_DUCKDB_MEMORY_LIMIT wins over the budget
        ({"MESH_MEMORY_BUDGET": "3GiB", "MESH_DUCKDB_MEMORY_LIMIT": "123MB"}, "117.3 MiB"),
    ],
)
def test_the_mesh_profile_bounds_dbts_duckdb_memory(tmp_path, monkeypatch, settings, shown):
    """dbt's DuckDB gets the domain's share of MESH_MEMORY_BUDGET through the tool environment
    of its invocation, and the platform's own connection to the domain's file the same."""
    from types import SimpleNamespace

    from mesh_platform.build.engines.duckdb import DuckDBEngine
    from mesh_platform.core.environment import REPO_ROOT, get_environment
    from mesh_platform.core.manifest import prepare_manifest

    for name in ("MESH_DUCKDB_MEMORY_LIMIT", "MESH_MEMORY_BUDGET", "MESH_DOMAINS_AT_ONCE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path / "data"))
    project = REPO_ROOT / "dbt_project" / "artists"
    prepare_manifest(project)  # its local packages installed
    mesh = get_environment()
    mesh.warehouse_dir.mkdir(parents=True)
    env = {
        **_env(project, tmp_path / "artists.duckdb"),
        **mesh.tool_env(),  # what a step hands dbt (its MESH_DUCKDB_MEMORY_LIMIT included)
        "DBT_PROFILES_DIR": str(project.parent),  # the mesh's shared profile
        "DBT_TARGET_PATH": str(tmp_path / "target"),
        "DBT_LOG_PATH": str(tmp_path / "target"),
        "MESH_DOMAIN": "artists",
    }
    query = "select current_setting('memory_limit') as memory_limit"
    dbt = InProcessDbt(["dbt", "show", "--inline", query, "--output", "json"], env)
    events = [json.loads(line) for line in dbt.stdout]
    assert dbt.wait() == 0, [e["info"]["msg"] for e in events if e["info"]["level"] == "error"]
    node = next(e for e in events if e["info"]["name"] == "ShowNode")
    assert json.loads(node["data"]["preview"]) == [{"memory_limit": shown}]
    # the platform's audit-and-publish connection to the same file
    bindings = SimpleNamespace(domain=SimpleNamespace(name="artists"))
    with DuckDBEngine().audit_connection(mesh, bindings, []) as con:
        assert con.execute(query).fetchone()[0] == shown
