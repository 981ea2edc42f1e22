"""`mesh dev` stops cleanly: Ctrl-C or SIGTERM ends the whole tree (webserver, daemon, one code
server per domain) within 10 s, and nothing it started is left running.

Each case starts the real `mesh dev` on a free port over a small generated mesh, waits until
every code location has loaded (so the code servers are alive), signals it the way a terminal
or a service manager does, and checks every descendant process seen is gone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mesh_platform.production.processes import alive_pids
from operational import generate

from ..conftest import REPO, TEST_SCALE
from .test_dagster_ui import free_port, loaded_locations, wait_for

pytestmark = pytest.mark.slow

STOPPED_WITHIN = 10.0


def descendants(root: int) -> set[int]:
    """Every live process below ``root`` (children, grandchildren, ...), from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


@pytest.fixture(scope="module")
def dev_data(tmp_path_factory) -> Path:
    data_dir = tmp_path_factory.mktemp("dev-stop")
    generate(data_dir / "operational", scale=TEST_SCALE)
    return data_dir


@pytest.mark.parametrize(
    "how",
    [
        pytest.param("sigterm", id="SIGTERM to mesh dev"),
        pytest.param("ctrl-c", id="Ctrl-C (SIGINT to the foreground group)"),
    ],
)
def test_mesh_dev_stops_every_child_within_10s(dev_data, how):
    port = free_port()
    env = {**os.environ, "MESH_DATA_DIR": str(dev_data)}
    log = (dev_data / f"mesh-dev-{how}.log").open("w")
    began = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mesh_platform.cli", "dev", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own group, as a shell job is: Ctrl-C goes to the group
    )
    seen: set[int] = set()
    try:
        wait_for(lambda: loaded_locations(port), 300, "every code location to load")
        started = time.monotonic() - began
        seen = descendants(proc.pid)
        domains = list((REPO / "domains").glob("*/domain.yaml"))
        # dagster dev, the webserver, the daemon and a code server per domain at least
        assert len(seen) >= len(domains) + 3, sorted(seen)

        stop_at = time.monotonic()
        if how == "sigterm":
            os.kill(proc.pid, signal.SIGTERM)
        else:
            os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=STOPPED_WITHIN)
        while alive_pids(seen) and time.monotonic() - stop_at < STOPPED_WITHIN:
            time.sleep(0.1)
        stopped = time.monotonic() - stop_at
        left = alive_pids(seen)
        assert not left, f"still running {stopped:.1f}s after {how}: {sorted(left)}"
        assert proc.returncode == 0
        print(f"mesh dev: ready in {started:.1f}s, stopped in {stopped:.1f}s after {how}")
    finally:
        for pid in alive_pids(seen | {proc.pid}):  # only what this test started
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=10)
        log.close()
