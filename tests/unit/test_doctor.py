"""`mesh doctor` finds each set-up problem and says how to fix it."""

from __future__ import annotations

import shutil

import pytest
from typer.testing import CliRunner

from mesh_platform.cli.app import app
from mesh_platform.core.environment import get_environment
from mesh_platform.scaffold import doctor

from ..conftest import REPO


@pytest.fixture
def copy(tmp_path, monkeypatch):
    root = tmp_path / "repo"
    for part in ("domains", "dbt_project", "infra"):
        shutil.copytree(REPO / part, root / part, ignore=shutil.ignore_patterns("logs"))
    for part in ("workspace.yaml", "pyproject.toml", "uv.lock"):
        shutil.copy2(REPO / part, root / part)
    monkeypatch.setenv("MESH_REPO_ROOT", str(root))
    for key in doctor.TELEMETRY_OFF:
        monkeypatch.delenv(key, raising=False)
    return root


def by_name(env):
    return {c.name: c for c in doctor.run_checks(env)}


def test_a_good_copy_passes_the_set_up_checks(copy):
    checks = by_name(get_environment())
    for name in ("python", "tool versions", "workspace.yaml", "data folders"):
        assert checks[name].ok, checks[name]
    assert checks["telemetry (environment)"].ok and checks["telemetry (dagster.yaml)"].ok


def test_workspace_out_of_step_with_domains_is_a_problem(copy):
    (copy / "workspace.yaml").write_text(
        (copy / "workspace.yaml")
        .read_text()
        .replace("location_name: podcasts", "location_name: pods")
    )
    check = by_name(get_environment())["workspace.yaml"]
    assert not check.ok
    assert "missing podcasts" in check.detail and "no such domain pods" in check.detail
    assert "mesh new domain" in check.fix


def test_stale_or_missing_manifest_says_mesh_prepare(copy):
    (copy / "dbt_project" / "podcasts" / "models" / "new.sql").write_text("select 1 as x\n")
    check = doctor.dbt_manifest(get_environment())
    assert not check.ok and check.fix.startswith("run `mesh prepare`")
    assert check.detail == "older than their dbt project (files changed): podcasts"
    shutil.rmtree(copy / "dbt_project" / "artists" / "target", ignore_errors=True)
    check = doctor.dbt_manifest(get_environment())
    assert check.detail == (
        "not parsed yet: artists; older than their dbt project (files changed): podcasts"
    )


def test_telemetry_turned_on_anywhere_is_a_problem(copy, monkeypatch):
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "true")
    assert "DBT_SEND_ANONYMOUS_USAGE_STATS=true" in doctor.telemetry_env(get_environment()).detail
    (copy / "infra" / "dagster.extra.yaml").write_text("telemetry:\n  enabled: true\n")
    check = doctor.telemetry_dagster_yaml(get_environment())
    assert not check.ok and "infra/dagster.extra.yaml" in check.detail


def test_unwritable_data_dir_is_a_problem(copy, tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    monkeypatch.setenv("MESH_DATA_DIR", str(locked / "data"))
    check = doctor.data_writable(get_environment())
    assert check.ok is (shutil.os.geteuid() == 0)  # root may write anywhere
    assert "MESH_DATA_DIR" in check.fix or check.ok


def test_doctor_exits_1_on_a_problem_and_prints_the_fix(copy):
    (copy / "workspace.yaml").write_text("load_from: []\n")
    result = CliRunner().invoke(app, ["doctor"])
    assert result.exit_code == 1
    assert "✘ workspace.yaml" in result.output and "fix: list each domain" in result.output
