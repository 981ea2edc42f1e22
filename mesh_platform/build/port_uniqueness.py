"""Uniqueness of a whole port when a run rebuilds only some of its days.

A run of a daily port verifies its contract on the days it built (``row_filter``): Soda's
``duplicate`` check then sees duplicates *within* those days only. A key of a rebuilt day that
the port already publishes for another day would be published twice. This module closes that
gap without rescanning every day through Soda: the rebuilt days' keys (a few thousand rows) are
joined with the key columns of the days *not* rebuilt, read by DuckDB from the port's current
per-day snapshot (the Iceberg table's files of those days). Only the key
and day columns are read, and the built keys' min/max range is given to the Parquet scan as
literals, so row groups whose key statistics cannot match are skipped (ids that grow with time:
all but the last day's; keys spread over the history: every file's key column is read).

The result is folded into the contract's own ``duplicate`` check (same name, same Dagster asset
check): the contract says the column is unique in the port, and a port is what consumers read,
not the day. A key found on another day fails that check, with the keys (a few samples, no other
row data) and the days they are already published for; the rejects split (``bad_rows: reject``)
treats those rows as it treats in-day duplicates — the row published first stays, the later one
is rejected under the same check and reason.

Where the days not rebuilt come from, in order: the current snapshot's per-day files (when it is
published per day on the same column and has the key columns), else the current snapshot as one
file, else the built relation's other days (nothing published yet: the whole relation will be).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import Any

import duckdb

from mesh_platform.build.rejects import missing_predicate
from mesh_platform.core.contracts import CheckOutcome, ContractCheck, ContractVerification
from mesh_platform.core.sql import quote_ident, quote_literal
from mesh_platform.ports.scan import snapshot_source
from mesh_platform.ports.store import NULL_DAY, DayPartitions, PublishedPort

ACROSS_DAYS_METRIC = "duplicate_count_across_days"
SAMPLES = 5  # keys named in a message
_counter = itertools.count()


@dataclass
class CrossDayDuplicates:
    """Keys of the rebuilt days that the port already publishes for other days (one check)."""

    check: ContractCheck
    columns: tuple[str, ...]
    rows: int = 0  # rows of the rebuilt days whose key is published for another day
    keys: int = 0  # distinct such keys
    samples: list[tuple[tuple[Any, ...], list[str]]] = field(default_factory=list)
    days: list[str] = field(default_factory=list)  # the other days those keys are on
    keys_relation: str | None = None  # temp table of those keys (for the rejects split)
    compared_with: str = ""  # what the rebuilt days were compared with
    seconds: float = 0.0
    error: str = ""  # DuckDB's error, when the comparison could not run

    def key_text(self, key: tuple[Any, ...]) -> str:
        return ", ".join(f"{c}={v}" for c, v in zip(self.columns, key, strict=True))

    @property
    def failed(self) -> bool:
        return bool(self.rows or self.error)

    def detail(self) -> str:
        """One line for the run's message and the Dagster check: the keys and their days."""
        if self.error:
            return (
                f"could not be verified against the days the port already publishes: {self.error}"
            )
        if not self.rows:
            return ""
        shown = "; ".join(f"{self.key_text(k)} (on {', '.join(d)})" for k, d in self.samples)
        more = f" and {self.keys - len(self.samples)} more" if self.keys > len(self.samples) else ""
        days = ", ".join(self.days[:10]) + (" …" if len(self.days) > 10 else "")
        return (
            f"{self.rows} row{'s' if self.rows != 1 else ''} of the days built reuse "
            f"{self.keys} key{'s' if self.keys != 1 else ''} already published for other days "
            f"({days}): {shown}{more}"
        )


def key_columns(check: ContractCheck) -> tuple[str, ...]:
    if check.check_type != "duplicate":
        return ()
    if check.column:
        return (check.column,)
    return tuple(check.config.get("columns") or ())


def _present(columns: tuple[str, ...], config: dict[str, Any], alias: str) -> str:
    """A row whose key counts (the rejects split's rule): a missing key is never a duplicate."""
    if len(columns) == 1:
        return f"not ({missing_predicate(f'{alias}.{quote_ident(columns[0])}', config)})"
    return "(" + " or ".join(f"{alias}.{quote_ident(c)} is not null" for c in columns) + ")"


