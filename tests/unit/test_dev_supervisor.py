"""`mesh dev`'s supervisor without Dagster: a stop signal ends the child's whole tree, even a
grandchild that ignores SIGINT; and a live demo lands the day that just ended after midnight.

The real `mesh dev` over a generated mesh is in tests/integration/test_dev_stop.py (slow).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from mesh_platform.cli import dev
from mesh_platform.core.environment import apply_tool_env
from mesh_platform.production.processes import alive_pids, wait_until
from operational import generate

from ..conftest import REPO

# the child: a grandchild that ignores SIGINT (as a stuck code server would), then waits forever
CHILD = textwrap.dedent(
    """
    import signal, subprocess, sys, time
    subprocess.Popen([sys.executable, "-c",
        "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(600)"])
    time.sleep(600)
    """
)
SUPERVISOR = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from mesh_platform.cli.dev import supervise
    sys.exit(supervise([sys.executable, "-c", sys.argv[1]], Path.cwd()))
    """
)


def started_tree(root: int) -> set[int]:
    """The supervisor's child and grandchild, once both run."""
    from tests.integration.test_dev_stop import descendants

    return wait_until(lambda: (t := descendants(root)) and len(t) >= 2 and t, 10, "the tree")


@pytest.mark.slow  # waits out the grace, ~7 s per signal
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_stop_signal_ends_the_whole_tree_within_10s(tmp_path, sig):
    proc = subprocess.Popen(
        [sys.executable, "-c", SUPERVISOR, CHILD],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    seen: set[int] = set()
    try:
        assert proc.stdout.readline().strip() == "ready"
        seen = started_tree(proc.pid)
        began = time.monotonic()
        os.kill(proc.pid, sig)
        assert proc.wait(timeout=10) == 0
        took = time.monotonic() - began
        assert not alive_pids(seen), f"left running after {sig.name}: {alive_pids(seen)}"
        # the grandchild ignored SIGINT: it was killed after the grace, not before
        assert dev.STOP_GRACE - 0.5 <= took < 10
    finally:
        for pid in alive_pids(seen | {proc.pid}):
            os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=10)


def test_a_second_ctrl_c_kills_at_once(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-c", SUPERVISOR, CHILD],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    seen: set[int] = set()
    try:
        assert proc.stdout.readline().strip() == "ready"
        seen = started_tree(proc.pid)
        began = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        time.sleep(1)
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=10) == 0
        assert time.monotonic() - began < dev.STOP_GRACE
        assert not alive_pids(seen)
    finally:
        for pid in alive_pids(seen | {proc.pid}):
            os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _days(env) -> list[str]:
    return sorted(p.name for p in (env.operational_dir / "events" / "plays").iterdir())


def test_a_live_mesh_dev_lands_the_day_that_just_ended_after_midnight(tmp_path, monkeypatch):
    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path / "data"))
    env = apply_tool_env()
    last = dt.date(2026, 3, 31)
    generate(env.operational_dir, scale=0.001, days=3, end=last)
    monkeypatch.setattr(dev, "_yesterday", lambda: last)  # the data is live: it ends yesterday
    land = dev._day_lander(env)
    land()
    assert _days(env)[-1] == "date=2026-03-31"  # before midnight: nothing to land

    monkeypatch.setattr(dev, "_yesterday", lambda: last + dt.timedelta(days=1))  # past midnight
    land()
    assert _days(env)[-1] == "date=2026-04-01"
    manifest = json.loads((env.operational_dir / "manifest.json").read_text())
    assert manifest["appended_days"] == ["2026-04-01"] and manifest["days"] == 4
    land()  # the next tick: already landed
    assert _days(env)[-1] == "date=2026-04-01"


def test_a_pinned_window_is_left_as_it_is(tmp_path, monkeypatch):
    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path / "data"))
    env = apply_tool_env()
    generate(env.operational_dir, scale=0.001, days=3, end=dt.date(2026, 3, 31))
    land = dev._day_lander(env)  # the real clock: the data ended long ago
    land()
    assert _days(env)[-1] == "date=2026-03-31"


def test_dagster_dev_is_told_to_stop_when_mesh_dev_is_killed(tmp_path):
    """SIGKILL cannot be caught: the child still gets SIGINT (Linux's parent-death signal)."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            SUPERVISOR,
            "print('ready', flush=True); import time; time.sleep(600)",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    seen: set[int] = set()
    try:
        assert proc.stdout.readline().strip() == "ready"
        from tests.integration.test_dev_stop import descendants

        seen = descendants(proc.pid)
        assert seen
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        wait_until(lambda: not alive_pids(seen), 10, "the orphaned child to stop")
    finally:
        for pid in alive_pids(seen):
            os.kill(pid, signal.SIGKILL)


def test_a_mesh_that_names_no_increment_lands_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path / "data"))
    env = apply_tool_env()
    last = dt.date(2026, 3, 31)
    generate(env.operational_dir, scale=0.001, days=3, end=last)
    monkeypatch.setattr(dev, "_yesterday", lambda: last)
    import mesh_platform.cli.generate as generate_cli

    monkeypatch.setattr(generate_cli, "mesh_settings", lambda _: {})
    land = dev._day_lander(env)
    monkeypatch.setattr(dev, "_yesterday", lambda: last + dt.timedelta(days=1))
    land()
    assert _days(env)[-1] == "date=2026-03-31"
