"""The demo run makes no outbound connection attempt: every network system call of `mesh demo`
(generate, dbt parse, every domain's dbt build, Soda checks, publishing, through Dagster) and of
all its child processes is traced with strace, and only loopback and local Unix sockets are used.

Telemetry must be off *by default*: the run gets none of the opt-out variables the Makefile
exports (``DO_NOT_TRACK`` …), so the platform has to set them itself. A DNS query counts as an
outbound attempt, even to a loopback stub resolver. On failure the message lists each attempt
with the process that made it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mesh_platform.core.environment import TELEMETRY_OFF
from security.netwatch import outbound, parse, report, strace_argv

pytestmark = pytest.mark.slow

STRACE = shutil.which("strace")
MESH = Path(sys.executable).parent / "mesh"
# every opt-out a user's shell or the Makefile might carry: the run must not depend on them
OPT_OUTS = {*TELEMETRY_OFF, "DAGSTER_DISABLE_TELEMETRY", "DAGSTER_HOME", "DBT_VERSION_CHECK"}
SCALE = "0.02"


def _clean_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in OPT_OUTS}
    env["MESH_DATA_DIR"] = str(data_dir)
    return env


@pytest.fixture(scope="module")
def strace() -> str:
    if STRACE is None:
        pytest.fail("strace is not installed: `make tools` installs it")
    probe = subprocess.run(
        [STRACE, "-f", "-qq", "-e", "trace=connect", "true"], capture_output=True
    )
    if probe.returncode != 0:
        pytest.skip(f"ptrace is not permitted here: {probe.stderr.decode().strip()}")
    return STRACE


@pytest.fixture(scope="module")
def traced_demo(strace, tmp_path_factory) -> tuple[subprocess.CompletedProcess, str]:
    """`mesh demo` once under strace, in a fresh data directory; (the run, the strace log)."""
    work = tmp_path_factory.mktemp("traced-demo")
    log = work / "strace.log"
    run = subprocess.run(
        [*strace_argv(log, strace), str(MESH), "demo", "--scale", SCALE],
        env=_clean_env(work / "data"),
        capture_output=True,
        text=True,
        timeout=900,
    )
    return run, log.read_text()


def test_the_tracer_catches_a_dns_lookup_and_a_connection_outside_loopback(strace, tmp_path):
    """The detector itself, on this machine: a name lookup and a TEST-NET connect are caught."""
    log = tmp_path / "probe.log"
    script = (
        "import socket\n"
        "try: socket.getaddrinfo('mesh-probe.invalid', 443)\n"
        "except OSError: pass\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "s.sendto(b'x', ('192.0.2.1', 9))\n"
        "t = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "t.sendto(b'x', ('127.0.0.1', 9))\n"
    )
    subprocess.run([*strace_argv(log, strace), sys.executable, "-c", script], check=True)
    bad = outbound(parse(log.read_text()))
    assert any(a.address == "192.0.2.1" for a in bad), report(bad)
    assert any(a.port == 53 or "nscd" in a.address or "resolve" in a.address for a in bad) or (
        # no resolver configured at all: the lookup never leaves the process
        not Path("/etc/resolv.conf").exists()
    ), report(bad)
    assert not any(a.address == "127.0.0.1" for a in bad)


def test_the_demo_run_makes_no_outbound_connection_attempt(traced_demo):
    run, log = traced_demo
    attempts = parse(log)
    bad = outbound(attempts)
    assert not bad, (
        f"{len(bad)} outbound network attempt(s) during `mesh demo` (telemetry, version checks "
        f"or downloads?):\n{report(bad)}"
    )


def test_the_traced_demo_ran_end_to_end_with_its_children_traced(traced_demo):
    run, log = traced_demo
    assert run.returncode == 0, (
        f"mesh demo failed under strace:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    )
    assert "rows published" in run.stdout
    # strace followed the child processes (each domain builds in a worker process)
    started = {line.split(maxsplit=1)[0] for line in log.splitlines() if " execve(" in line}
    assert len(started) >= 3, f"strace did not follow the child processes: {sorted(started)}"
