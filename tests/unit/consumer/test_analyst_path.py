"""The analyst's path from keyword to first result (issue 25, item 7): public products without
a grant, the exact request command, who approves, pending counts, decisions that say who decided
what and when, masked values as a marker, and product caveats — on the real catalog with a
throwaway copy of the policy files (no built mesh needed)."""

from __future__ import annotations

import importlib
import shutil
from dataclasses import replace
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from mesh_platform.access.errors import AccessError
from mesh_platform.access.service import AccessService
from mesh_platform.cli.app import app
from mesh_platform.cli.query import HIDDEN, readable_table
from mesh_platform.core.descriptor import DescriptorError, load_descriptor
from mesh_platform.core.environment import get_environment

from ...conftest import REPO

CHARTS = "recommendations.weekly_top_tracks"
ROYALTIES = "artists.artist_royalties"


@pytest.fixture
def service(tmp_path, monkeypatch):
    access = tmp_path / "access"
    shutil.copytree(REPO / "governance" / "access", access)
    monkeypatch.setenv("MESH_ACCESS_DIR", str(access))
    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("MESH_USER", raising=False)
    return AccessService(get_environment())


def _cli(*args: str):
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


# --- public products -------------------------------------------------------------------


def test_a_public_product_is_readable_by_every_user_without_a_grant(service):
    policy = service.policy
    charts = service.catalog.port(CHARTS)
    for user in ("alice", "bruno", "carla", "greta"):
        decision = policy.read(service.user(user), charts)
        assert decision.allowed, user
        assert not decision.personal_data
        assert "public product" in decision.why
    # anything not public still needs a grant
    assert not policy.read(service.user("alice"), service.catalog.port(ROYALTIES)).allowed
    assert CHARTS.split(".")[0] + ".weekly_top_tracks v1" in policy.readable_ports(
        service.user("bruno")
    )


def test_personal_data_of_a_public_product_stays_masked_without_a_pii_grant(service):
    key = "listeners.listener_profiles"
    service.catalog.products[key] = replace(service.catalog.products[key], classification="public")
    profiles = service.catalog.port(key)
    decision = service.policy.read(service.user("bruno"), profiles)
    assert decision.allowed and not decision.personal_data  # readable, email/birth year hidden
    # a grant with pii is still what reveals personal data, and it is requested as before
    request = service.request("bruno", key, "Join churn features on hashed email", pii=True)
    service.decide(request.id, "lena", approve=True)
    assert service.policy.read(service.user("bruno"), profiles).personal_data


def test_whoami_lists_public_products_as_readable_without_a_grant(service):
    code, out = _cli("access", "whoami", "--as", "bruno")
    assert code == 0, out
    assert "can read recommendations.weekly_top_tracks v1" in out
    assert "public product: readable by every user without a grant" in out


# --- who approves, teams ----------------------------------------------------------------


def test_approvers_of_a_product_are_its_owner_team_and_the_stewards(service):
    assert service.approvers(ROYALTIES) == {
        "teams": ["artists-team"],
        "owners": ["carla"],
        "stewards": ["greta"],
    }


def test_mesh_access_team_lists_members_products_approvers_and_pending(service):
    service.request("alice", ROYALTIES, "Quarterly royalty report")
    code, out = _cli("access", "team", "artists-team")
    assert code == 0, out
    assert "carla" in out and "carla@daff.example" in out
    assert "owns: artists.artist_payments, artists.artist_profiles" in out
    assert "approves access requests for them: carla, greta" in out
    assert "1 pending access request(s) for its products: req-" in out
    assert f"(alice → {ROYALTIES})" in out


def test_an_unknown_team_is_refused_naming_the_known_ones(service):
    with pytest.raises(
        AccessError, match=r"unknown team 'artist-team': known teams are .*artists-team"
    ):
        service.team("artist-team")
    result = CliRunner().invoke(app, ["access", "team", "artist-team"])
    assert isinstance(result.exception, AccessError)  # `mesh` prints it and exits with 2


# --- catalog show: the exact request command, pending state, owners' count ------------------


def test_catalog_show_prints_the_exact_request_command_then_the_pending_request(service):
    code, out = _cli("catalog", "show", ROYALTIES, "--as", "alice")
    assert code == 0, out
    assert "no access" in out
    assert (
        f'request access: mesh access request {ROYALTIES} --reason "WHY YOU NEED IT" --as alice'
        in out
    )
    assert "who approves access: carla (artists-team) or a steward (greta)" in out

    request = service.request("alice", ROYALTIES, "Quarterly royalty report")
    code, out = _cli("catalog", "show", ROYALTIES, "--as", "alice")
    assert f"your request {request.id} (alice → {ROYALTIES}) pending since" in out
    assert "request access: mesh access request" not in out  # no second request suggested


