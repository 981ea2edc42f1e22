"""A port's data for one user, as CSV, JSON or Parquet — always through their guarded connection.

The SQL is built only from catalog names (the port's address and its documented columns), never
from text the caller typed, and runs on the user's :class:`MeshConnection`: only ports they may
read exist there, personal-data columns are NULL without a grant covering them, and every read or
denial lands in the audit log with the channel (``api`` or ``portal``).
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi.responses import Response

from mesh_platform.access.query import MeshConnection
from mesh_platform.catalog.entries import PortEntry
from mesh_platform.core.address import PortAddress
from mesh_platform.core.sql import qualified, quote_ident

if TYPE_CHECKING:  # pyarrow is imported when rows are encoded, not on every page's path
    import pyarrow as pa

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "parquet": "application/vnd.apache.parquet",
}
DEFAULT_LIMIT = 1000
MAX_LIMIT = 100_000


class DataRequestError(ValueError):
    """A bad column or format; the message names the port and what it does have."""


@dataclass(frozen=True)
class PortData:
    port: PortEntry
    table: pa.Table
    hidden_columns: tuple[str, ...]


def select_columns(port: PortEntry, columns: str | None) -> list[str]:
    """The requested columns (``a,b``), each checked against the port's documented schema."""
    known = [c.name for c in port.columns]
    if not columns or not columns.strip():
        return known
    wanted = [c.strip() for c in columns.split(",") if c.strip()]
    unknown = [c for c in wanted if c not in known]
    if unknown:
        raise DataRequestError(
            f"port {port.label} has no column {', '.join(map(repr, unknown))}; "
            f"its columns are {', '.join(known)}"
        )
    return list(dict.fromkeys(wanted))


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise DataRequestError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    return fmt


def read_port(con: MeshConnection, port: PortEntry, columns: list[str], limit: int) -> PortData:
    """Read up to ``limit`` rows of ``columns`` of one port version (AccessDenied without grant)."""
    parsed = PortAddress.parse(port.address)
    domain, name = parsed.domain, parsed.port
    select = ", ".join(quote_ident(c) for c in columns) if columns else "*"
    table = con.run(
        f"select {select} from {qualified(domain, f'{name}_v{port.version}')} limit {int(limit)}",
        max_rows=limit,
    ).table
    hidden = tuple(c for c in con.hidden_columns.get(port.label, ()) if c in table.column_names)
    return PortData(port, table, hidden)


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def json_rows(table: pa.Table) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts: timestamps ISO 8601, decimals as numbers."""
    return json.loads(json.dumps(table.to_pylist(), default=_json_value))


def encode(data: PortData, fmt: str) -> bytes:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        sink = io.BytesIO()
        pq.write_table(data.table, sink, compression="zstd")
        return sink.getvalue()
    if fmt == "csv":
        import pyarrow.csv as pacsv

        sink = io.BytesIO()
        pacsv.write_csv(data.table, sink)
        return sink.getvalue()
    payload = {
        "port": data.port.address,
        "version": data.port.version,
        "columns": data.table.column_names,
        "hidden_columns": list(data.hidden_columns),
        "rows": data.table.to_pylist(),
    }
    return json.dumps(payload, default=_json_value).encode()


def attachment(data: PortData, fmt: str, **headers: str) -> Response:
    """A port's rows as a download (the API's ``/data`` and the portal's preview download):
    the encoded rows, with how many rows and which columns were hidden, plus ``headers``."""
    name = f"{data.port.address}_v{data.port.version}.{fmt}"
    return Response(
        encode(data, fmt),
        media_type=FORMATS[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Mesh-Rows": str(data.table.num_rows),
            "X-Mesh-Hidden-Columns": ",".join(data.hidden_columns),
            **headers,
        },
    )
