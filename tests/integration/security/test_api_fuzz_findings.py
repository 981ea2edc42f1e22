"""What the API fuzz test (``test_api_fuzz.py``) found, one focused test each: the OpenAPI now
says what the API answers (400 not 422, every error status and its body, which routes need a
bearer token), an unknown access request is a 404, an access request's target and reason are
bounded as the portal's form bounds them. Last, the page forms (not in the OpenAPI, so not
fuzzed) refuse a signed-in post without the anti-forgery token and change nothing.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from mesh_platform.access.service import AccessService
from mesh_platform.portal.auth import COOKIE
from mesh_platform.portal.guard import MAX_BODY_BYTES

from .conftest import READABLE, UNREADABLE, FuzzPortal
from .test_api_fuzz import OPERATIONS, PROTECTED

FORM_TOKEN = re.compile(r'<input type="hidden" name="csrf" value="([^"]+)">')


@pytest.fixture
def client(fuzz_portal) -> TestClient:
    return TestClient(fuzz_portal.app)


@pytest.fixture
def spec(fuzz_portal) -> dict:
    return fuzz_portal.app.openapi()


def _bearer(portal: FuzzPortal, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {AccessService(portal.env).issue_token(user)}"}


def _declared(spec: dict, method: str, path: str) -> set[int]:
    return {int(code) for code in spec["paths"][path][method.lower()]["responses"]}


def test_invalid_input_is_declared_as_the_400_it_is_never_422(client, spec):
    answer = client.get("/api/v1/search", params={"q": "x", "limit": 0})
    assert answer.status_code == 400 and set(answer.json()) == {"detail"}
    assert "limit" in answer.json()["detail"]
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert schemas["Problem"]["required"] == ["detail"]
    for method, path in OPERATIONS:
        responses = spec["paths"][path][method.lower()]["responses"]
        assert "422" not in responses, (method, path)
        for code, response in responses.items():
            if int(code) >= 400:
                body = response["content"]["application/json"]["schema"]
                assert body == {"$ref": "#/components/schemas/Problem"}, (method, path, code)


def test_the_error_statuses_the_api_answers_are_declared(client, spec, fuzz_portal):
    alice = {"Authorization": f"Bearer {fuzz_portal.token}"}
    cases = [
        ("GET", "/api/v1/access/requests", {}, None, 401),
        (
            "GET",
            "/api/v1/products/playback/daily_track_plays",
            {"Authorization": "Bearer x"},
            None,
            401,
        ),
        ("GET", "/api/v1/products?domain=nope", {}, None, 404),
        ("GET", "/api/v1/ports/playback/nope", {}, None, 404),
        ("GET", "/api/v1/ports/playback/nope/data", alice, None, 404),
        ("POST", "/api/v1/query", alice, b"x" * (MAX_BODY_BYTES + 1), 413),
        ("POST", "/api/v1/access/requests", alice, b"x" * (MAX_BODY_BYTES + 1), 413),
    ]
    for method, url, headers, body, status in cases:
        answer = client.request(method, url, headers=headers, content=body)
        assert answer.status_code == status, (url, answer.text)
        path = next(
            p
            for m, p in OPERATIONS
            if m == method and re.fullmatch(re.sub(r"\{[a-z_]+\}", "[^/]+", p) + r"(\?.*)?", url)
        )
        assert status in _declared(spec, method, path), (method, path, status)


def test_the_spec_says_which_routes_need_a_bearer_token(spec):
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "a token from `mesh access token USER`",
    }
    detail = spec["paths"]["/api/v1/products/{domain}/{product}"]["get"]
    assert detail["security"] == [{"bearer": []}, {}]  # metadata for everyone, access with one
    assert "security" not in spec["paths"]["/api/v1/domains"]["get"]
    needs = {
        (m.upper(), p)
        for p, ops in spec["paths"].items()
        for m, op in ops.items()
        if op.get("security") == [{"bearer": []}]
    }
    assert needs == PROTECTED


def test_deciding_an_unknown_access_request_is_404(client, fuzz_portal):
    lena = _bearer(fuzz_portal, "lena")  # owner of the personal-data port: may decide
    for verb, body in (("approve", None), ("deny", {"note": "no such thing"})):
        answer = client.post(
            f"/api/v1/access/requests/req-0123abcd/{verb}", headers=lena, json=body
        )
        assert answer.status_code == 404, answer.text
        assert "no access request 'req-0123abcd'" in answer.json()["detail"]


def test_an_access_request_is_bounded_like_the_portal_form(client, fuzz_portal):
    alice = {"Authorization": f"Bearer {fuzz_portal.token}"}
    before = fuzz_portal.files()
    huge_reason = {"target": UNREADABLE, "reason": "r" * 2001}
    huge_target = {"target": "listeners." + "x" * 100_000, "reason": "for the churn model"}
    for body in (huge_reason, huge_target):
        answer = client.post("/api/v1/access/requests", headers=alice, json=body)
        assert answer.status_code == 400, answer.text
        assert len(answer.text) < 1000  # the refusal does not echo the input back
    assert fuzz_portal.files() == before  # nothing stored, nothing audited
    ok = client.post(
        "/api/v1/access/requests",
        headers=alice,
        json={"target": UNREADABLE, "reason": "r" * 2000},
    )
    assert ok.status_code == 201, ok.text
    assert (
        client.post(
            f"/api/v1/access/requests/{ok.json()['id']}/deny", headers=alice, json={"note": "n"}
        ).status_code
        == 403
    )


def test_the_format_of_port_data_is_declared_and_checked_by_the_route(client, spec, fuzz_portal):
    parameters = spec["paths"]["/api/v1/ports/{domain}/{port}/data"]["get"]["parameters"]
    fmt = next(p for p in parameters if p["name"] == "format")
    assert fmt["schema"]["enum"] == ["csv", "json", "parquet"]
    alice = {"Authorization": f"Bearer {fuzz_portal.token}"}
    domain, port = READABLE.split(".")
    answer = client.get(f"/api/v1/ports/{domain}/{port}/data?format=xlsx", headers=alice)
    assert answer.status_code == 400
    assert answer.json()["detail"] == "unknown format 'xlsx': use one of csv, json, parquet"


def test_a_signed_in_form_post_without_its_token_changes_nothing(client, fuzz_portal):
    """The page forms are not in the OpenAPI: a cookie alone (what a forged cross-site form
    carries) is refused on each of them, and no file of the mesh changes."""
    lena = AccessService(fuzz_portal.env).issue_token("lena")
    client.cookies.set(COOKIE, lena)
    page = client.get("/products/listeners/listener_profiles")
    assert FORM_TOKEN.search(page.text), "the signed-in page has its anti-forgery token"
    before = fuzz_portal.files()
    posts = [
        ("/products/listeners/listener_profiles/request", {"reason": "a forged request here"}),
        (f"/access/requests/{fuzz_portal.pending}/decide", {"decision": "approve"}),
        ("/signout", {}),
    ]
    for url, form in posts:
        for extra in ({}, {"csrf": "0" * 64}):
            answer = client.post(url, data={**form, **extra}, follow_redirects=False)
            assert answer.status_code == 403, (url, extra, answer.status_code)
        forged = client.post(url, data=form, headers={"Origin": "null"}, follow_redirects=False)
        assert forged.status_code == 403, (url, forged.status_code)
    assert fuzz_portal.files() == before
    client.cookies.clear()
    for url, form in posts[:2]:
        assert client.post(url, data=form, follow_redirects=False).status_code == 401
    assert fuzz_portal.files() == before
