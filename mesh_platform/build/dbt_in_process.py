"""Run a dbt command inside the step's own process, looking like the subprocess dagster-dbt expects.

dagster-dbt starts ``dbt`` as a subprocess for every step and reads its JSON log lines from
stdout. Each such process pays for its Python start, importing dbt (3.4 s here: mashumaro
compiles every artifact class at import time, which bytecode caching cannot save), importing
the adapter and its plugins, and loading the partial-parse cache: about 6.5 s before the first
model starts, on every step. In a process that already ran dbt once, a whole domain's
``dbt build`` takes 1.3 s (measured on one domain of the demo mesh at scale 1: 9.5 s as a subprocess).

:class:`InProcessDbt` runs ``dbtRunner`` (dbt's supported programmatic API) in a thread of the
current process and offers the part of :class:`subprocess.Popen` that dagster-dbt's
``DbtCliInvocation`` uses: ``stdout`` yields each event as the JSON line dbt's ``--log-format
json`` would have printed (same ``msg_to_dict`` serialisation, info level and above, as on
dbt's stdout), ``wait()`` returns dbt's exit code, ``send_signal`` cancels the run. So every
event keeps streaming into Dagster as before, and dagster-dbt's own event translation is used
unchanged.

A dbt invocation changes process-wide state (``os.environ`` for its flags and ``env_var()``,
dbt's global flags and adapter registry): invocations in one process must not overlap. Dagster
runs the steps of one process one at a time (in-process executor, or one process per step), so
they never do; a lock makes a second one wait rather than corrupt the first.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import queue
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from mesh_platform.core.environment import temporary_environ
from mesh_platform.core.version_guard import require_tested

# dbt's stdout shows info and above; dagster-dbt reads exactly what the subprocess printed.
STREAMED_LEVELS = frozenset({"info", "warn", "error"})
INVOCATION_LOCK = threading.Lock()
_END = object()


class EventPipe:
    """What dagster-dbt reads as the subprocess' stdout: dbt's events as JSON lines."""

    def __init__(self) -> None:
        self._lines: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.closed = False

    def put(self, line: bytes) -> None:
        self._lines.put(line)

    def end(self) -> None:
        self._lines.put(_END)

    def __iter__(self) -> Iterator[bytes]:
        while not self.closed:
            line = self._lines.get()
            if line is _END:
                self.closed = True
                return
            yield line

    def __enter__(self) -> EventPipe:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class InProcessDbt:
    """One dbt command running in a thread of this process (``Popen``-shaped, see module doc)."""

    def __init__(self, args: Sequence[str], env: Mapping[str, str]) -> None:
        self.args = list(args)  # shown by dagster-dbt as "the dbt command"
        self.returncode: int | None = None
        self.stdout = EventPipe()
        self._env = dict(env)
        self._cancelled = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mesh-dbt", daemon=True)
        self._thread.start()

    @property
    def pid(self) -> int:
        return os.getpid()

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        self._thread.join(timeout)
        return self.returncode

    def send_signal(self, _signal: int) -> None:
        """Stop the run the way Ctrl-C stops ``dbt``: interrupt its queries, then its runner.

        dbt's runner turns a KeyboardInterrupt into cancelling every open connection and
        marking the rest of the run as not done; a thread other than the main one only gets
        one this way. DuckDB's running queries are interrupted first, so the runner wakes up.
        """
        self._cancelled.set()
        ident = self._thread.ident
        if ident is not None and self._thread.is_alive():
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(ident), ctypes.py_object(KeyboardInterrupt)
            )
        _cancel_open_queries()

    def terminate(self) -> None:
        self.send_signal(0)

    def _run(self) -> None:
        from dbt.cli.main import dbtRunner

        # dbt's own stdout logger is off: the events reach Dagster through the pipe (the
        # debug log file, dbt.log in the target path, is written as before).
        args = [*self.args[1:], "--log-level", "none"]
        code = 2
        try:
            with INVOCATION_LOCK, temporary_environ(self._env), _fresh_duckdb_environment():
                result = dbtRunner(callbacks=[self._on_event]).invoke(args)
            if result.exception is not None:
                self._error_line(result.exception)
            code = 0 if result.success else (2 if result.exception is not None else 1)
        except BaseException as exc:  # noqa: BLE001 — the run's outcome must reach Dagster
            self._error_line(exc)
        finally:
            self.returncode = 130 if self._cancelled.is_set() and code else code
            self.stdout.end()

    def _on_event(self, msg: Any) -> None:
        if msg.info.level not in STREAMED_LEVELS:
            return
        from dbt_common.events.functions import msg_to_json

        self.stdout.put(msg_to_json(msg).encode())

    def _error_line(self, exc: BaseException) -> None:
        """An error dbt raised instead of logging (a bad profile, a locked file) as a log line."""
        import json

        text = "dbt was interrupted" if isinstance(exc, KeyboardInterrupt) else str(exc)
        line = {
            "info": {"name": "MeshDbtError", "level": "error", "msg": f"{text}", "ts": ""},
            "data": {"exception": type(exc).__name__},
        }
        self.stdout.put(json.dumps(line).encode())


@contextlib.contextmanager
def _fresh_duckdb_environment() -> Iterator[None]:
    """No DuckDB database of an earlier invocation seen by this one, nor left open after it.

    dbt-duckdb keeps its database environment (the open file, its plugins) in a class
    attribute, which only process exit clears. A second invocation in the same process, for
    another domain, would otherwise load plugin sources into the first domain's file while
    parsing, and the domain's file would stay open after dbt ended, locking out publishing.
    """

    require_tested(
        "dbt-duckdb", "the in-process dbt runner (mesh_platform/build/dbt_in_process.py)"
    )

    def close() -> None:
        with contextlib.suppress(ImportError):
            from dbt.adapters.duckdb.connections import DuckDBConnectionManager

            with DuckDBConnectionManager._LOCK:
                environment = DuckDBConnectionManager._ENV
                DuckDBConnectionManager._ENV = None
                if environment is not None:
                    environment.close()

    close()
    try:
        yield
    finally:
        close()


def _cancel_open_queries() -> None:
    from dbt.adapters.factory import FACTORY

    for adapter in list(FACTORY.adapters.values()):
        with contextlib.suppress(Exception):
            adapter.cancel_open_connections()
