"""A fuzzing pass of the portal's HTTP API: schemathesis generates requests from the app's own
OpenAPI (``app.openapi()``) and sends them in-process (ASGI, no socket) as three callers:

- ``anonymous``: no credentials at all;
- ``cookie``: only the browser sign-in cookie of a real user (what a forged cross-site form or a
  page on another port of the host carries) — the API must treat it as anonymous;
- ``alice``: a real bearer token of the repository's analyst.

Every response must: never be a 5xx; conform to the spec (declared status code, content type,
headers and body schema); carry no row data unless it is a 2xx of a route that returns data to
a caller allowed to read it; and, for a caller without a bearer token, never be a 200 on a route
the spec says needs one. A state-changing call (any method but GET/HEAD/OPTIONS) without a
bearer token must change no file of the mesh (requests, grants, tokens, audit log).

The mesh (``conftest.py``) is two ports published with marker values (no dbt, no Dagster): row
data in a body is found by its marker. The budget is bounded and derandomized (see ``FUZZ``), so CI is stable.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from mesh_platform.portal.auth import COOKIE

from .conftest import MARKER, READABLE, FuzzPortal

OPERATIONS = [
    ("GET", "/api/v1/domains"),
    ("GET", "/api/v1/products"),
    ("GET", "/api/v1/search"),
    ("GET", "/api/v1/products/{domain}/{product}"),
    ("GET", "/api/v1/ports/{domain}/{port}"),
    ("GET", "/api/v1/ports/{domain}/{port}/data"),
    ("POST", "/api/v1/query"),
    ("GET", "/api/v1/access/requests"),
    ("POST", "/api/v1/access/requests"),
    ("POST", "/api/v1/access/requests/{request_id}/approve"),
    ("POST", "/api/v1/access/requests/{request_id}/deny"),
]
# Routes whose valid input is more than its schema can say (columns the port has, SQL that
# parses, an existing target or request, a reason of ten characters): a schema-valid request may be refused (400/404), so
# schemathesis' "schema-valid data is accepted" check does not apply; every other check does.
SEMANTIC = {
    "/api/v1/ports/{domain}/{port}/data",
    "/api/v1/query",
    "/api/v1/access/requests",
    "/api/v1/access/requests/{request_id}/approve",
    "/api/v1/access/requests/{request_id}/deny",
}
READ_ONLY = {"GET", "HEAD", "OPTIONS"}
# The routes that return rows (a 2xx of these may carry row data the caller may read).
DATA_ROUTES = {"/api/v1/ports/{domain}/{port}/data", "/api/v1/query"}
# What the spec must say needs a bearer token (checked against the spec, so neither drifts).
PROTECTED = {
    ("GET", "/api/v1/ports/{domain}/{port}/data"),
    ("POST", "/api/v1/query"),
    ("GET", "/api/v1/access/requests"),
    ("POST", "/api/v1/access/requests"),
    ("POST", "/api/v1/access/requests/{request_id}/approve"),
    ("POST", "/api/v1/access/requests/{request_id}/deny"),
}
# The budget: 10 cases per route and caller (about 300 requests, a few seconds), derandomized so
# every run sends the same ones; a single request past 10 s (a hang) fails even on a busy runner.
FUZZ = settings(
    max_examples=10,
    deadline=10_000,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def _credentials(caller: str, token: str) -> tuple[dict[str, str], dict[str, str]]:
    if caller == "alice":
        return {"Authorization": f"Bearer {token}"}, {}
    if caller == "cookie":
        return {}, {COOKIE: token}
    return {}, {}


def _check_security(case, response, caller: str) -> None:
    method, path = case.method.upper(), case.operation.path
    if caller != "alice" and (method, path) in PROTECTED:
        assert response.status_code != 200, f"{caller} got 200 from {method} {path}"
        assert response.status_code in {401, 413}, response.text
    body = response.content  # bytes: Parquet is not text
    leaked = [m for m in MARKER.values() if m.encode() in body]
    if not leaked:
        return
    allowed = (
        caller == "alice"
        and 200 <= response.status_code < 300
        and path in DATA_ROUTES
        and leaked == [MARKER[READABLE]]
    )
    assert allowed, f"row data {leaked} in a {response.status_code} to {caller}: {body[:500]!r}"


def _fuzz_one(case, caller: str, portal: FuzzPortal) -> None:
    headers, cookies = _credentials(caller, portal.token)
    changes = caller != "alice" and case.method.upper() not in READ_ONLY
    before = portal.files() if changes else None
    response = case.call(headers=headers, cookies=cookies)
    excluded = [positive_data_acceptance] if case.operation.path in SEMANTIC else []
    case.validate_response(response, headers=headers, excluded_checks=excluded)
    _check_security(case, response, caller)
    if changes:
        assert portal.files() == before, f"{caller} {case.method} {case.path} changed files"


# Expressions that fail on a text value, each quoting it in DuckDB's own message: an error body
# must never carry it. ``{}`` is a text column of a marked port.
FAILING = [
    "{}",
    "cast({} as integer)",
    "{}::date",
    "error({})",
    "strptime({}, '%Y')",
    "json_extract({}, '$.a')",
    "regexp_matches({}, '(')",
    "{}::struct(a int)",
    "printf('%d', {})",
]


def _query_bodies(portal: FuzzPortal):
    """SQL over the marked ports: a failing expression in the select list, a filter or an order."""
    return st.builds(
        lambda port, column, expr, shape, limit: {
            "sql": shape.format(expr=expr.format(column), port=port),
            "limit": limit,
        },
        port=st.sampled_from(sorted(MARKER)),
        column=st.sampled_from(sorted({c for cols in portal.varchar.values() for c in cols})),
        expr=st.sampled_from(FAILING),
        shape=st.sampled_from(
            [
                "select {expr} from {port}",
                "select count(*) from {port} where {expr} is not null",
                "select * from {port} order by {expr}",
            ]
        ),
        limit=st.integers(1, 5),
    )


def _strategy(operation, portal: FuzzPortal):
    """Valid and invalid requests (schemathesis' positive and negative modes) for one route, and
    the same with real names (the marked ports, bruno's pending request) so reads reach data."""
    params = {p.name for p in operation.path_parameters}
    modes = [GenerationMode.POSITIVE]
    if operation.path_parameters or operation.query or operation.body:
        modes.append(GenerationMode.NEGATIVE)
    branches = [operation.as_strategy(generation_mode=mode) for mode in modes]
    if params & {"port", "product"}:
        for address in MARKER:
            domain, name = address.split(".")
            real = {"domain": domain, "port": name, "product": name}
            fixed = {k: v for k, v in real.items() if k in params}
            branches.append(operation.as_strategy(path_parameters=fixed))
    if "request_id" in params:
        branches.append(operation.as_strategy(path_parameters={"request_id": portal.pending}))
    if operation.path == "/api/v1/query":
        branches.append(
            _query_bodies(portal).flatmap(lambda body: operation.as_strategy(body=body))
        )
    return st.one_of(*branches)


@pytest.mark.parametrize("caller", ["anonymous", "cookie", "alice"])
@pytest.mark.parametrize("method,path", OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_api_fuzz(method, path, caller, fuzz_portal):
    operation = fuzz_portal.schema[path][method]

    @FUZZ
    @given(case=_strategy(operation, fuzz_portal))
    def fuzz(case) -> None:
        _fuzz_one(case, caller, fuzz_portal)

    fuzz()


def test_every_route_of_the_spec_is_fuzzed(fuzz_portal):
    spec = fuzz_portal.app.openapi()
    routes = {(m.upper(), p) for p, operations in spec["paths"].items() for m in operations}
    assert routes == set(OPERATIONS)


def test_the_spec_declares_which_routes_need_a_token(fuzz_portal):
    spec = fuzz_portal.app.openapi()
    declared = {
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if operation.get("security") and {} not in operation["security"]
    }
    assert declared == PROTECTED
