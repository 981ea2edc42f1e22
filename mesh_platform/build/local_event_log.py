"""The embedded instance's SQLite event log: pool slots claimed atomically across processes,
and event batches written in one transaction per database.

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

Event batches: a run over a range of daily partitions announces every asset *and partition* it
plans to materialize (one ``ASSET_MATERIALIZATION_PLANNED`` event each, ~1,000 for a 90-day full
build) and each step reports one materialization per partition. Dagster hands these to the
storage as batches when ``DAGSTER_EVENT_BATCH_SIZE`` is set (the mesh sets it, see
``environment.py``), but its SQLite storage stores a batch one event at a time: a new engine,
connection and commit (an fsync) for the run's database and another for the index database,
per event. :meth:`HostLockedSqliteEventLogStorage.store_event_batch` writes the same rows in
one transaction per database.

Connections: Dagster's SQLite storage creates a new SQLAlchemy engine and a new SQLite
connection for every event it stores, and closes it after one statement. Closing the last
connection to a WAL database checkpoints it (a write and an fsync of the database file), and
``has_table`` opens yet another engine for every asset event. On a full build that bookkeeping
was most of the CPU the steps spend outside dbt (profiled: 17 s of 26 s stored events at
scale 1). :meth:`HostLockedSqliteEventLogStorage._connect` keeps one engine per database for
the most recently used databases (the index and the runs this process writes), each holding
its SQLite connection open between events; every event is still its own committed transaction,
as before.

The production instance (PostgreSQL) does not use this class.
"""

from __future__ import annotations

import fcntl
import functools
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from dagster._core.events import ASSET_CHECK_EVENTS, ASSET_EVENTS, EVENT_TYPE_TO_PIPELINE_RUN_STATUS
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._core.storage.sqlalchemy_compat import db_result

from mesh_platform.core.version_guard import require_tested

LOCK_FILE = "pool_slots.lock"
# databases whose engine (and open connection) a process keeps: the index and the runs it is
# writing; a long-lived reader (webserver, daemon) reads many runs, so older ones are closed
OPEN_DATABASES = 8

require_tested(
    "dagster", "the embedded instance's event log (mesh_platform/build/local_event_log.py)"
)


class HostLockedSqliteEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` whose pool-slot bookkeeping holds a host-wide lock."""

    def __init__(self, base_dir: str, inst_data: Any = None) -> None:
        # before Dagster's __init__, which may already connect (a new index database)
        self._engines: OrderedDict[str, sa.engine.Engine] = OrderedDict()
        self._tables: set[str] = set()
        super().__init__(base_dir, inst_data=inst_data)
        self._slot_lock_path = os.path.join(self._base_dir, LOCK_FILE)
        self._slot_thread_lock = threading.RLock()
        self._slot_depth = 0

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Any]:
        """As Dagster's: one transaction on the shard's database, under the storage's thread
        lock, but on a kept engine whose connection stays open (see the module docstring)."""
        with self._db_lock:
            engine = self._engines.pop(shard, None)
            if engine is None:
                # SQLAlchemy's default for a file: a queue pool (connections may move between
                # threads); the storage's lock lets one thread at a time use the database
                engine = sa.create_engine(
                    self.conn_string_for_shard(shard),
                    pool_size=1,
                    connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
                )
                if shard not in self._initialized_dbs:
                    self._initdb(engine)
                    self._initialized_dbs.add(shard)
            self._engines[shard] = engine
            while len(self._engines) > OPEN_DATABASES:
                _, oldest = self._engines.popitem(last=False)
                oldest.dispose()
            with engine.connect() as conn, conn.begin():
                yield conn

    def has_table(self, table_name: str) -> bool:
        """Dagster asks for every asset event; a table once there stays (wipes keep tables)."""
        if table_name in self._tables:
            return True
        present = super().has_table(table_name)
        if present:
            self._tables.add(table_name)
        return present

    def _close_databases(self) -> None:
        with self._db_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()

    def wipe(self) -> None:
        self._close_databases()  # before Dagster unlinks the run databases they hold open
        super().wipe()

    def dispose(self) -> None:
        super().dispose()
        self._close_databases()

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

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        """Store ``events`` (one run's) as ``store_event`` would — the same rows, in the same
        order — in one transaction on the run's database and one per stretch of asset events on
        the index database, instead of two commits per event.

        A batch of several runs, or holding a run-status event, is stored event by event as
        Dagster's base class does (Dagster batches neither).
        """
        if not events:
            return
        if len({event.run_id for event in events}) != 1 or any(
            event.is_dagster_event and event.dagster_event_type in EVENT_TYPE_TO_PIPELINE_RUN_STATUS
            for event in events
        ):
            super().store_event_batch(events)
            return
        statements = [self.prepare_insert_event(event) for event in events]
        # If this fails nothing of the batch is stored, and Dagster stores it event by event.
        with self.run_connection(events[0].run_id) as conn:
            for statement in statements:
                conn.execute(statement)
        stretch: list[tuple[EventLogEntry, Any]] = []
        for event, statement in zip(events, statements, strict=True):
            kind = event.dagster_event_type if event.is_dagster_event else None
            if kind in ASSET_EVENTS:
                stretch.append((event, statement))
            elif kind in ASSET_CHECK_EVENTS:
                self._mirror_asset_events(stretch)
                stretch = []
                self._mirror_asset_check_event(event, statement)
        self._mirror_asset_events(stretch)

    def _mirror_asset_events(self, stretch: list[tuple[EventLogEntry, Any]]) -> None:
        """Copy asset events into the cross-run index database, as ``store_event`` does."""
        if not stretch:
            return
        with self.index_transaction() as conn:
            for event, statement in stretch:
                with db_result(conn, statement) as result:
                    event_id = result.inserted_primary_key[0]
                self._store_asset_event_tags(conn, [event], [event_id])
                self._store_asset_event(conn, event, event_id)

    def _mirror_asset_check_event(self, event: EventLogEntry, statement: Any) -> None:
        """As ``store_event`` does: the check's own tables take their own connection."""
        with self.index_connection() as conn, db_result(conn, statement) as result:
            event_id = result.inserted_primary_key[0]
        self.store_asset_check_event(event, event_id)


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
