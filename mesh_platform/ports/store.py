"""Output ports: immutable Parquet snapshots behind an atomically switched pointer.

Layout of one port, ``<ports_dir>/<domain>/<port>/v<major>/``::

    snapshots/<snapshot_id>.parquet   immutable data, written once under a temporary name
    snapshots/<snapshot_id>.json      its metadata (rows, content checksum, run)
    current.parquet                   symlink to the current snapshot: the pointer
    .publish.lock                     held (flock) by the one process publishing this port

A port of a daily-partitioned product that names its ``partitioning.column`` is published *per
partition*: its ``<snapshot_id>.parquet`` is a directory holding one Parquet file per day
(``<YYYY-MM-DD>.parquet``). A run for some days writes only those days' files; every other day
is a hard link to the previous snapshot's file — so publishing a day costs O(day), not
O(history), and every snapshot is still whole and immutable. DuckDB and Spark read a directory
of Parquet files as one table, so readers of ``current.parquet`` do not change.

Publishing is crash-safe at every step: the data is written to a temporary file named after
the publisher's pid and fsynced, its metadata JSON is written (atomically) *before* the data
file gets its final name, and only then is the pointer switched with one ``rename`` of a
symlink, which POSIX makes atomic. So a reader sees the old or the new snapshot, never half of
one, and every ``<id>.parquet`` has its ``<id>.json``. A publisher killed half-way leaves only
files no pointer names (temporaries, a JSON without data); the next publish of the port removes
them under the port's publish lock (which a dead process no longer holds).

Readers pin a snapshot with a *lease* (:func:`lease_snapshot`: a shared ``flock`` on the
snapshot file, released when the reader closes it or dies); retention keeps the newest
:data:`RETAINED_SNAPSHOTS` snapshots and the current one, and removes an older one only if it
can take the lease exclusively — never while a reader holds it.

Each snapshot's JSON carries an order-independent content checksum (:func:`content_checksum`):
the row count and the 128-bit sum of DuckDB's ``hash()`` of every row's *normalised* values —
columns in name order, floating-point values rounded to single precision (about 7 significant
digits) — so two snapshots with the same rows in any order, column order or engine (DuckDB or
Spark, whose floating-point sums differ in the last bits) have the same checksum. That is how a rerun after a crash is shown to
converge on the result of a clean run, and a Spark build on the result of a DuckDB one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from mesh_platform.core.failpoints import failpoint
from mesh_platform.core.sql import quote_ident, quote_literal

RETAINED_SNAPSHOTS = 5
# 2: normalised values (see the module docstring); per-day checksums of another kind are not
# combined with these: a snapshot of another kind has all its days written again
CHECKSUM_VERSION = 2
FLOAT_TYPES = {"DOUBLE"}  # FLOAT (REAL) is single precision already
POINTER = "current.parquet"
PUBLISH_LOCK = ".publish.lock"


@dataclass(frozen=True)
class DayPartitions:
    """Publish a port per day of ``column``: only ``days`` (None: every day) are written; the
    other days of the previous snapshot are carried over as hard links."""

    column: str
    days: tuple[date, ...] | None = None


@dataclass(frozen=True)
class PublishedPort:
    address: str
    version: int
    snapshot_id: str
    path: str
    rows: int
    published_at: str
    run_id: str | None = None
    checksum: str | None = None
    # partitioned ports: the day column, each day's ``<rows>:<hex>`` checksum (the files of a
    # day are ``<day>.parquet`` in the snapshot directory), and which days this publish wrote
    partition_column: str | None = None
    partitions: dict[str, str] | None = None
    days_written: list[str] | None = None
    checksum_version: int | None = None  # None: written before checksums were normalised

    @property
    def rows_written(self) -> int:
        """Rows of the days this publish wrote (all rows, unless it published some days)."""
        if self.partitions is None or self.days_written is None:
            return self.rows
        return sum(int(self.partitions[d].split(":")[0]) for d in self.days_written)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> PublishedPort:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in payload.items() if k in known})


def port_dir(ports_dir: Path, domain: str, port: str, version: int) -> Path:
    return ports_dir / domain / port / f"v{version}"


def pointer_path(ports_dir: Path, domain: str, port: str, version: int) -> Path:
    return port_dir(ports_dir, domain, port, version) / POINTER


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True))
    _fsync(tmp)
    os.replace(tmp, path)


def normalised_row_hash(connection: Any, source: str) -> str:
    """SQL of one row's hash over ``source``'s columns in name order, floating-point values
    rounded to single precision: engines sum and divide floats in different orders, which
    changes the last bits of a double (a difference of 1e-13 crosses a single-precision rounding
    boundary about once in 10^6 values, a 12-digit decimal one once in 10); a cast is also a
    third of the cost of formatting."""
    columns = sorted(
        (r[0], str(r[1]).upper())
        for r in connection.execute(f"describe select * from {source}").fetchall()
    )
    fields = ", ".join(
        f"{quote_ident(name)} := "
        + (f"{quote_ident(name)}::float" if kind in FLOAT_TYPES else quote_ident(name))
        for name, kind in columns
    )
    return f"hash(struct_pack({fields}))"


def content_checksum(connection: Any, parquet: Path) -> str:
    """``<rows>:<hex>`` — the row count and the sum (mod 2^128) of the rows' normalised hashes.

    Independent of row order, column order, file layout (row groups, compression) and of the
    engine that computed the values; cheap (one scan, no sort: ~35 ms for 50k rows, a fifth of
    writing the file), and it changes when any value of any row does.
    """
    source = f"read_parquet({quote_literal(str(parquet))})"
    rows, total = connection.execute(
        f"select count(*), coalesce(sum({normalised_row_hash(connection, source)}::hugeint), 0) "
        f"from {source}"
    ).fetchone()
    return f"{int(rows)}:{int(total) % (1 << 128):032x}"


def _combine_checksums(checksums: Iterator[str] | list[str]) -> str:
    """The checksum of the union of disjoint row sets: rows and hash sums add up."""
    rows = total = 0
    for checksum in checksums:
        n, hexsum = checksum.split(":")
        rows += int(n)
        total += int(hexsum, 16)
    return f"{rows}:{total % (1 << 128):032x}"


@contextlib.contextmanager
def _publish_lock(directory: Path) -> Iterator[None]:
    with open(directory / PUBLISH_LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def publish_snapshot(
    connection: Any,
    relation: str,
    ports_dir: Path,
    domain: str,
    port: str,
    version: int,
    run_id: str | None = None,
    order_by: str | None = None,
    partitions: DayPartitions | None = None,
) -> PublishedPort:
    """Copy ``relation`` to a new immutable snapshot, then switch the port's pointer to it.

    With ``partitions``, the snapshot is a directory of one file per day and only the days
    asked for are written (see the module docstring)."""
    failpoint("publish.start")
    directory = port_dir(ports_dir, domain, port, version)
    snapshots = directory / "snapshots"
    snapshots.mkdir(parents=True, exist_ok=True)
    with _publish_lock(directory):
        remove_leftovers(directory)
        now = datetime.now(UTC)
        snapshot_id = now.strftime("%Y%m%dT%H%M%S%fZ") + (f"-{run_id[:8]}" if run_id else "")
        final = snapshots / f"{snapshot_id}.parquet"
        tmp = snapshots / f".{snapshot_id}.{os.getpid()}.parquet.tmp"
        by_day: dict[str, str] | None = None
        written: list[str] | None = None
        if partitions is None:
            order = f" order by {order_by}" if order_by else ""
            connection.execute(
                f"copy (select * from {relation}{order}) to {quote_literal(str(tmp))} "
                "(format parquet, compression zstd)"
            )
            _fsync(tmp)
            failpoint("publish.temp_written")
            checksum = content_checksum(connection, tmp)
        else:
            by_day, written = _write_days(
                connection, relation, tmp, partitions, _pointer_target(directory)
            )
            failpoint("publish.temp_written")
            checksum = _combine_checksums(list(by_day.values()))
        published = PublishedPort(
            address=f"{domain}.{port}",
            version=version,
            snapshot_id=snapshot_id,
            path=str(final),
            rows=int(checksum.split(":")[0]),
            published_at=now.isoformat(),
            run_id=run_id,
            checksum=checksum,
            partition_column=partitions.column if partitions else None,
            partitions=by_day,
            days_written=written,
            checksum_version=CHECKSUM_VERSION,
        )
        # metadata first: a data file under its final name always has its JSON beside it
        write_json_atomic(final.with_suffix(".json"), published.to_json())
        failpoint("publish.json_written")
        os.replace(tmp, final)
        _fsync_dir(snapshots)
        failpoint("publish.data_renamed")
        _switch_pointer(directory, final)
        failpoint("publish.pointer_switched")
        _apply_retention(snapshots, keep=RETAINED_SNAPSHOTS)
        failpoint("publish.retention_done")
    return published


NULL_DAY = "null"  # the file of rows whose day column is null


def _day_key(value: Any) -> str:
    return NULL_DAY if value is None else str(value)[:10]


def _write_days(
    connection: Any, relation: str, tmp: Path, spec: DayPartitions, previous: Path | None
) -> tuple[dict[str, str], list[str]]:
    """Fill the directory ``tmp`` with one file per day; return every day's checksum and the
    days written. Days outside ``spec.days`` are hard-linked from ``previous`` when it is a
    per-day snapshot of the same column and schema; otherwise every day is written."""
    column = quote_ident(spec.column)
    types = dict(
        (r[0], r[1]) for r in connection.execute(f"describe select * from {relation}").fetchall()
    )
    if types.get(spec.column) != "DATE":
        found = f"is {types[spec.column]}" if spec.column in types else "does not exist"
        raise ValueError(
            f"{relation}: column {spec.column!r} (the product's partitioning.column) {found}; "
            "a port published per day needs a DATE column. Cast it in the model, or name the "
            "right column in the descriptor."
        )
    carried = _reusable_days(connection, relation, previous, spec) if spec.days else None
    if carried and 2 * len(spec.days or ()) > len(carried[0]):
        carried = None  # most days change (a backfill): one pass over the table is cheaper
    tmp.mkdir()
    new_files: list[Path] = []
    if carried is None:  # every day, in one pass
        stage = tmp / ".stage"
        connection.execute(
            f"copy (select * from {relation}) to {quote_literal(str(stage))} (format parquet, "
            f"compression zstd, partition_by ({column}), write_partition_columns true)"
        )
        for part in sorted(stage.iterdir()) if stage.exists() else []:
            value = part.name.split("=", 1)[1]
            day = NULL_DAY if value in {"NULL", "__HIVE_DEFAULT_PARTITION__"} else value[:10]
            for i, file in enumerate(sorted(part.glob("*.parquet"))):
                target = tmp / (f"{day}.parquet" if i == 0 else f"{day}.{i}.parquet")
                os.replace(file, target)
                new_files.append(target)
        shutil.rmtree(stage, ignore_errors=True)
        checksums: dict[str, str] = {}
        # a backfill of most days writes them all in one pass; it still *published* (and
        # reports) the days it was asked for
        asked = sorted({d.isoformat() for d in spec.days}) if spec.days else None
    else:
        prev_days, prev_dir = carried
        asked = sorted({d.isoformat() for d in spec.days or ()})
        for day in prev_days:
            if day not in asked:
                for file in prev_dir.glob(f"{day}.*"):
                    os.link(file, tmp / file.name)
        for day in asked:
            target = tmp / f"{day}.parquet"
            connection.execute(
                f"copy (select * from {relation} where {column} = {quote_literal(day)}::date) "
                f"to {quote_literal(str(target))} (format parquet, compression zstd)"
            )
            new_files.append(target)
        checksums = {d: c for d, c in prev_days.items() if d not in asked}
    if new_files:  # checksums of what was written now; carried days keep theirs
        listed = ", ".join(quote_literal(str(f)) for f in new_files)
        source = f"read_parquet([{listed}])"
        row_hash = normalised_row_hash(connection, source)
        for value, rows, total in connection.execute(
            f"select {column}, count(*), coalesce(sum({row_hash}::hugeint), 0) "
            f"from {source} group by 1"
        ).fetchall():
            checksums[_day_key(value)] = f"{int(rows)}:{int(total) % (1 << 128):032x}"
    for file in new_files:  # a day asked for that has no rows (anymore): no file
        if file.name.split(".")[0] not in checksums:
            file.unlink()
    if not any(tmp.glob("*.parquet")):  # no rows at all: one empty file keeps the schema
        connection.execute(
            f"copy (select * from {relation} limit 0) to "
            f"{quote_literal(str(tmp / 'empty.parquet'))} (format parquet)"
        )
    for file in tmp.iterdir():
        _fsync(file)
    _fsync_dir(tmp)
    written = sorted(checksums) if asked is None else [d for d in asked if d in checksums]
    return checksums, written


def _reusable_days(
    connection: Any, relation: str, previous: Path | None, spec: DayPartitions
) -> tuple[dict[str, str], Path] | None:
    """The previous snapshot's days and directory, if its days can be carried over as they are:
    a per-day snapshot of the same column whose files have the relation's schema."""
    if previous is None or not previous.is_dir():
        return None
    try:
        meta = json.loads(previous.with_suffix(".json").read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if meta.get("partition_column") != spec.column or not isinstance(meta.get("partitions"), dict):
        return None
    if meta.get("checksum_version") != CHECKSUM_VERSION:
        return None  # its days' checksums are of another kind: write every day again
    sample = next(iter(sorted(previous.glob("*.parquet"))), None)
    if sample is None:
        return None
    schema = "describe select * from {}"
    now = connection.execute(schema.format(relation)).fetchall()
    then = connection.execute(
        schema.format(f"read_parquet({quote_literal(str(sample))})")
    ).fetchall()
    if [r[:2] for r in now] != [r[:2] for r in then]:
        return None  # the model's columns changed: write every day again
    return meta["partitions"], previous


def _fsync_dir(directory: Path) -> None:
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _switch_pointer(directory: Path, target: Path) -> None:
    link_tmp = directory / f".{POINTER}.{os.getpid()}.{time.monotonic_ns()}"
    os.symlink(os.path.relpath(target, directory), link_tmp)
    failpoint("publish.pointer_temp")
    os.replace(link_tmp, directory / POINTER)
    _fsync_dir(directory)


def remove_leftovers(directory: Path) -> list[Path]:
    """Remove what a killed publisher of this port version left: temporaries and metadata of
    data files that never got their final name. Call only under the port's publish lock (so
    no live publisher is writing them). Returns what was removed."""
    removed = []
    snapshots = directory / "snapshots"
    candidates = [*snapshots.glob(".*.tmp"), *directory.glob(f".{POINTER}.*")]
    candidates += [j for j in snapshots.glob("*.json") if not j.with_suffix(".parquet").exists()]
    for path in candidates:
        if path.exists() or path.is_symlink():
            _remove_path(path)
            removed.append(path)
    return removed


def _pointer_target(directory: Path) -> Path | None:
    try:
        return (directory / os.readlink(directory / POINTER)).resolve()
    except OSError:
        return None


def _apply_retention(snapshots: Path, keep: int) -> list[Path]:
    """Drop the oldest snapshots beyond ``keep``; never the current one, never a leased one."""
    current = _pointer_target(snapshots.parent)
    files = sorted(snapshots.glob("*.parquet"))
    removed = []
    for old in files[:-keep] if len(files) > keep else []:
        if old.resolve() == current:
            continue
        if _remove_unleased(old):
            removed.append(old)
    return removed


def _remove_unleased(snapshot: Path) -> bool:
    """Remove a snapshot (file or per-day directory) and its JSON unless a reader holds a
    lease on it."""
    try:
        handle = _LockHandle(snapshot)
    except FileNotFoundError:
        return False
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # a reader uses it: try again at a later publish
        _remove_path(snapshot)
        snapshot.with_suffix(".json").unlink(missing_ok=True)
    finally:
        handle.close()
    return True


def _remove_path(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


class _LockHandle:
    """An open descriptor on a snapshot file or directory, to ``flock`` (a directory cannot
    be opened with ``open()``)."""

    def __init__(self, path: Path) -> None:
        self._fd: int | None = os.open(path, os.O_RDONLY)

    def fileno(self) -> int:
        if self._fd is None:
            raise ValueError("lease already released")
        return self._fd

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        self.close()


class SnapshotLease:
    """A reader's shared lock on one snapshot file: retention leaves it alone while held.

    Released by :meth:`release`, when the object is garbage-collected, or when the process
    dies (the kernel drops ``flock`` locks with the last open descriptor)."""

    def __init__(self, handle: _LockHandle, published: PublishedPort) -> None:
        self._handle = handle
        self.published = published

    @property
    def path(self) -> Path:
        return Path(self.published.path)

    def release(self) -> None:
        self._handle.close()


def lease_snapshot(path: Path) -> _LockHandle | None:
    """Take a shared lease on ``path``; None if the snapshot is gone (retention removed it)."""
    try:
        handle = _LockHandle(path)  # the open descriptor *is* the lease
    except FileNotFoundError:
        return None
    fcntl.flock(handle.fileno(), fcntl.LOCK_SH)
    try:
        # retention may have unlinked it between our open and our lock
        still_there = os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino
    except FileNotFoundError:
        still_there = False
    if not still_there:
        handle.close()
        return None
    return handle


def lease_current(
    ports_dir: Path, domain: str, port: str, version: int, attempts: int = 5
) -> SnapshotLease | None:
    """Lease the snapshot the pointer names now (None if the port was never published)."""
    for _ in range(attempts):
        published = current_snapshot(ports_dir, domain, port, version)
        if published is None:
            return None
        handle = lease_snapshot(Path(published.path))
        if handle is not None:
            return SnapshotLease(handle, published)
    return None


def lease_published(published: PublishedPort) -> SnapshotLease | None:
    """Lease the snapshot ``published`` names, or — if retention already removed it — the
    port's current one."""
    handle = lease_snapshot(Path(published.path))
    if handle is not None:
        return SnapshotLease(handle, published)
    snapshots = Path(published.path).parent
    version_dir = snapshots.parent
    return lease_current(
        version_dir.parent.parent.parent,
        version_dir.parent.parent.name,
        version_dir.parent.name,
        published.version,
    )


def record_json(
    ports_dir: Path, domain: str, port: str, version: int, name: str, payload: dict[str, Any]
) -> Path:
    """Write a small JSON record beside a port version's snapshots (atomically)."""
    directory = port_dir(ports_dir, domain, port, version)
    directory.mkdir(parents=True, exist_ok=True)
    write_json_atomic(directory / name, payload)
    failpoint(f"publish.{Path(name).stem}_recorded")
    return directory / name


def current_snapshot(ports_dir: Path, domain: str, port: str, version: int) -> PublishedPort | None:
    """The published snapshot the pointer names now, or None if the port was never published.

    Never raises on a port a crash left half-published: the pointer only ever names a snapshot
    whose data and metadata are complete."""
    pointer = pointer_path(ports_dir, domain, port, version)
    for _ in range(3):
        target = _pointer_target(pointer.parent)
        if target is None:
            return None
        try:
            return PublishedPort.from_json(json.loads(target.with_suffix(".json").read_text()))
        except (FileNotFoundError, json.JSONDecodeError, TypeError):
            continue  # the pointer moved on while we read (its old target was retired)
    return None


def list_published(ports_dir: Path) -> list[PublishedPort]:
    """Every port version that has a current snapshot, sorted by address then version."""
    found = []
    for pointer in sorted(ports_dir.glob(f"*/*/v*/{POINTER}")):
        version_dir = pointer.parent
        domain, port = version_dir.parent.parent.name, version_dir.parent.name
        try:
            version = int(version_dir.name[1:])
        except ValueError:
            continue
        snap = current_snapshot(ports_dir, domain, port, version)
        if snap:
            found.append(snap)
    return found
