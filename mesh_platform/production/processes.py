"""Start and stop the topology's processes by their ids — never by name.

Every process starts in its own session, so a stop signal reaches the children it spawned
(``dagster code-server start`` runs the code in a child ``dagster api grpc``) and nothing else.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, session id) of a process from /proc, or None once it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return fields[0], int(fields[1]), int(fields[3])


def session_pids(sid: int) -> set[int]:
    """Every live process of session ``sid`` (a service and everything it spawned)."""
    out = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) and stat[2] == sid:
            out.add(int(entry.name))
    return alive_pids(out)


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def wait_until(predicate: Callable[[], object], timeout: float, what: str, interval=0.5):
    """Poll ``predicate`` until it returns something truthy; raise naming ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = predicate()
            if result:
                return result
        except Exception as exc:  # the service is not up yet: keep polling
            last_error = exc
        time.sleep(interval)
    detail = f" (last error: {last_error})" if last_error else ""
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}{detail}")


@dataclass
class Service:
    """One long-running process of the topology, with its log file."""

    name: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    cwd: Path | None = None
    process: subprocess.Popen | None = None
    pids: set[int] = field(default_factory=set)
    _log: IO | None = None

    def start(self) -> Service:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.args,
            env=self.env,
            cwd=self.cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_default_sigint,
        )
        self.pids.add(self.process.pid)
        return self

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError(f"{self.name} was never started")
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def known_pids(self) -> set[int]:
        """This process and every descendant seen so far (remembered for the final check)."""
        if self.process is not None:
            self.pids |= session_pids(self.pid)
        return set(self.pids)

    def stop(self, timeout: float = 30) -> None:
        """SIGINT to the process group (what Ctrl-C sends), SIGKILL if it does not stop."""
        if self.process is None:
            return
        pids = self.known_pids()
        if self.alive():
            _signal_group(self.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _signal_group(self.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        # children that outlived their parent (same session) get the same treatment
        deadline = time.monotonic() + 10
        while alive_pids(pids) and time.monotonic() < deadline:
            time.sleep(0.2)
        for pid in alive_pids(pids):
            with _quiet():
                os.kill(pid, signal.SIGKILL)
        if self._log:
            self._log.close()
            self._log = None


def _default_sigint() -> None:
    """Let the child stop on SIGINT even when we were started with it ignored (a background job
    of a non-interactive shell is): ignored signals stay ignored across exec."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _signal_group(pgid: int, sig: int) -> None:
    with _quiet():
        os.killpg(pgid, sig)


class _quiet:
    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        return exc_type in (ProcessLookupError, PermissionError)


def alive_pids(pids: set[int]) -> set[int]:
    """The ``pids`` still running (zombies count as gone)."""
    return {pid for pid in pids if (stat := _stat(pid)) and stat[0] not in ("Z", "X")}
