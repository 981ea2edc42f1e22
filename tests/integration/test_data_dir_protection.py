"""What the mesh writes is its owner's only, and `--as` is trusted only where it may be.

Issue 27, finding 11: every file under the data directory was world-readable (raw source
personal data, every port, the warehouses, the audit log), and the CLI's `--as USER` was
taken on trust everywhere.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from mesh_platform.access.service import AccessService

from ..conftest import REPO

pytestmark = pytest.mark.slow


def mesh(*args: str, data_dir, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mesh_platform.cli", *args],
        cwd=REPO,
        env={**os.environ, "MESH_DATA_DIR": str(data_dir), **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def open_to_others(root) -> list[str]:
    return [
        f"{path} {stat.filemode(path.lstat().st_mode)}"
        for path in [root, *root.rglob("*")]
        if not path.is_symlink() and path.lstat().st_mode & 0o077
    ]


def test_a_built_mesh_leaves_nothing_readable_by_other_users(mesh_env):
    """Sources, warehouses, ports, the Dagster instance, access records: owner only."""
    assert stat.S_IMODE(mesh_env.data_dir.stat().st_mode) == 0o700
    kinds = {p.name for p in mesh_env.data_dir.iterdir()}
    assert {"operational", "warehouse", "ports", "dagster_home"} <= kinds
    assert open_to_others(mesh_env.data_dir) == []


def test_an_old_world_readable_data_dir_is_closed_by_the_next_command(tmp_path):
    data = tmp_path / "data"
    (data / "access").mkdir(parents=True)
    old = data / "access" / "audit.jsonl"  # as an earlier version left it
    old.write_text('{"user": "alice"}\n')
    os.chmod(data, 0o755)
    os.chmod(old, 0o644)
    result = mesh("generate", "--scale", "0.001", data_dir=data)
    assert result.returncode == 0, result.stdout + result.stderr
    assert stat.S_IMODE(data.stat().st_mode) == 0o700  # nothing inside is reachable by others
    assert open_to_others(data / "operational") == []  # the regenerated sources: owner only


def test_with_tokens_required_the_cli_acts_as_the_tokens_user_only(mesh_env):
    token = AccessService(mesh_env).issue_token("alice")
    sql = "select count(*) from artists.artist_royalties"
    untrusted = mesh(
        "query", sql, "--as", "carla", data_dir=mesh_env.data_dir, MESH_REQUIRE_TOKEN="1"
    )
    assert untrusted.returncode == 3
    assert "requires a token" in untrusted.stdout and "MESH_TOKEN" in untrusted.stdout

    forged = mesh(
        "query",
        sql,
        "--as",
        "carla",
        data_dir=mesh_env.data_dir,
        MESH_REQUIRE_TOKEN="1",
        MESH_TOKEN=token,
    )
    assert forged.returncode == 3 and "belongs to alice" in forged.stdout

    # alice has no grant on artists.artist_royalties (carla has): the token's user, not --as, is who asks
    as_alice = mesh(
        "query", sql, data_dir=mesh_env.data_dir, MESH_REQUIRE_TOKEN="1", MESH_TOKEN=token
    )
    assert as_alice.returncode == 3 and "alice has no grant" in as_alice.stdout

    # a trusted operator's machine (the local default): --as is taken as given
    trusted = mesh(
        "query", sql, "--as", "carla", data_dir=mesh_env.data_dir, MESH_REQUIRE_TOKEN="0"
    )
    assert trusted.returncode == 0, trusted.stdout + trusted.stderr
