"""Audit and publish ports while dbt still builds the rest of the domain.

A port's table is final when dbt reports its model done: verifying its contract and publishing
its snapshot need nothing else. Doing that at once, in one thread beside dbt, instead of after
the whole ``dbt build``, puts the audit on CPU that dbt leaves idle (its Python between models,
DuckDB operators that run on one core) and shows each port's materialization in Dagster as soon
as the port is published. Both threads query the domain's one DuckDB instance, so its memory
limit bounds them together.

:class:`AuditQueue` runs the jobs one at a time, in the order they were submitted (a port after
the ports it is built from), in a thread of its own. Dagster's step context belongs to the
step's thread: a job logs into a :class:`BufferedLog` and returns its events, and the step's
thread replays both, in submission order, when it collects the job (:meth:`AuditQueue.ready`,
:meth:`AuditQueue.drain`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


class BufferedLog:
    """A logger with the methods the audit calls, keeping the lines for the step's thread."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def debug(self, message: str) -> None:
        self.lines.append(("debug", message))

    def info(self, message: str) -> None:
        self.lines.append(("info", message))

    def warning(self, message: str) -> None:
        self.lines.append(("warning", message))

    def error(self, message: str) -> None:
        self.lines.append(("error", message))

    def replay(self, log: Any) -> None:
        for level, message in self.lines:
            getattr(log, level)(message)
        self.lines.clear()


class AuditQueue:
    """Jobs run one at a time in a thread; their logs and events come back in order."""

    def __init__(self, log: Any) -> None:
        self._log = log
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="mesh-audit")
        self._jobs: deque[tuple[Future[list[Any]], BufferedLog]] = deque()

    def submit(self, job: Callable[[BufferedLog], Iterable[Any]]) -> None:
        """Run ``job(log)`` after the jobs submitted before it; its events are a list."""
        buffer = BufferedLog()
        self._jobs.append((self._pool.submit(lambda: list(job(buffer))), buffer))

    def ready(self) -> Iterator[Any]:
        """The logs and events of the jobs finished so far, oldest first, without waiting."""
        while self._jobs and self._jobs[0][0].done():
            yield from self._collect()

    def drain(self) -> Iterator[Any]:
        """The logs and events of every job, waiting for each."""
        while self._jobs:
            yield from self._collect()

    def _collect(self) -> Iterator[Any]:
        future, buffer = self._jobs.popleft()
        try:
            events = future.result()  # a job's exception is raised here, in the step's thread
        finally:
            buffer.replay(self._log)
        yield from events

    def close(self) -> None:
        """Wait for the job running now and drop those not started (the step is ending)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._jobs.clear()
