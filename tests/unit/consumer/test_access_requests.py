"""Request → approve/deny → grant, on the real catalog with a throwaway copy of the policy files."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from mesh_platform.access.audit import read_entries
from mesh_platform.access.errors import AccessDenied, AccessError
from mesh_platform.access.grants import load_grants
from mesh_platform.access.service import AccessService
from mesh_platform.access.tokens import _digest, list_tokens
from mesh_platform.cli.app import app
from mesh_platform.core.environment import get_environment

from ...conftest import REPO


@pytest.fixture
def service(tmp_path, monkeypatch):
    access = tmp_path / "access"
    shutil.copytree(REPO / "governance" / "access", access)
    monkeypatch.setenv("MESH_ACCESS_DIR", str(access))
    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path / "data"))
    return AccessService(get_environment())


def _port(service, address):
    return service.catalog.port(address)


def test_request_approved_by_the_owner_becomes_a_grant_at_once(service):
    alice = service.user("alice")
    royalties = _port(service, "artists.artist_royalties")
    assert not service.policy.read(alice, royalties).allowed
    request = service.request("alice", "artists.artist_royalties", "Quarterly royalty report")
    assert request.status == "pending"
    assert [r.id for r in service.requests(status="pending", decidable_by="carla")] == [request.id]
    assert service.requests(status="pending", decidable_by="lena") == []
    decided = service.decide(request.id, "carla", approve=True, note="ok for Q3")
    assert (decided.status, decided.decided_by) == ("approved", "carla")
    decision = service.policy.read(alice, royalties)
    assert decision.allowed and not decision.personal_data
    grant = load_grants(service.env.access_dir)[-1]
    assert (grant.principal, grant.target, grant.granted_by, grant.request_id) == (
        "user:alice",
        "artists.artist_royalties",
        "carla",
        request.id,
    )
    actions = [(e.user, e.action) for e in read_entries(service.env.data_dir)]
    assert actions == [("alice", "request"), ("carla", "approve")]


def test_only_the_owner_team_or_a_steward_decides_and_a_refusal_is_audited(service):
    request = service.request("alice", "artists.artist_payments", "Reconcile payments with finance")
    with pytest.raises(AccessDenied, match=r"only its owner team \(artists-team\) or a steward"):
        service.decide(request.id, "lena", approve=True)
    assert [e.action for e in read_entries(service.env.data_dir)][-1] == "denied"
    assert service.requests(status="pending")[0].id == request.id  # untouched
    service.decide(request.id, "greta", approve=False, note="use artist_royalties instead")
    denied = service.requests(status="denied")[0]
    assert (denied.decided_by, denied.note) == ("greta", "use artist_royalties instead")
    assert not service.policy.read(
        service.user("alice"), _port(service, "artists.artist_payments")
    ).allowed


def test_personal_data_needs_a_grant_that_covers_it(service):
    bruno = service.user("bruno")
    profiles = _port(service, "listeners.listener_profiles")
    first = service.request("bruno", "listeners.listener_profiles", "Churn model features")
    service.decide(first.id, "lena", approve=True)
    assert service.policy.read(bruno, profiles).allowed
    assert not service.policy.read(bruno, profiles).personal_data
    second = service.request(
        "bruno", "listeners.listener_profiles", "Join on hashed email", pii=True
    )
    service.decide(second.id, "lena", approve=True)
    assert service.policy.read(bruno, profiles).personal_data
    owner = service.policy.read(service.user("lena"), profiles)
    assert owner.allowed and owner.personal_data


@pytest.mark.parametrize(
    ("user", "target", "reason", "pii", "message"),
    [
        (None, "artists.artist_royalties", "a good reason here", False, "who is asking"),
        (
            "mallory",
            "artists.artist_royalties",
            "a good reason here",
            False,
            "unknown user 'mallory'",
        ),
        ("alice", "artists.royalties", "a good reason here", False, "unknown data product or port"),
        ("alice", "artists.artist_royalties", "pls", False, "say why you need"),
        (
            "alice",
            "artists.artist_royalties",
            "a good reason here",
            True,
            "no personal-data columns",
        ),
        ("alice", "playback.daily_track_plays", "a good reason here", False, "can already read"),
        ("carla", "artists.artist_royalties", "a good reason here", False, "can already read"),
        # public: every user reads it without a grant (personal data, if any, stays masked)
        ("bruno", "recommendations.weekly_top_tracks", "a good reason here", False, "public"),
    ],
)
def test_bad_requests_are_refused_clearly_and_nothing_is_written(
    service, user, target, reason, pii, message
):
    with pytest.raises(AccessError, match=message):
        service.request(user, target, reason, pii=pii)
    assert service.requests() == []


def test_a_second_pending_request_and_a_second_decision_are_refused(service):
    request = service.request(
        "alice", "listeners.monthly_listener_summary", "Listener dashboard for marketing"
    )
    with pytest.raises(AccessError, match="already has a pending request"):
        service.request(
            "alice", "listeners.monthly_listener_summary", "Listener dashboard for marketing"
        )
    with pytest.raises(AccessError, match="say why the request is denied"):
        service.decide(request.id, "lena", approve=False)
    service.decide(request.id, "lena", approve=True)
    with pytest.raises(AccessError, match="already approved by lena"):
        service.decide(request.id, "lena", approve=False, note="changed my mind")
    with pytest.raises(AccessError, match="no access request 'req-nope'"):
        service.decide("req-nope", "lena", approve=True)


def test_concurrent_approvals_lose_no_grant(service):
    users = ["alice", "bruno", "pablo", "carla", "remi"]
    requests = [
        service.request(u, "listeners.monthly_listener_summary", f"Listener analysis by {u}")
        for u in users
    ]
    threads = [threading.Thread(target=service.decide, args=(r.id, "lena", True)) for r in requests]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    granted = {
        g.principal
        for g in load_grants(service.env.access_dir)
        if g.target == "listeners.monthly_listener_summary"
    }
    assert granted == {f"user:{u}" for u in users}
    assert {r.status for r in service.requests()} == {"approved"}


def test_tokens_identify_their_user_and_are_stored_only_hashed(service):
    token = service.issue_token("alice")
    assert service.authenticate(token).id == "alice"
    stored = (service.env.data_dir / "access" / "tokens.json").read_text()
    assert token not in stored
    for bad in (None, "", "mesh_wrong", token + "x"):
        with pytest.raises(AccessDenied, match="bearer token"):
            service.authenticate(bad)


def test_a_revoked_token_is_refused_at_once_and_the_revocation_audited(service):
    kept, revoked = service.issue_token("alice"), service.issue_token("alice")
    carla = service.issue_token("carla")
    (record,) = [
        r for r in list_tokens(service.env.data_dir, "alice") if _digest(revoked).startswith(r.id)
    ]
    assert [r.user for r in service.revoke_tokens(token_id=record.id)] == ["alice"]
    with pytest.raises(AccessDenied, match="bearer token"):
        service.authenticate(revoked)
    assert service.authenticate(kept).id == "alice"
    assert len(service.revoke_tokens(user_id="alice")) == 1  # the other one of alice
    with pytest.raises(AccessDenied):
        service.authenticate(kept)
    assert service.authenticate(carla).id == "carla"  # other users untouched
    with pytest.raises(AccessError, match="no tokens of alice to revoke"):
        service.revoke_tokens(user_id="alice")
    entries = [e for e in read_entries(service.env.data_dir) if e.action == "token_revoke"]
    assert [e.user for e in entries] == ["alice", "alice"]


def test_an_expired_token_is_refused(service):
    token = service.issue_token("alice", ttl_days=1)
    path = service.env.data_dir / "access" / "tokens.json"
    stored = json.loads(path.read_text())
    for entry in stored.values():
        entry["expires_at"] = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    path.write_text(json.dumps(stored))
    with pytest.raises(AccessDenied, match="bearer token"):
        service.authenticate(token)
    assert [r.expired(datetime.now(UTC)) for r in list_tokens(service.env.data_dir)] == [True]


def test_a_token_entry_without_a_time_zone_breaks_no_one(service):
    """A hand-edited (or older) tokens.json entry with naive or unreadable timestamps: naive
    ones are read as UTC, an unreadable expiry refuses that one token, and everybody else
    (issuing, listing, signing in) carries on."""
    alice = service.issue_token("alice")
    carla, lena, bruno = (service.issue_token(u) for u in ("carla", "lena", "bruno"))
    path = service.env.data_dir / "access" / "tokens.json"
    stored = json.loads(path.read_text())
    naive = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    stored[_digest(carla)].update(
        issued_at=naive.isoformat(), expires_at=(naive + timedelta(days=1)).isoformat()
    )
    stored[_digest(lena)]["expires_at"] = (naive - timedelta(days=1)).isoformat()
    stored[_digest(bruno)]["expires_at"] = "next tuesday"
    path.write_text(json.dumps(stored))

    assert service.authenticate(carla).id == "carla"  # naive = UTC, not expired
    for refused in (lena, bruno):  # expired; unreadable expiry: refused, no crash
        with pytest.raises(AccessDenied, match="bearer token"):
            service.authenticate(refused)
    assert service.authenticate(alice).id == "alice"
    again = service.issue_token("alice")  # `mesh access token` still works for everyone
    assert service.authenticate(again).id == "alice"
    states = {r.user: r.expired(datetime.now(UTC)) for r in list_tokens(service.env.data_dir)}
    assert states == {"alice": False, "carla": False, "bruno": True}  # lena's pruned at issue

    listing = CliRunner().invoke(app, ["access", "tokens"])
    assert listing.exit_code == 0, listing.output
    assert "bruno" in listing.output and "carla" in listing.output


def test_owner_revokes_a_grant_and_it_applies_at_once(service):
    request = service.request("alice", "artists.artist_royalties", "Quarterly royalty report")
    service.decide(request.id, "carla", approve=True)
    alice, port = service.user("alice"), _port(service, "artists.artist_royalties")
    assert service.policy.read(alice, port).allowed
    with pytest.raises(AccessDenied, match="cannot revoke"):
        service.revoke("user:alice", "artists.artist_royalties", "lena")
    assert service.revoke("user:alice", "artists.artist_royalties", "carla") == 1
    assert not service.policy.read(alice, port).allowed
    with pytest.raises(AccessError, match="holds no grant"):
        service.revoke("user:alice", "artists.artist_royalties", "carla")
    assert [e.action for e in read_entries(service.env.data_dir)][-2:] == ["denied", "revoke"]


def test_approving_a_request_changes_only_grants_yaml_in_the_repository(tmp_path, monkeypatch):
    """Issue 22: no lock file is left beside the policy files; they live in the data dir."""
    repo = tmp_path / "repo"
    shutil.copytree(REPO / "governance" / "access", repo / "governance" / "access")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@daff.example"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "policies"], check=True)
    monkeypatch.setenv("MESH_ACCESS_DIR", str(repo / "governance" / "access"))
    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path / "data"))
    service = AccessService(get_environment())
    request = service.request("alice", "artists.artist_royalties", "Quarterly royalty report")

    result = CliRunner().invoke(app, ["access", "approve", request.id, "--as", "carla"])

    assert result.exit_code == 0, result.output
    status = subprocess.run(
        [*git, "status", "--porcelain", "--untracked-files=all"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert status.splitlines() == [" M governance/access/grants.yaml"]
    assert list((tmp_path / "data" / "locks").glob("grants.yaml-*.lock"))
