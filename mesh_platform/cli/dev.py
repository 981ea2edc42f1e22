"""``mesh dev``: the Dagster UI on 127.0.0.1 with one code location per domain.

``mesh dev`` supervises ``dagster dev`` rather than becoming it: ``dagster dev`` (webserver,
daemon, one code server per domain, and the runs they launch) starts in a session of its own,
and Ctrl-C, SIGTERM or SIGHUP to ``mesh dev`` reach that whole tree as SIGINT — the signal
``dagster dev`` stops cleanly on. Whatever is still alive :data:`STOP_GRACE` seconds later
(a code server, a dbt or Spark child) is killed, so nothing outlives ``mesh dev``.

While it runs, the demo stays live: after midnight UTC the mesh's daily increment
(``[tool.mesh] increment``) lands the day that just ended, and the daily products' schedules
build it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import typer

from mesh_platform.cli.generate import mesh_increment, run_generate, run_increment
from mesh_platform.cli.output import console
from mesh_platform.core.data_window import declared_window
from mesh_platform.core.environment import MeshEnvironment, apply_tool_env
from mesh_platform.core.manifest import prepare_all
from mesh_platform.production.processes import alive_pids, session_pids

# Seconds `dagster dev` gets to stop on SIGINT before its whole session is killed.
STOP_GRACE = 6.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
TICK = 60.0  # how often the supervisor checks for a day to land


def register(app: typer.Typer) -> None:
    @app.command()
    def dev(
        port: int = typer.Option(3000, help="Port of the web UI."),
        host: str = typer.Option("127.0.0.1", help="Bind address (loopback by default)."),
    ) -> None:
        """Start `dagster dev` (webserver + daemon) over workspace.yaml; Ctrl-C stops it all."""
        from mesh_platform.build.instance import ensure_dagster_home

        env = apply_tool_env()
        ensure_dagster_home(env)
        if not env.operational_dir.is_dir() or not any(env.operational_dir.iterdir()):
            run_generate(0.05, 42, console())
        prepare_all(env)
        dagster = shutil.which("dagster", path=os.path.dirname(sys.executable))
        if dagster is None:
            raise typer.BadParameter(
                "dagster is not installed in this environment: run make install"
            )
        args = [
            dagster,
            "dev",
            "-w",
            str(env.repo_root / "workspace.yaml"),
            "-h",
            host,
            "-p",
            str(port),
        ]
        console().print(f"Dagster UI on http://{host}:{port} (Ctrl-C to stop)")
        tick = _day_lander(env)
        if not _needs_spark_cluster(env):
            raise typer.Exit(supervise(args, env.repo_root, tick))
        # a domain builds on Spark and no cluster is named: a local one lives as long as the UI
        from mesh_platform.production.spark_cluster import spark_cluster_for

        with spark_cluster_for(env, True) as master:
            console().print(f"Spark domains build on {master}")
            code = supervise(args, env.repo_root, tick)
        raise typer.Exit(code)


def supervise(
    args: list[str], cwd: Path, tick: Callable[[], None] = lambda: None, every: float = TICK
) -> int:
    """Run ``args`` in a session of its own until it exits or this process is told to stop.

    A stop signal (SIGINT, SIGTERM, SIGHUP) is passed on to the child's whole process group as
    SIGINT; after :data:`STOP_GRACE` seconds — or at a second stop signal — every process of
    the session still alive is killed. Returns the child's exit status (0 when stopped by a
    signal). ``tick`` is called every ``every`` seconds while the child runs.
    """
    signals: list[int] = []
    previous = {sig: signal.signal(sig, lambda sig, _: signals.append(sig)) for sig in STOP_SIGNALS}
    try:
        child = subprocess.Popen(  # noqa: S603 (the venv's dagster, fixed arguments)
            args, cwd=cwd, stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_sigint
        )
        seen = {child.pid}
        next_tick = time.monotonic() + every
        while not signals and child.poll() is None:
            time.sleep(0.2)
            if time.monotonic() >= next_tick:
                seen |= session_pids(child.pid)
                next_tick = time.monotonic() + every
                _quietly(tick)
        _stop(child, seen | session_pids(child.pid), signals)
        return 0 if signals else child.returncode
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stop(child: subprocess.Popen, pids: set[int], signals: list[int]) -> None:
    """SIGINT to the child's group; SIGKILL to what is left after the grace or a 2nd signal."""
    asked = len(signals)
    if signals:
        console().print("stopping Dagster…")
    _kill_group(child.pid, signal.SIGINT)
    deadline = time.monotonic() + STOP_GRACE
    while time.monotonic() < deadline and len(signals) <= asked:
        pids |= session_pids(child.pid)  # a child started while stopping is stopped too
        child.poll()
        if not alive_pids(pids):
            return
        time.sleep(0.2)
    left = alive_pids(pids | session_pids(child.pid))
    _kill_group(child.pid, signal.SIGKILL)
    for pid in left:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    child.wait()
    console().print(f"killed {len(left)} Dagster process(es) still running after {STOP_GRACE:.0f}s")


def _kill_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _sigint() -> None:
    """In the child: stop on SIGINT even when this process was started with it ignored, and
    get SIGINT if ``mesh dev`` itself dies without stopping it (killed, out of memory)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if sys.platform == "linux":
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, int(signal.SIGINT))


def _quietly(tick: Callable[[], None]) -> None:
    try:
        tick()
    except Exception as exc:  # a failed landing must not stop the UI; say so and go on
        console().print(f"[yellow]daily increment failed[/]: {exc}")


def _day_lander(env: MeshEnvironment) -> Callable[[], None]:
    """After midnight UTC, land the day that just ended — when the data was live (ended
    yesterday) as ``mesh dev`` started and the mesh names an increment. A pinned window (data
    ending earlier) stays as it is."""
    window = declared_window(env.operational_dir)
    if window is None or window[1] < _yesterday():
        return lambda: None
    try:
        mesh_increment(env)
    except ValueError:  # the mesh lands its days itself
        return lambda: None

    def land() -> None:
        last = None
        while (window := declared_window(env.operational_dir)) and window[1] < _yesterday():
            if window[1] == last:  # the increment landed nothing: try again next tick
                return
            last = window[1]
            run_increment(console())

    return land


def _yesterday() -> date:
    return datetime.now(UTC).date() - timedelta(days=1)


def _needs_spark_cluster(env) -> bool:
    from mesh_platform.core.domain import load_all_domains
    from mesh_platform.production.spark_cluster import MASTER_VARIABLE
    from mesh_platform.run.runner import uses_spark

    if os.environ.get(MASTER_VARIABLE):
        return False
    return uses_spark(load_all_domains(env.domains_dir))
