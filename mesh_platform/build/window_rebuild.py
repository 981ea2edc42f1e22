"""A run over every day a daily port's table holds rebuilds the table instead of rewriting it.

A daily-partitioned model is incremental: a run deletes and inserts the days of its window
(``delete+insert`` on the day column). When the window covers every day the table holds — a
second ``mesh materialize`` of a built mesh, or ``--full-refresh`` — that is a delete and an
insert of the whole table in one transaction, whose undo DuckDB cannot spill: at scale 50
with 832 MiB of DuckDB, rebuilding ``play_events`` that way ran out of memory, while building it
new passes; with 2240 MiB its dbt step took 69 s against 62 s (bench/results/publish-cost.md).

So, before dbt runs, such a table is set aside (renamed, which DuckDB does without copying): dbt
finds no table and builds it new, as in a first build. Once dbt is done, the days of the
set-aside table that the new one lacks (a day inside the window the sources no longer hold) are
copied over — delete+insert would have left them too, so the result is the same — and the
set-aside table is dropped; if dbt did not build the table, it is renamed back, so a failed
model leaves the table as it was. A step that crashed in between finds the set-aside table at
its next start and resolves it the same way before anything else.

Only a table whose every row has a day inside the window qualifies: with a day outside it,
the copy would be O(history), so delete+insert stays. Only ports whose product names its
``partitioning.column`` are considered (the platform knows their day column); other
incremental models are unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from mesh_platform.core.bindings import DomainBindings
from mesh_platform.core.memory import duckdb_memory_limit
from mesh_platform.core.sql import quote_ident, quote_literal

SET_ASIDE_SUFFIX = "__mesh_set_aside"


@dataclass(frozen=True)
class WholeTable:
    """A port's table that this run rebuilds whole."""

    schema: str
    table: str
    column: str  # the day column

    @property
    def relation(self) -> str:
        return f"{quote_ident(self.schema)}.{quote_ident(self.table)}"

    @property
    def set_aside(self) -> str:
        return f"{quote_ident(self.schema)}.{quote_ident(self.table + SET_ASIDE_SUFFIX)}"


def candidates(bindings: DomainBindings, models: Iterable[str]) -> list[WholeTable]:
    """The tables of the incremental port models among ``models`` (dbt unique ids) whose
    product names its day column."""
    found = []
    nodes = bindings.manifest["nodes"]
    for uid in sorted(models):
        binding = bindings.ports.get(uid)
        node = nodes.get(uid, {})
        if binding is None or node.get("config", {}).get("materialized") != "incremental":
            continue
        part = binding.product.partitioning
        if part is None or part.column is None:
            continue
        schema, table = binding.relation.split(".", 1)
        found.append(WholeTable(schema, table, part.column))
    return found


def _exists(con, schema: str, table: str) -> bool:
    return (
        con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchone()[0]
        > 0
    )


def settle(con, tables: Iterable[WholeTable]) -> None:
    """Resolve set-aside tables (after dbt, and at a step's start after a crash): where the
    table was built anew, the days only the set-aside table holds are copied into it and the
    set-aside table is dropped, in one transaction; where it was not, it is renamed back."""
    for table in tables:
        if not _exists(con, table.schema, table.table + SET_ASIDE_SUFFIX):
            continue
        day = quote_ident(table.column)
        restore = f"alter table {table.set_aside} rename to {quote_ident(table.table)}"
        if not _exists(con, table.schema, table.table):
            con.execute(restore)
            continue
        con.execute("begin")
        try:
            con.execute(
                f"insert into {table.relation} by name select * from {table.set_aside} "
                f"where {day} not in (select distinct {day} from {table.relation})"
            )
            con.execute(f"drop table {table.set_aside}")
            con.execute("commit")
        except Exception as exc:
            con.execute("rollback")
            # the days only the old table holds do not fit the new one (its columns changed):
            # keep the table as it was, as delete+insert would have failed on the change
            con.execute("begin")
            con.execute(f"drop table {table.relation}")
            con.execute(restore)
            con.execute("commit")
            raise RuntimeError(
                f"{table.schema}.{table.table} was built anew, but the days only its previous "
                f"table held could not be copied into it ({exc}); the previous table was kept. "
                "A changed column needs those days rebuilt too: run over every day they cover."
            ) from exc


def set_aside_whole_tables(
    database: Path,
    bindings: DomainBindings,
    models: Iterable[str],
    window: tuple[date, date],
) -> list[WholeTable]:
    """Settle what a crashed step left, then set aside each candidate table whose every row
    has a day in ``window`` (start inclusive, end exclusive); return those set aside."""
    import duckdb

    tables = candidates(bindings, models)
    if not tables or not database.exists():
        return []
    start, end = (quote_literal(d.isoformat()) for d in window)
    moved = []
    with duckdb.connect(str(database), config={"memory_limit": duckdb_memory_limit()}) as con:
        # every daily port of the domain, not only this step's: a table another step set
        # aside before a crash may be one this step's models read
        settle(con, candidates(bindings, bindings.ports))
        for table in tables:
            if not _exists(con, table.schema, table.table):
                continue  # a first build already builds it new
            day = quote_ident(table.column)
            outside = con.execute(  # stops at the first row outside (an everyday run's case)
                f"select 1 from {table.relation} where {day} is null "
                f"or {day} < {start}::date or {day} >= {end}::date limit 1"
            ).fetchone()
            if outside is None:
                con.execute(
                    f"alter table {table.relation} rename to "
                    f"{quote_ident(table.table + SET_ASIDE_SUFFIX)}"
                )
                moved.append(table)
    return moved


def settle_after_dbt(database: Path, tables: list[WholeTable]) -> None:
    """After dbt: drop each set-aside table dbt replaced, restore the others."""
    if not tables:
        return
    import duckdb

    with duckdb.connect(str(database), config={"memory_limit": duckdb_memory_limit()}) as con:
        settle(con, tables)
