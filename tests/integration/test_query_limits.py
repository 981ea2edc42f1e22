"""Resource limits on the query paths as their users meet them, in real processes: ``mesh
query``, ``mesh_platform.connect`` in a Python process and ``mesh portal`` over HTTP. A huge
result with a small limit is not built (peak memory of the process), a query past the timeout is
stopped, a client that disconnects cancels its query, and SIGTERM stops a portal mid-query.

No port needs to be published (the queries read ``range()``), so no mesh is built: each test has
its own empty data directory and the repository's users."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from mesh_platform.access.audit import read_entries
from mesh_platform.access.service import AccessService

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


# --- the portal, as a real server process ----------------------------------------------------


class Portal:
    def __init__(self, data_dir: Path, **limits: str) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        env = _env(data_dir, **limits)
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("MESH_DATA_DIR", str(data_dir))
            self.headers = {"Authorization": f"Bearer {AccessService().issue_token('alice')}"}
        self.log = open(str(data_dir) + ".portal.log", "w")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mesh_platform.cli", "portal", "--port", str(self.port)],
            cwd=REPO,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert self.process.poll() is None, Path(self.log.name).read_text()
            try:
                if httpx.get(self.url + "/api/v1/domains", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.3)
        raise AssertionError("the portal did not start: " + Path(self.log.name).read_text())

    def query(self, sql: str, limit: int = 10, timeout: float = 120) -> httpx.Response:
        return httpx.post(
            self.url + "/api/v1/query",
            json={"sql": sql, "limit": limit},
            headers=self.headers,
            timeout=timeout,
        )

    def peak_mb(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(next(x for x in status.splitlines() if x.startswith("VmHWM")).split()[1]) / 1024

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def failed_queries(self) -> list:
        return [e for e in read_entries(self.data_dir) if e.action == "failed"]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)
        self.log.close()


@pytest.fixture
def portal(tmp_path):
    started: list[Portal] = []

    def start(**limits: str) -> Portal:
        started.append(Portal(tmp_path / f"data{len(started)}", **limits))
        return started[-1]

    yield start
    for each in started:
        each.stop()


def test_api_query_with_limit_1_does_not_build_the_whole_result(portal):
    server = portal()
    before = server.peak_mb()
    response = server.query(HUGE, limit=1)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["rows"] == [{"a": 0, "b": 0}] and body["truncated"] is True
    assert server.peak_mb() < max(PEAK_BOUND_MB, before + 500), f"peaked at {server.peak_mb()} MB"


def test_api_query_past_the_timeout_is_stopped_with_a_clear_error(portal):
    server = portal(MESH_QUERY_TIMEOUT_S="2")
    response = server.query(FOREVER, timeout=60)
    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert "longer than 2 s" in detail and "MESH_QUERY_TIMEOUT_S" in detail
    assert server.failed_queries()[-1].channel == "api"


def test_a_client_that_disconnects_cancels_its_query(portal):
    server = portal(MESH_QUERY_TIMEOUT_S="600")
    with pytest.raises(httpx.ReadTimeout):
        server.query(FOREVER, timeout=2)  # the client gives up and closes its connection
    deadline = time.monotonic() + 30
    while not server.failed_queries() and time.monotonic() < deadline:
        time.sleep(0.5)
    failed = server.failed_queries()
    assert failed and "client disconnected" in failed[-1].detail, failed
    idle = server.cpu_seconds()
    time.sleep(2)
    assert server.cpu_seconds() - idle < 1.0  # no query is still burning a core


def test_sigterm_stops_the_portal_while_a_query_runs(portal):
    server = portal(MESH_QUERY_TIMEOUT_S="600")
    answers: list = []
    client = threading.Thread(
        target=lambda: answers.append(_answer(lambda: server.query(FOREVER, timeout=90)))
    )
    client.start()
    busy = server.cpu_seconds()
    deadline = time.monotonic() + 30
    while server.cpu_seconds() - busy < 1.0 and time.monotonic() < deadline:
        time.sleep(0.2)  # the query is running once the server burns CPU
    server.process.send_signal(signal.SIGTERM)
    try:
        code = server.process.wait(30)
    except subprocess.TimeoutExpired:
        pytest.fail("the portal was still running 30 s after SIGTERM")
    client.join(30)
    assert code == 0 or code == -signal.SIGTERM, code
    assert answers and (answers[0] is None or "stopping" in answers[0]), answers
    failed = [e for e in read_entries(server.data_dir) if e.action == "failed"]
    assert failed and "cancelled" in failed[-1].detail


def _answer(call) -> str | None:
    """The detail of an error answer, or None when the server closed the connection first."""
    try:
        return json.dumps(call().json())
    except httpx.HTTPError:
        return None
