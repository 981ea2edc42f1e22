"""Guarded, audited, read-only SQL over the ports a user may read, within resource limits.

:func:`connect` gives a user an in-memory DuckDB connection on which the only tables are the
ports they may read — ``<domain>.<port>`` (newest major) and ``<domain>.<port>_v<N>`` — each
over the immutable snapshot current when the connection opened (a consistent view for its
lifetime). The connection holds a lease on each of those snapshots until it is closed (or its
process dies), so retention never removes a file it reads. Columns classified as personal data read as NULL unless the user's grant covers
them; the hidden columns are never loaded into the connection at all (each port is an Arrow
dataset projected to the visible columns). Then external access is switched off, DuckDB gets a
private temporary directory of its own, and the configuration is locked, so no statement can
read a file, attach a database or load an extension; :mod:`mesh_platform.access.sql_guard`
refuses anything but a query with a clear message first.

Every query runs within :mod:`mesh_platform.access.limits` (``MESH_QUERY_*``): DuckDB's memory
limit and a cap on what it may spill, a timeout (a watchdog thread interrupts the connection),
and a row cap applied while DuckDB streams the result, so a bigger result is never built. A
query can be interrupted from another thread (:meth:`MeshConnection.interrupt`, e.g. when an
HTTP client goes away) and every running query of the process at once
(:func:`interrupt_all_queries`, e.g. on SIGTERM). Every attempt is written to the audit log with
the user and the ports it reads: reads with their rows, denials, refusals and failures. An error
computed from the data (a failed cast, ``error()``) is reported by its class only, never with
DuckDB's message, which can quote row values.
"""

from __future__ import annotations

import re
import shutil
import signal
import tempfile
import threading
import warnings
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from mesh_platform.access.audit import AuditEntry
from mesh_platform.access.errors import AccessDenied, QueryRefused
from mesh_platform.access.identities import User
from mesh_platform.access.limits import QueryLimits, query_limits
from mesh_platform.access.policy import ReadDecision
from mesh_platform.access.sql_guard import TableRef, check_statements
from mesh_platform.catalog.entries import PortEntry
from mesh_platform.core.address import PortAddress
from mesh_platform.core.sql import quote_ident
from mesh_platform.ports.retention import SnapshotLease, lease_published
from mesh_platform.ports.scan import snapshot_dataset, snapshot_schema
from mesh_platform.ports.store import PublishedPort, current_snapshot, snapshot_history

if TYPE_CHECKING:  # imported where rows are read: the portal's pages without data need neither
    import pandas as pd
    import pyarrow as pa


def _pyarrow():
    import pyarrow

    return pyarrow


_MISSING_TABLE = re.compile(r"Table with name (\w+) does not exist", re.I)


class QueryError(ValueError):
    """The query itself failed (a typo, a type error); the message says why, never with data.
    ``audit`` is what the audit log records about it."""

    def __init__(self, message: str, audit: str = "") -> None:
        super().__init__(message)
        self.audit = audit or type(self).__name__


class QueryTimeout(QueryError):
    """The query ran past ``MESH_QUERY_TIMEOUT_S`` and was interrupted."""


class QueryCancelled(QueryError):
    """The query was interrupted: its client went away or the server is stopping."""


class QueryLimitExceeded(QueryError):
    """The query needed more memory (and temporary disk) than its limits allow."""


class ResultTruncated(UserWarning):
    """A result was cut at ``MESH_QUERY_MAX_ROWS`` rows."""


@dataclass(frozen=True)
class QueryResult:
    """The rows of one query (at most the row cap), whether more existed, the ports it read."""

    table: pa.Table
    truncated: bool
    ports: tuple[str, ...]


_TIMEOUT = "timeout"
_BATCH_ROWS = 2048  # rows DuckDB hands over at a time; the cap is checked after each batch
# DuckDB's message is shown for errors found from the SQL text and the schema alone; any other
# error arises while computing rows and its message can quote them (a failed cast, error()).
_SHOWN_ERRORS = (duckdb.ParserException, duckdb.BinderException, duckdb.CatalogException)
_HINTS = {
    "ConversionException": (
        "a value could not be converted to the type asked for; try_cast(… as …) gives NULL instead"
    ),
    "OutOfRangeException": "a value is out of range for its type (an overflow, a bad date part)",
    "InvalidInputException": (
        "a function was given input it cannot use (error(), a malformed pattern, date or JSON)"
    ),
}

