"""The `mesh` command line as scripts use it: exit codes and machine-readable output."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ..conftest import REPO

pytestmark = pytest.mark.slow


def mesh(*args: str, data_dir) -> subprocess.CompletedProcess:
    env = {**os.environ, "MESH_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "mesh_platform.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_products_lists_every_published_port_as_json(mesh_env):
    result = mesh("products", "--json", data_dir=mesh_env.data_dir)
    assert result.returncode == 0, result.stderr
    ports = {p["address"]: p for p in json.loads(result.stdout)}
    assert ports["playback.play_events"]["rows"] > 0
    assert len(ports) >= 12


def test_query_reads_published_ports(mesh_env):
    result = mesh(
        "query",
        "select count(*) as n from artists.track_catalog",
        "--as",
        "alice",
        data_dir=mesh_env.data_dir,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "n" and int(result.stdout.split()[1]) > 0


def test_bad_sql_exits_2_with_the_reason(mesh_env):
    result = mesh(
        "query",
        "select nope from artists.track_catalog",
        "--as",
        "alice",
        data_dir=mesh_env.data_dir,
    )
    assert result.returncode == 2
    assert 'column "nope" not found' in result.stdout


def test_unknown_domain_is_refused_clearly(mesh_env):
    result = mesh("materialize", "jazz", data_dir=mesh_env.data_dir)
    assert result.returncode == 2
    assert "unknown domain(s) ['jazz']" in result.stdout


def test_materialize_without_generated_data_says_what_to_do(tmp_path):
    result = mesh("materialize", data_dir=tmp_path)
    assert result.returncode == 2
    assert "mesh generate" in result.stdout
