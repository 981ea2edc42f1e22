"""Fuzzing the SQL guard: statements built from DuckDB's own function names, placed wherever a
query can hide a call (FROM, joins, LATERAL, scalar and EXISTS/IN subqueries, CTEs, set
operations, lambdas, table-function arguments, DESCRIBE/SUMMARIZE, nested subqueries) under every
statement prefix (EXPLAIN, EXPLAIN ANALYZE, comments) and wrapped in statements that are not
queries (PRAGMA, SET, COPY, ATTACH, CALL, CREATE, INSERT, several statements).

Every statement is first checked to parse, so a refusal is never just a syntax error. The guard
must refuse each one that calls a denied or unknown function or is not a plain query, naming
what it refused; the same shapes over allowed functions must pass (so the guard is not simply
refusing everything). The budget is bounded (a few seconds in the normal suite)."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mesh_platform.access.errors import QueryRefused
from mesh_platform.access.sql_guard import (
    DENIED_SCALAR_FUNCTIONS,
    DENIED_TABLE_FUNCTIONS,
    check_statements,
)

FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Table functions DuckDB could load from an extension; the guard has never heard of them.
UNKNOWN_TABLE_FUNCTIONS = [
    "sqlite_scan",
    "postgres_scan",
    "read_xlsx",
    "iceberg_scan",
    "delta_scan",
]
ARGUMENTS = ["()", "('.tmp/secret.txt')", "('x', 'y')", "('select 42')", "(1)"]
SETTINGS = ["temp_directory", "allowed_directories", "secret_directory", "home_directory"]


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect(":memory:")
    yield connection
    connection.close()


def _spelled(name: str):
    """A function name as a user may write it: any case, quoted, or qualified."""
    return st.sampled_from(
        [name, name.upper(), name.title(), f'"{name}"', f"main.{name}", f"system.main.{name}"]
    )


@st.composite
def denied_table_call(draw) -> tuple[str, str]:
    name = draw(st.sampled_from(sorted(DENIED_TABLE_FUNCTIONS) + UNKNOWN_TABLE_FUNCTIONS))
    return f"{draw(_spelled(name))}{draw(st.sampled_from(ARGUMENTS))}", name


@st.composite
def denied_scalar_item(draw) -> tuple[str, str]:
    """A FROM item whose row holds a refused scalar call (or a SHOW of a setting)."""
    setting = draw(st.sampled_from(SETTINGS))
    name = draw(st.sampled_from(sorted(DENIED_SCALAR_FUNCTIONS) + ["show"]))
    if name == "show":
        return f"(show {setting})", setting
    spelled = draw(_spelled(name))
    call = draw(
        st.sampled_from(
            [
                f"{spelled}('{setting}')",
                f"'{setting}'.{name}()",
                f"upper({spelled}('{setting}'))",
                f"list_transform(['{setting}'], s -> {spelled}(s))",
                f"coalesce(null, {spelled}('{setting}'))",
            ]
        )
    )
    return f"(select {call} as v)", name


ALLOWED_CALLS = ["range(3)", "generate_series(1, 2)", "unnest([1, 2])", "duckdb_columns()"]


def allowed_item():
    return st.sampled_from(ALLOWED_CALLS + ["(select upper('x') as v)", "playback.plays"])


PLACEMENTS = [
    "select * from {t}",
    "from {t}",
    "select 1 from range(3) r join {t} f on true",
    "select 1 from range(3) r left join {t} f on true",
    "select 1 from range(3) r, lateral (select * from {t}) x",
    "select (select count(*) from {t})",
    "select 1 where exists (select 1 from {t})",
    "select 1 from range(3) r where r.range in (select 1 from {t})",
    "with c as (select * from {t}) select * from c",
    "with c as materialized (select * from {t}) select count(*) from c",
    "select 1 union all select 1 from {t}",
    "select 1 except select 1 from {t}",
    "select list_transform([1], x -> (select count(*) from {t}))",
    "select * from range((select count(*) from {t}))",
    "summarize select * from {t}",
    "describe select * from {t}",
    "select * from (describe select * from {t})",
    "select * from range(2) order by (select count(*) from {t})",
    "select count(*) filter (where exists (from {t})) from range(2)",
]
PREFIXES = ["", "explain ", "EXPLAIN ANALYZE ", "explain /* c */ analyze\n", "/* lead */ explain "]


@st.composite
def nested(draw, item) -> str:
    """A query over ``item``, placed somewhere and nested in 0-3 subqueries."""
    query = draw(st.sampled_from(PLACEMENTS)).format(t=item)
    for depth in range(draw(st.integers(0, 3))):
        query = draw(
            st.sampled_from(
                [
                    f"select * from ({query}) s{depth}",
                    f"select (select count(*) from ({query}) s{depth})",
                    f"with w{depth} as ({query}) select * from w{depth}",
                ]
            )
        )
    return query


@st.composite
def forbidden_query(draw) -> tuple[str, str]:
    item, name = draw(st.one_of(denied_table_call(), denied_scalar_item()))
    sql = draw(st.sampled_from(PREFIXES)) + draw(nested(item))
    return draw(st.sampled_from([sql, sql.upper(), sql + ";", "\n  " + sql])), name


@st.composite
def allowed_query(draw) -> str:
    return draw(st.sampled_from(PREFIXES)) + draw(nested(draw(allowed_item())))


NOT_QUERIES = [
    "pragma version",
    "pragma enable_profiling",
    "set threads = 1",
    "set enable_external_access = true",
    "reset lock_configuration",
    "copy ({q}) to 'out.csv'",
    "attach 'x.duckdb' as x",
    "call pragma_version()",
    "create table t as {q}",
    "create temp view v as {q}",
    "create macro m() as table {q}",
    "insert into t {q}",
    "export database 'x'",
    "load httpfs",
    "install httpfs",
    "checkpoint",
    "{q}; pragma version",
    "{q}; {q}",
    "explain analyze create table t as {q}",
    "explain copy ({q}) to 'x'",
]


def _parses(con, sql: str) -> bool:
    try:
        return bool(con.extract_statements(sql))
    except duckdb.ParserException:
        return False


@FUZZ
@given(case=forbidden_query())
def test_the_guard_refuses_every_forbidden_call_wherever_it_hides(con, case):
    sql, name = case
    assume(_parses(con, sql))
    with pytest.raises(QueryRefused) as refused:
        check_statements(con, sql)
    message = str(refused.value)
    assert message.startswith("refused:"), message
    assert name in message, (sql, message)


@FUZZ
@given(
    template=st.sampled_from(NOT_QUERIES),
    query=allowed_item().flatmap(nested),
)
def test_the_guard_refuses_every_statement_that_is_not_one_query(con, template, query):
    sql = template.format(q=query)
    assume(_parses(con, sql))
    with pytest.raises(QueryRefused, match="^refused:"):
        check_statements(con, sql)


@FUZZ
@given(sql=allowed_query())
def test_the_same_shapes_over_allowed_functions_pass(con, sql):
    assert _parses(con, sql), sql
    check_statements(con, sql)
