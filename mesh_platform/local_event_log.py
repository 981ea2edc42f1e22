"""The embedded instance's SQLite event log, with pool slots claimed atomically across processes.

Each domain's steps run in a Dagster pool of one slot, so that one run at a time writes the
domain's DuckDB file. Dagster's SQL storage claims a slot in separate statements (count the
free slots, queue the step as assigned, pick a free slot row, write the run into it) and relies
on ``SELECT … FOR UPDATE SKIP LOCKED`` to keep two claimers apart — which PostgreSQL honours
and SQLite ignores; the final ``UPDATE … WHERE id = ?`` has no "still free" guard. Two
``mesh materialize`` processes starting the same domain within the same milliseconds can then
both be told they hold its one slot and both write its file (an overlap of two runs of one
domain was seen once in ``tests/integration/test_reliability.py``). On the embedded instance
every process is on one host, so one file lock around each read-then-write of the slot tables
makes them atomic.

The production instance (PostgreSQL) does not use this class.
"""

from __future__ import annotations

import fcntl
import functools
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from dagster._core.storage.event_log import SqliteEventLogStorage

LOCK_FILE = "pool_slots.lock"


class HostLockedSqliteEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` whose pool-slot bookkeeping holds a host-wide lock."""

    def __init__(self, base_dir: str, inst_data: Any = None) -> None:
        super().__init__(base_dir, inst_data=inst_data)
        self._slot_lock_path = os.path.join(self._base_dir, LOCK_FILE)
        self._slot_thread_lock = threading.RLock()
        self._slot_depth = 0

    @classmethod
    def from_config_value(
        cls, inst_data: Any, config_value: Any
    ) -> HostLockedSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    @contextmanager
    def _slots_locked(self) -> Iterator[None]:
        """Reentrant: claiming a slot assigns pending steps, which is locked on its own too."""
        with self._slot_thread_lock:
            if self._slot_depth:
                self._slot_depth += 1
                try:
                    yield
                finally:
                    self._slot_depth -= 1
                return
            with open(self._slot_lock_path, "a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                self._slot_depth = 1
                try:
                    yield
                finally:
                    self._slot_depth = 0
                    fcntl.flock(handle, fcntl.LOCK_UN)


# Every method that reads the slot tables and then writes them (each calls the others freely).
SLOT_METHODS = (
    "claim_concurrency_slot",
    "free_concurrency_slots_for_run",
    "free_concurrency_slot_for_step",
    "assign_pending_steps",
    "set_concurrency_slots",
    "initialize_concurrency_limit_to_default",
    "delete_concurrency_limit",
)


def _under_slot_lock(name: str) -> Callable[..., Any]:
    unlocked = getattr(SqliteEventLogStorage, name)

    @functools.wraps(unlocked)
    def locked(self: HostLockedSqliteEventLogStorage, *args: Any, **kwargs: Any) -> Any:
        with self._slots_locked():
            return unlocked(self, *args, **kwargs)

    return locked


for _name in SLOT_METHODS:
    setattr(HostLockedSqliteEventLogStorage, _name, _under_slot_lock(_name))
