"""Guarded, audited, read-only SQL over the ports a user may read.

:func:`connect` gives a user an in-memory DuckDB connection on which the only tables are the
ports they may read — ``<domain>.<port>`` (newest major) and ``<domain>.<port>_v<N>`` — each
over the immutable snapshot current when the connection opened (a consistent view for its
lifetime). The connection holds a lease on each of those snapshots until it is closed (or its
process dies), so retention never removes a file it reads. Columns classified as personal data read as NULL unless the user's grant covers
them; the hidden columns are never loaded into the connection at all (each port is an Arrow
dataset projected to the visible columns). Then external access is switched off and the
configuration locked, so no statement can read a file, attach a database or load an extension,
and :mod:`mesh_platform.access.sql_guard` refuses anything but a query with a clear message
first. Every query is written to the audit log with the user, ports and rows; every denial too.
"""

from __future__ import annotations

import re

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from mesh_platform.access.audit import AuditEntry
from mesh_platform.access.errors import AccessDenied, QueryRefused
from mesh_platform.access.identities import User
from mesh_platform.access.policy import ReadDecision
from mesh_platform.access.sql_guard import TableRef, check_statements
from mesh_platform.catalog.entries import PortEntry
from mesh_platform.ports.store import SnapshotLease, lease_published

_MISSING_TABLE = re.compile(r"Table with name (\w+) does not exist", re.I)


class QueryError(ValueError):
    """The query itself failed (a typo, a type error); DuckDB's message, prefixed."""


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class MeshConnection:
    """One user's read-only view of the mesh. Use :meth:`sql`, :meth:`df` or :meth:`fetchall`."""

    def __init__(self, service, user: User, channel: str = "python") -> None:
        self._service = service
        self.user = user
        self.channel = channel
        self._con = duckdb.connect(":memory:")
        self.visible: dict[str, tuple[PortEntry, ReadDecision]] = {}
        self.hidden_columns: dict[str, tuple[str, ...]] = {}
        self._latest: dict[str, str] = {}  # "domain.port" -> "domain.port vN"
        self._leases: list[SnapshotLease] = []
        self._build_views(service.policy.readable_ports(user))
        self._con.execute("set enable_external_access = false")
        self._con.execute("set lock_configuration = true")

    # --- building the view ------------------------------------------------------------

    def _build_views(self, readable: dict[str, tuple[PortEntry, ReadDecision]]) -> None:
        for index, (label, (port, decision)) in enumerate(sorted(readable.items())):
            if port.published is None:
                continue
            lease = lease_published(port.published)
            if lease is None:
                continue
            self._leases.append(lease)
            snapshot = lease.path
            full = ds.dataset(snapshot, format="parquet").schema
            hidden = () if decision.personal_data else port.personal_columns
            types = {c.name: c.data_type for c in port.columns}
            visible = pa.schema([f for f in full if f.name not in hidden])
            internal = f"__mesh_port_{index}"
            self._con.register(internal, ds.dataset(snapshot, format="parquet", schema=visible))
            select = ", ".join(
                f"cast(null as {types.get(f.name, 'varchar')}) as {_quote(f.name)}"
                if f.name in hidden
                else _quote(f.name)
                for f in full
            )
            domain, name = port.address.split(".")
            self._con.execute(f"create schema if not exists {_quote(domain)}")
            self._con.execute(
                f"create view {_quote(domain)}.{_quote(f'{name}_v{port.version}')} as "
                f"select {select} from {internal}"
            )
            self.visible[label] = (port, decision)
            self.hidden_columns[label] = tuple(c for c in hidden if c in full.names)
            if port.address not in self._latest or port.version > int(
                self._latest[port.address].rsplit("v", 1)[1]
            ):
                self._latest[port.address] = label
        for address, label in self._latest.items():
            domain, name = address.split(".")
            version = label.rsplit("v", 1)[1]
            self._con.execute(
                f"create view {_quote(domain)}.{_quote(name)} as "
                f"select * from {_quote(domain)}.{_quote(f'{name}_v{version}')}"
            )

    # --- access decisions -------------------------------------------------------------

    def _ports_of(self, refs: list[TableRef]) -> list[str]:
        labels = []
        for ref in refs:
            address = f"{ref.schema}.{ref.name}"
            match = re.fullmatch(r"(.+)_v(\d+)", ref.name)
            if address in self._latest:
                labels.append(self._latest[address])
            elif match and f"{ref.schema}.{match[1]} v{match[2]}" in self.visible:
                labels.append(f"{ref.schema}.{match[1]} v{match[2]}")
        return sorted(set(labels))

    def _deny_ungranted(self, refs: list[TableRef], sql: str) -> None:
        catalog = self._service.catalog
        for ref in refs:
            if ref.schema not in catalog.domains:
                continue
            name = re.sub(r"_v\d+$", "", ref.name)
            address = f"{ref.schema}.{name}"
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

    def arrow(self, sql: str) -> pa.Table:
        """Run one read-only query and return its result as an Arrow table (audited)."""
        try:
            refs = check_statements(self._con, sql)
        except QueryRefused:
            self._audit("refused", (), detail=sql)
            raise
        self._deny_ungranted(refs, sql)
        ports = self._ports_of(refs)
        try:
            relation = self._con.sql(sql)
            table = relation.to_arrow_table() if relation is not None else pa.table({})
        except duckdb.PermissionException as exc:
            self._audit("refused", tuple(ports), detail=sql)
            raise QueryRefused(
                f"refused: the query reaches outside the published ports ({exc}); only "
                "<domain>.<port> views can be read"
            ) from None
        except duckdb.Error as exc:
            missing = _MISSING_TABLE.search(str(exc))
            if missing:
                self._deny_ungranted(
                    [TableRef(s, missing[1]) for s in self._service.catalog.domains], sql
                )
            raise QueryError(f"query failed: {exc}") from None
        self._audit("read", tuple(ports), rows=table.num_rows, detail=sql)
        return table

    def df(self, sql: str) -> pd.DataFrame:
        return self.arrow(sql).to_pandas()

    def fetchall(self, sql: str) -> list[tuple]:
        table = self.arrow(sql)
        return (
            list(zip(*(c.to_pylist() for c in table.columns), strict=True))
            if table.num_columns
            else []
        )

    def sql(self, sql: str) -> duckdb.DuckDBPyRelation:
        """The result as a DuckDB relation (already computed and audited)."""
        return self._con.from_arrow(self.arrow(sql))

    def tables(self) -> list[str]:
        """The ports visible to this user, as ``<domain>.<port> vN``."""
        return sorted(self.visible)

    def close(self) -> None:
        self._con.close()
        for lease in self._leases:
            lease.release()
        self._leases.clear()

    def __enter__(self) -> MeshConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