def _match(columns: tuple[str, ...], left: str, right: str) -> str:
    # one column: '=' (DuckDB pushes the join's key range into the Parquet scan); several: nulls
    # in a key are equal, as in the split's window over the key columns
    op = "=" if len(columns) == 1 else "is not distinct from"
    return " and ".join(f"{left}.{quote_ident(c)} {op} {right}.{quote_ident(c)}" for c in columns)


def published_elsewhere(
    connection: Any,
    relation: str,
    checks: tuple[ContractCheck, ...],
    days: DayPartitions | None,
    row_filter: str | None,
    current: PublishedPort | None,
) -> list[CrossDayDuplicates]:
    """For each ``duplicate`` check: keys of the rebuilt days already published for other days.

    Nothing to do (an empty list) for a run that is not a day range of a per-day port, or when
    the day column is one of the key columns (a key then cannot repeat across days).
    """
    import time

    if days is None or not days.days or not row_filter:
        return []
    found = []
    for check in checks:
        columns = key_columns(check)
        if not columns or days.column in columns:
            continue
        started = time.perf_counter()
        try:
            result = _one_check(connection, relation, check, columns, days, row_filter, current)
        except duckdb.Error as exc:  # fail closed: a check that could not run never passes
            result = CrossDayDuplicates(check, columns, error=str(exc).strip())
        result.seconds = round(time.perf_counter() - started, 4)
        found.append(result)
    return found


def _other_days(
    connection: Any,
    relation: str,
    columns: tuple[str, ...],
    days: DayPartitions,
    row_filter: str,
    current: PublishedPort | None,
    check_filter: str | None = None,
) -> tuple[str, str] | None:
    """SQL of the rows of the days not rebuilt (key and day columns) and what it reads; None
    when there are none. A check's own ``filter`` applies to them too."""
    day = quote_ident(days.column)
    wanted = [*columns, days.column]
    project = ", ".join(quote_ident(c) for c in wanted)
    also = f" and ({check_filter})" if check_filter else ""
    rebuilt = {d.isoformat() for d in days.days or ()}
    if current is not None and current.files:
        source = snapshot_source(connection, current)
        if current.partition_column == days.column and current.partitions:
            kept = [d for d in current.partitions if d not in rebuilt]
            if not kept:
                return None
            # the days not rebuilt, as the port publishes them: the Parquet reader skips the
            # rebuilt days' files by their day statistics
            listed = ", ".join(f"{quote_literal(d)}::date" for d in sorted(rebuilt))
            where = f"coalesce({day} not in ({listed}), true)" if rebuilt else "true"
        else:
            where = f"not coalesce({row_filter}, false)"
        described = {
            r[0] for r in connection.execute(f"describe select * from {source}").fetchall()
        }
        if set(wanted) <= described:
            return (
                f"select {project} from {source} where {where}{also}",
                f"snapshot {current.snapshot_id}",
            )
        # the published files lack a key column (the model changed): the publish rewrites
        # every day from the relation, so that is what the days are compared with
    others = f"(not coalesce({row_filter}, false) or {day} is null){also}"
    # a run of every day the relation has (a first or full build) has no other day: one
    # look at the day column instead of collecting every key of the relation
    if not connection.execute(
        f"select exists (select 1 from {relation} where {others})"
    ).fetchone()[0]:
        return None
    return (
        f"select {project} from {relation} where {others}",
        f"{relation} (no per-day snapshot to compare with)",
    )


