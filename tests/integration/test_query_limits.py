"""Resource limits on the query paths as their users meet them, in real processes: ``mesh
query``, ``mesh_platform.connect`` in a Python process. A huge
result with a small limit is not built (peak memory of the process), a query past the timeout is
stopped.

No port needs to be published (the queries read ``range()``), so no mesh is built: each test has
its own empty data directory and the repository's users."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ..conftest import REPO

pytestmark = pytest.mark.slow

HUGE = "select range a, range * 2 b from range(150000000)"  # 2.4 GB if built
FOREVER = "select count(*) from range(1e12::bigint)"
PEAK_BOUND_MB = 1000  # the whole result alone is 2.4 GB; the issue measured 2.6-3.4 GB


def _env(data_dir: Path, **limits: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESH_QUERY_")}
    return {**env, "MESH_DATA_DIR": str(data_dir), **limits}


def _run_measured(args: list[str], env: dict[str, str]) -> tuple[int, str, str, float]:
    """Run a process to its end; its exit code, output and peak resident memory in MB."""
    with (
        open(env["MESH_DATA_DIR"] + ".out", "w+") as out,
        open(env["MESH_DATA_DIR"] + ".err", "w+") as err,
    ):
        process = subprocess.Popen(args, cwd=REPO, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return process.returncode, out.read(), err.read(), usage.ru_maxrss / 1024


def test_cli_query_with_limit_1_does_not_build_the_whole_result(tmp_path):
    code, out, err, peak_mb = _run_measured(
        [sys.executable, "-m", "mesh_platform.cli", "query", HUGE, "--limit", "1", "--as", "alice"],
        _env(tmp_path / "data"),
    )
    assert code == 0, out + err
    lines = out.strip().splitlines()
    assert lines[1].split() == ["0", "0"] and "more rows" in lines[2], out
    assert peak_mb < PEAK_BOUND_MB, f"mesh query peaked at {peak_mb:.0f} MB"


def test_python_connect_caps_the_rows_it_fetches(tmp_path):
    script = (
        "import mesh_platform\n"
        "with mesh_platform.connect('alice') as con:\n"
        f"    print(len(con.fetchall({HUGE!r})))\n"
    )
    code, out, err, peak_mb = _run_measured(
        [sys.executable, "-c", script], _env(tmp_path / "data", MESH_QUERY_MAX_ROWS="1000")
    )
    assert code == 0, err
    assert out.strip() == "1000" and "MESH_QUERY_MAX_ROWS" in err
    assert peak_mb < PEAK_BOUND_MB, f"the Python process peaked at {peak_mb:.0f} MB"


def test_cli_query_past_the_timeout_is_stopped(tmp_path):
    started = time.monotonic()
    code, out, err, _ = _run_measured(
        [sys.executable, "-m", "mesh_platform.cli", "query", FOREVER, "--as", "alice"],
        _env(tmp_path / "data", MESH_QUERY_TIMEOUT_S="2"),
    )
    assert code == 2 and "longer than 2 s" in out and "MESH_QUERY_TIMEOUT_S" in out, out + err
    assert time.monotonic() - started < 60