# Every connection running a query in this process, so a signal can interrupt them all.
_ACTIVE: weakref.WeakSet[MeshConnection] = weakref.WeakSet()
_ACTIVE_LOCK = threading.RLock()
_stopping: str | None = None  # why new queries are refused (the process is stopping)


def interrupt_all_queries(reason: str) -> int:
    """Interrupt every query running in this process (each fails with ``cancelled: reason``)."""
    with _ACTIVE_LOCK:
        running = list(_ACTIVE)
    return sum(con.interrupt(reason) for con in running)


def interrupt_queries_on_signals(
    signals: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGINT),
) -> Callable[[], None]:
    """Make ``signals`` first stop every running query of this process (and refuse new ones),
    then do what they did before (a server's own shutdown). Returns the function that undoes
    it. Only the main thread can install signal handlers; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    installed = {}
    for sig in signals:
        previous = signal.getsignal(sig)

        def handler(signum, frame, previous=previous):
            global _stopping
            _stopping = f"the server is stopping ({signal.Signals(signum).name})"
            interrupt_all_queries(_stopping)
            if callable(previous):
                previous(signum, frame)
            elif previous == signal.SIG_DFL:
                signal.signal(signum, signal.SIG_DFL)
                signal.raise_signal(signum)

        signal.signal(sig, handler)
        installed[sig] = (handler, previous)

    def restore() -> None:
        global _stopping
        for sig, (handler, previous) in installed.items():
            if signal.getsignal(sig) is handler:
                signal.signal(sig, previous)
        _stopping = None

    return restore


class MeshConnection:
    """One user's read-only view of the mesh. Use :meth:`sql`, :meth:`df` or :meth:`fetchall`."""

    def __init__(
        self,
        service,
        user: User,
        channel: str = "python",
        limits: QueryLimits | None = None,
        as_of: datetime | None = None,
        snapshots: Mapping[str, str] | None = None,
    ) -> None:
        self._service = service
        # reproducible reads: every port as it was at ``as_of``, or the snapshot ids named per
        # address (``{"domain.port": "<snapshot id>"}``, of the newest major)
        self.as_of = as_of
        self.snapshots = dict(snapshots or {})
        self._read: dict[str, str] = {}  # "domain.port vN" -> the snapshot id it reads
        self.user = user
        self.channel = channel
        self.limits = limits or query_limits()
        self.visible: dict[str, tuple[PortEntry, ReadDecision]] = {}
        self.hidden_columns: dict[str, tuple[str, ...]] = {}
        self._latest: dict[str, str] = {}  # "domain.port" -> "domain.port vN"
        self._internal: dict[str, str] = {}  # "__mesh_port_N" -> "domain.port vN"
        self._leases: list[SnapshotLease] = []
        self._state = threading.RLock()
        self._running = False
        self._stop_reason: str | None = None
        # DuckDB may always read its temporary directory, external access or not: its default
        # for an in-memory database is ``.tmp`` in the working directory. A private one per
        # connection (mode 0700, outside every data directory) holds only this query's spills.
        self.temp_directory = Path(tempfile.mkdtemp(prefix="mesh-query-"))
        self._con = duckdb.connect(":memory:")
        try:
            self._configure()
            self._build_views(service.policy.readable_ports(user))
            self._con.execute("set enable_external_access = false")
            self._con.execute("set lock_configuration = true")
        except BaseException:
            self.close()
            raise

    def _configure(self) -> None:
        limits = self.limits
        for name, value, variable in (
            ("memory_limit", limits.memory_limit, "MESH_QUERY_MEMORY_LIMIT"),
            ("max_temp_directory_size", limits.temp_limit, "MESH_QUERY_TEMP_LIMIT"),
            ("temp_directory", str(self.temp_directory), None),
        ):
            try:
                self._con.execute(f"set {name} = '{value.replace(chr(39), chr(39) * 2)}'")
            except duckdb.Error as exc:
                if variable is None:
                    raise
                raise ValueError(f"{variable}={value!r} is refused by DuckDB: {exc}") from None
        # Nothing but the registered ports is read: no Python variable by name, no extension.
        self._con.execute("set python_enable_replacements = false")
        self._con.execute("set autoinstall_known_extensions = false")
        self._con.execute("set autoload_known_extensions = false")

    def snapshot_of(self, label: str) -> str | None:
        """The snapshot id this connection reads for ``"domain.port vN"`` (None: no view)."""
        return self._read.get(label)

    # --- building the view ------------------------------------------------------------

    def _pinned(self, port: PortEntry, newest: bool) -> PublishedPort | None:
        """The snapshot this connection reads of ``port``: the current one, the one current at
        ``as_of``, or the one named in ``snapshots`` (an unknown id is refused, naming the kept
        ones)."""
        parsed = PortAddress.parse(port.address)
        ports_dir = self._service.env.ports_dir
        wanted = self.snapshots.get(port.address)
        if wanted is not None and newest:
            found = current_snapshot(
                ports_dir, parsed.domain, parsed.port, port.version, snapshot_id=wanted
            )
            if found is None:
                kept = snapshot_history(ports_dir, parsed.domain, parsed.port, port.version)
                raise QueryError(
                    f"snapshot {wanted} of {port.address} v{port.version} is not kept (expired "
                    f"or never existed); kept: {', '.join(p.snapshot_id for p in kept) or 'none'}"
                )
            return found
        if self.as_of is not None:
            return current_snapshot(
                ports_dir, parsed.domain, parsed.port, port.version, as_of=self.as_of
            )
        return port.published

    def _build_views(self, readable: dict[str, tuple[PortEntry, ReadDecision]]) -> None:
        newest: dict[str, int] = {}
        for port, _ in readable.values():
            newest[port.address] = max(newest.get(port.address, 0), port.version)
        for index, (label, (port, decision)) in enumerate(sorted(readable.items())):
            published = self._pinned(port, port.version == newest[port.address])
            if published is None:
                continue
            lease = lease_published(published)
            if lease is None:
                continue
            self._leases.append(lease)
            self._read[label] = published.snapshot_id
            full = snapshot_schema(lease.published)
            hidden = () if decision.personal_data else port.personal_columns
            types = {c.name: c.data_type for c in port.columns}
            visible = _pyarrow().schema([f for f in full if f.name not in hidden])
            internal = f"__mesh_port_{index}"
            self._con.register(internal, snapshot_dataset(lease.published, schema=visible))
            select = ", ".join(
                f"cast(null as {types.get(f.name, 'varchar')}) as {quote_ident(f.name)}"
                if f.name in hidden
                else quote_ident(f.name)
                for f in full
            )
            parsed = PortAddress.parse(port.address)
            domain, name = parsed.domain, parsed.port
            self._con.execute(f"create schema if not exists {quote_ident(domain)}")
            self._con.execute(
                f"create view {quote_ident(domain)}.{quote_ident(f'{name}_v{port.version}')} as "
                f"select {select} from {internal}"
            )
            self.visible[label] = (port, decision)
            self._internal[internal] = label
            self.hidden_columns[label] = tuple(c for c in hidden if c in full.names)
            if port.address not in self._latest or port.version > int(
                self._latest[port.address].rsplit("v", 1)[1]
            ):
                self._latest[port.address] = label
        for address, label in self._latest.items():
            parsed = PortAddress.parse(address)
            domain, name = parsed.domain, parsed.port
            version = label.rsplit("v", 1)[1]
            self._con.execute(
                f"create view {quote_ident(domain)}.{quote_ident(name)} as "
                f"select * from {quote_ident(domain)}.{quote_ident(f'{name}_v{version}')}"
            )

    # --- access decisions -------------------------------------------------------------

    def _ports_of(self, refs: list[TableRef]) -> list[str]:
        """The port versions ``refs`` read: by address, by ``_v<N>`` or by internal name (DuckDB
        resolves names whatever their case)."""
        labels = []
        for ref in refs:
            schema, name = ref.schema.lower(), ref.name.lower()
            address = f"{schema}.{name}"
            match = re.fullmatch(r"(.+)_v(\d+)", name)
            if name in self._internal:
                labels.append(self._internal[name])
            elif address in self._latest:
                labels.append(self._latest[address])
            elif match and f"{schema}.{match[1]} v{match[2]}" in self.visible:
                labels.append(f"{schema}.{match[1]} v{match[2]}")
        return sorted(set(labels))

    def _deny_ungranted(self, refs: list[TableRef], sql: str) -> None:
        catalog = self._service.catalog
        for ref in refs:
            schema = ref.schema.lower()
            if schema not in catalog.domains:
                continue
            name = re.sub(r"_v\d+$", "", ref.name.lower())
            address = f"{schema}.{name}"
            try:
                port = catalog.port(address)
            except LookupError:
                continue
            if address in self._latest:
                continue
            self._audit("denied", (port.label,), detail=sql)
            if port.published is None:
                raise AccessDenied(f"{address} has not been published yet; nothing to read")
            raise AccessDenied(
                f"{self.user.id} has no grant to read {address} (owner: {port.owner_team}); "
                f"request it with `mesh access request {address} --reason '...' --as "
                f"{self.user.id}` or on the portal"
            )

    def _audit(
        self, action: str, ports: tuple[str, ...], rows: int | None = None, detail: str = ""
    ) -> None:
        self._service.audit(
            AuditEntry(
                user=self.user.id,
                action=action,
                channel=self.channel,
                ports=ports,
                rows=rows,
                detail=" ".join(detail.split())[:500],
            )
        )

    # --- running queries --------------------------------------------------------------

    def run(self, sql: str, max_rows: int | None = None) -> QueryResult:
        """Run one read-only query within the limits (audited, whatever happens).

        At most ``max_rows`` rows (and never more than ``MESH_QUERY_MAX_ROWS``) are fetched;
        ``truncated`` says whether there were more. Raises :class:`QueryRefused`,
        :class:`AccessDenied` or a :class:`QueryError` (timeout, cancelled, memory, failure).
        """
        cap = self.limits.max_rows if max_rows is None else min(max_rows, self.limits.max_rows)
        cap = max(1, cap)
        try:
            refs = check_statements(self._con, sql)
        except QueryRefused:
            self._audit("refused", (), detail=sql)
            raise
        self._deny_ungranted(refs, sql)
        ports = tuple(self._ports_of(refs))
        try:
            table, truncated = self._fetch(sql, cap)
        except duckdb.PermissionException as exc:
            self._audit("refused", ports, detail=sql)
            raise QueryRefused(
                f"refused: the query reaches outside the published ports ({exc}); only "
                "<domain>.<port> views can be read"
            ) from None
        except QueryError as exc:
            self._audit("failed", ports, detail=f"{exc.audit}: {sql}")
            raise
        except (duckdb.Error, _pyarrow().ArrowException, OSError) as exc:
            error = self._failure(exc, sql)
            self._audit("failed", ports, detail=f"{type(exc).__name__}: {sql}")
            raise error from None
        self._audit("read", ports, rows=table.num_rows, detail=sql)
        return QueryResult(table, truncated, ports)

    def _fetch(self, sql: str, cap: int) -> tuple[pa.Table, bool]:
        """Stream the result until ``cap + 1`` rows, under the timeout watchdog."""
        with self._state:
            if _stopping:
                raise QueryCancelled(f"query cancelled: {_stopping}", "cancelled")
            self._running, self._stop_reason = True, None
        with _ACTIVE_LOCK:
            _ACTIVE.add(self)
        watchdog = threading.Timer(self.limits.timeout_s, self.interrupt, args=(_TIMEOUT,))
        watchdog.daemon = True
        watchdog.start()
        reader = None
        try:
            relation = self._con.sql(sql)
            pa = _pyarrow()
            if relation is None:
                return pa.table({}), False
            reader = relation.to_arrow_reader(min(cap + 1, _BATCH_ROWS))
            batches, rows = [], 0
            for batch in reader:
                batches.append(batch)
                rows += batch.num_rows
                if rows > cap:
                    break  # closing the reader stops DuckDB: the rest is never computed
            table = pa.Table.from_batches(batches, schema=reader.schema)
            return table.slice(0, cap), rows > cap
        except duckdb.InterruptException:
            raise self._interrupted() from None
        finally:
            watchdog.cancel()
            if reader is not None:
                reader.close()
            with _ACTIVE_LOCK:
                _ACTIVE.discard(self)
            with self._state:
                self._running = False

    def interrupt(self, reason: str = "interrupted") -> bool:
        """Stop the query running on this connection, if any (safe from any thread); it fails
        with ``query cancelled: reason``. Whether a query was running."""
        with self._state:  # held, so the query cannot end and the connection close meanwhile
            if not self._running:
                return False
            if self._stop_reason is None:
                self._stop_reason = reason
            try:
                self._con.interrupt()
            except duckdb.Error:
                return False
            return True

    def _interrupted(self) -> QueryError:
        reason = self._stop_reason or "interrupted"
        if reason == _TIMEOUT:
            seconds = f"{self.limits.timeout_s:g}"
            return QueryTimeout(
                f"query stopped: it ran longer than {seconds} s, the limit MESH_QUERY_TIMEOUT_S "
                "sets; filter or aggregate more (or ask the operator to raise the limit)",
                f"timeout after {seconds} s",
            )
        return QueryCancelled(f"query cancelled: {reason}", f"cancelled: {reason}")

    def _failure(self, exc: Exception, sql: str) -> Exception:
        """What the consumer is told about a failed query: never DuckDB's text about rows."""
        if isinstance(exc, duckdb.OutOfMemoryException):
            return QueryLimitExceeded(
                "query stopped: it needs more memory than "
                f"MESH_QUERY_MEMORY_LIMIT={self.limits.memory_limit} allows, and more "
                f"temporary disk than MESH_QUERY_TEMP_LIMIT={self.limits.temp_limit}; filter "
                "or aggregate more, or select fewer columns"
            )
        if isinstance(exc, _SHOWN_ERRORS):
            missing = _MISSING_TABLE.search(str(exc))
            if missing:
                self._deny_ungranted(
                    [TableRef(s, missing[1]) for s in self._service.catalog.domains], sql
                )
            return QueryError(f"query failed: {exc}")
        kind = type(exc).__name__
        hint = _HINTS.get(kind, "an error while computing the rows")
        return QueryError(
            f"query failed while computing its result: {kind} ({hint}). DuckDB's own message "
            "is not shown because it can quote values of the data"
        )

    def arrow(self, sql: str) -> pa.Table:
        """Run one read-only query and return its result as an Arrow table (audited); a result
        longer than ``MESH_QUERY_MAX_ROWS`` is cut there with a :class:`ResultTruncated`
        warning."""
        return self._capped(sql, stacklevel=3)

    def _capped(self, sql: str, stacklevel: int) -> pa.Table:
        result = self.run(sql)
        if result.truncated:
            warnings.warn(
                f"the result was cut at {self.limits.max_rows:,} rows (MESH_QUERY_MAX_ROWS); "
                "add a LIMIT, filter or aggregate to get all of it",
                ResultTruncated,
                stacklevel=stacklevel,
            )
        return result.table

    def df(self, sql: str) -> pd.DataFrame:
        return self._capped(sql, stacklevel=3).to_pandas()

    def fetchall(self, sql: str) -> list[tuple]:
        table = self._capped(sql, stacklevel=3)
        return (
            list(zip(*(c.to_pylist() for c in table.columns), strict=True))
            if table.num_columns
            else []
        )

    def sql(self, sql: str) -> duckdb.DuckDBPyRelation:
        """The result as a DuckDB relation (already computed and audited)."""
        return self._con.from_arrow(self._capped(sql, stacklevel=3))

    def tables(self) -> list[str]:
        """The ports visible to this user, as ``<domain>.<port> vN``."""
        return sorted(self.visible)

    def close(self) -> None:
        self._con.close()
        for lease in self._leases:
            lease.release()
        self._leases.clear()
        shutil.rmtree(self.temp_directory, ignore_errors=True)

    def __enter__(self) -> MeshConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