def test_catalog_show_of_hidden_personal_data_prints_the_pii_request_command(service):
    request = service.request("bruno", "listeners.listener_profiles", "Churn model features")
    service.decide(request.id, "lena", approve=True)
    code, out = _cli("catalog", "show", "listeners.listener_profiles", "--as", "bruno")
    assert code == 0, out
    assert "personal data hidden: email_sha256, birth_year" in out
    assert (
        "request the personal-data columns: mesh access request listeners.listener_profiles "
        '--pii --reason "WHY YOU NEED IT" --as bruno'
    ) in out


def test_owners_are_told_how_many_requests_wait_for_them(service):
    service.request("alice", ROYALTIES, "Quarterly royalty report")
    service.request("bruno", "artists.artist_payments", "Reconcile payments with finance")
    waiting = (
        "2 access request(s) wait for your decision: mesh access requests --to-decide --as carla"
    )
    for args in (
        ("catalog", "show", ROYALTIES, "--as", "carla"),
        ("access", "whoami", "--as", "carla"),
        ("access", "requests", "--as", "carla"),
    ):
        code, out = _cli(*args)
        assert code == 0, out
        assert waiting in out, args
    code, out = _cli("catalog", "show", ROYALTIES, "--as", "alice")
    assert "wait for your decision" not in out  # not an owner


def test_searching_as_an_owner_shows_the_pending_count(service, monkeypatch):
    service.request("alice", ROYALTIES, "Quarterly royalty report")
    monkeypatch.setenv("MESH_USER", "greta")  # a steward decides everything
    code, out = _cli("catalog", "search", "royalties")
    assert code == 0, out
    assert "1 access request(s) wait for your decision" in out


# --- decisions say who decided what and when -----------------------------------------------


def test_a_decision_says_who_decided_what_and_when(service):
    request = service.request("alice", ROYALTIES, "Quarterly royalty report")
    code, out = _cli("access", "approve", request.id, "--as", "carla", "--note", "ok for Q3")
    assert code == 0, out
    decided = service.requests(status="approved")[0]
    assert (
        f"carla approved request {request.id} (alice → {ROYALTIES}) at {decided.decided_at}: "
        "“ok for Q3”"
    ) in out
    assert f"alice may now read {ROYALTIES}" in out
    denied = service.request("bruno", "artists.artist_payments", "Reconcile payments")
    code, out = _cli("access", "deny", denied.id, "--as", "greta", "--note", "use royalties")
    assert code == 0, out
    assert f"greta denied request {denied.id} (bruno → artists.artist_payments) at 20" in out


def test_a_request_names_who_decides_it(service):
    code, out = _cli(
        "access", "request", ROYALTIES, "--reason", "Quarterly royalty report", "--as", "alice"
    )
    assert code == 0, out
    assert f"→ {ROYALTIES}, pending since 20" in out
    assert "who decides: carla (artists-team) or a steward (greta)" in out


# --- masked values ------------------------------------------------------------------------


def test_masked_values_print_as_a_marker_and_missing_values_as_null():
    frame = pd.DataFrame({"listener_id": [1, 2], "plays": [3, None], "email_sha256": [None, None]})
    shown = readable_table(frame, ["email_sha256"]).to_string(index=False)
    assert "NaN" not in shown and "None" not in shown and "<NA>" not in shown
    lines = shown.splitlines()
    assert lines[1].split() == ["1", "3", HIDDEN]
    assert lines[2].split() == ["2", "NULL", HIDDEN]


# --- caveats ------------------------------------------------------------------------------


def test_the_weekly_charts_declare_that_they_must_not_be_re_aggregated(service):
    caveats = service.catalog.product(CHARTS).caveats
    assert len(caveats) == 1 and "do not re-aggregate across countries" in caveats[0]
    code, out = _cli("catalog", "show", CHARTS)
    assert code == 0, out
    assert "caveat: Keeps only the top 50 tracks per country and week" in " ".join(out.split())


def _descriptor(tmp_path: Path, caveats) -> Path:
    raw = yaml.safe_load(
        (REPO / "domains/recommendations/products/weekly_top_tracks.yaml").read_text()
    )
    raw["caveats"] = caveats
    path = tmp_path / "weekly_top_tracks.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize(
    ("caveats", "message"),
    [
        (["careful"], r"field `caveats`: .*caveat 1 \('careful'\) is too short"),
        (["x" * 301], r"caveat 1 is 301 characters long: keep each under 300"),
        ("do not sum across countries", r"field `caveats`: Input should be a valid list"),
        (["Do not sum across countries."] * 2, r"caveats must not repeat"),
    ],
)
def test_bad_caveats_are_refused_naming_the_file_and_field(tmp_path, caveats, message):
    path = _descriptor(tmp_path, caveats)
    with pytest.raises(DescriptorError, match=message) as info:
        load_descriptor(path)
    assert str(path) in str(info.value)


def test_caveats_reach_the_dagster_asset_description_and_metadata():
    defs = importlib.import_module("domains.recommendations.definitions").defs
    node = defs.resolve_asset_graph().get(dg.AssetKey(["recommendations", "weekly_top_tracks"]))
    assert "do not re-aggregate across countries" in node.metadata["mesh/caveats"]
    assert "Caveat: Keeps only the top 50 tracks per country and week" in node.description
