"""Private seams fail loudly on a library version they were not tested with."""

from __future__ import annotations

import tomllib
from importlib import metadata

import pytest

from mesh_platform.core.version_guard import (
    OVERRIDE,
    TESTED,
    UntestedVersionError,
    check_version,
    require_tested,
)

from ..conftest import REPO


def test_installed_versions_are_the_tested_ones():
    for distribution in TESTED:
        require_tested(distribution, "test")  # would raise on a drifted install


def test_pyproject_pins_what_the_seams_were_tested_with():
    pins = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    for distribution, tested in TESTED.items():
        assert f"{distribution}{tested}" in pins


def test_an_upgrade_names_the_seam_and_what_to_do(monkeypatch):
    monkeypatch.delenv(OVERRIDE, raising=False)
    with pytest.raises(UntestedVersionError) as raised:
        check_version("dagster-dbt", "0.30.0", "the in-process dbt resource (dbt_resource.py)")
    message = str(raised.value)
    assert "the in-process dbt resource (dbt_resource.py)" in message
    assert "dagster-dbt==0.29.27" in message and "0.30.0 is installed" in message
    assert "make install" in message and OVERRIDE in message
    monkeypatch.setenv(OVERRIDE, "1")
    check_version("dagster-dbt", "0.30.0", "seam")  # the operator's explicit choice


def test_every_private_import_sits_in_a_guarded_module():
    """`dagster._…`, dagster-dbt internals and dbt-duckdb's private state only where guarded."""
    import re

    private = re.compile(
        r"from dagster\._|import dagster\._|from dagster_dbt\.(core|asset_utils|dagster_dbt_"
        r"translator|dbt_manifest)|DuckDBConnectionManager\._"
    )
    users = {
        str(path.relative_to(REPO))
        for path in (REPO / "mesh_platform").rglob("*.py")
        if private.search(path.read_text())
    }
    guarded = {
        str(path.relative_to(REPO))
        for path in (REPO / "mesh_platform").rglob("*.py")
        if "require_tested(" in path.read_text() and "def require_tested" not in path.read_text()
    }
    assert users and users <= guarded, f"private use without a version guard: {users - guarded}"
    assert metadata.version("dagster")  # the seams' library is installed