def _one_check(
    connection: Any,
    relation: str,
    check: ContractCheck,
    columns: tuple[str, ...],
    days: DayPartitions,
    row_filter: str,
    current: PublishedPort | None,
) -> CrossDayDuplicates:
    result = CrossDayDuplicates(check, columns)
    check_filter = check.config.get("filter")
    other = _other_days(connection, relation, columns, days, row_filter, current, check_filter)
    if other is None:
        result.compared_with = "nothing (no other day published)"
        return result
    other_sql, result.compared_with = other
    keys = ", ".join(quote_ident(c) for c in columns)
    only = f" and ({check_filter})" if check_filter else ""
    day = quote_ident(days.column)
    table = f"__mesh_published_keys_{next(_counter)}"
    built = f"{table}_built"
    connection.execute(
        f"create or replace temp table {built} as select distinct {keys} from {relation} b "
        f"where ({row_filter}) and {_present(columns, check.config, 'b')}{only}"
    )
    try:
        ranges = _key_ranges(connection, built, columns)
        connection.execute(
            f"create or replace temp table {table} as "
            f"select {', '.join(f'p.{quote_ident(c)}' for c in columns)}, "
            f"list(distinct coalesce(cast(p.{day} as varchar), {quote_literal(NULL_DAY)})) "
            f"as days from ({other_sql}) p join {built} k on {_match(columns, 'p', 'k')} "
            f"where {_present(columns, check.config, 'p')}{ranges} "
            f"group by {', '.join(f'p.{quote_ident(c)}' for c in columns)}"
        )
    finally:
        connection.execute(f"drop table if exists {built}")
    result.keys_relation = table
    result.keys = connection.execute(f"select count(*) from {table}").fetchone()[0]
    if not result.keys:
        return result
    result.rows = connection.execute(
        f"select count(*) from {relation} b where ({row_filter}) and exists "
        f"(select 1 from {table} t where {_match(columns, 't', 'b')})"
    ).fetchone()[0]
    samples = connection.execute(
        f"select {keys}, days from {table} order by {keys} limit {SAMPLES}"
    ).fetchall()
    result.samples = [(tuple(row[:-1]), sorted(row[-1])) for row in samples]
    result.days = [
        r[0]
        for r in connection.execute(
            f"select distinct unnest(days) as d from {table} order by d"
        ).fetchall()
    ]
    return result


# key types whose min and max, written back as literals, compare exactly as the stored values
_RANGED_TYPES = ("VARCHAR", "BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "DATE")


def _key_ranges(connection: Any, built: str, columns: tuple[str, ...]) -> str:
    """`` and <col> between <min> and <max>`` of the built keys, as literals: DuckDB prunes the
    published files' row groups with it from their Parquet statistics (a join's own dynamic
    filter does not, for strings). Ids that grow with time then read almost nothing."""
    parts = []
    for column in columns:
        c = quote_ident(column)
        low, high, kind, nulls = connection.execute(
            f"select min({c})::varchar, max({c})::varchar, typeof(min({c})), "
            f"count(*) filter (where {c} is null) from {built}"
        ).fetchone()
        if low is None or kind not in _RANGED_TYPES:
            continue
        between = (
            f"p.{c} between cast({quote_literal(low)} as {kind}) "
            f"and cast({quote_literal(high)} as {kind})"
        )
        parts.append(f"({between} or p.{c} is null)" if nulls else between)
    return "".join(f" and {p}" for p in parts)


def fold_into(
    verification: ContractVerification, found: list[CrossDayDuplicates]
) -> ContractVerification:
    """The verification with each checked ``duplicate`` outcome covering the whole port: failed
    when a key is published for another day, with the keys and days in its detail."""
    if not found:
        return verification
    by_check = {f.check: f for f in found}
    outcomes = []
    for outcome in verification.outcomes:
        hit = by_check.get(outcome.check)
        if hit is None:
            outcomes.append(outcome)
            continue
        port = {
            ACROSS_DAYS_METRIC: hit.rows,
            "compared_with": hit.compared_with,
            "port_check_seconds": hit.seconds,
        }
        if hit.error:
            port["error"] = hit.error
        if hit.rows:
            port["duplicate_keys_across_days"] = hit.keys
            port["duplicate_key_samples"] = [hit.key_text(k) for k, _ in hit.samples]
            port["already_published_on"] = hit.days
        if hit.failed:
            outcome = replace(
                outcome,
                passed=False,
                # Soda's own failure (NOT_EVALUATED, FAILED) stays named as it was
                outcome="FAILED" if outcome.passed else outcome.outcome,
                port_diagnostics=port,
                detail=hit.detail(),
            )
        else:
            outcome = replace(outcome, port_diagnostics=port)
        outcomes.append(outcome)
    return replace(verification, outcomes=outcomes)


def with_port_diagnostics(outcome: CheckOutcome) -> dict[str, Any]:
    return {f"mesh/{k}": v for k, v in outcome.port_diagnostics.items()}
