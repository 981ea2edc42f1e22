"""The consumer plane's access service: one object the CLI, the portal and Python share.

It reads the catalog, users and grants, decides requests, issues tokens and opens guarded
connections. Grants are re-read on every decision, so an approval takes effect at once for every
process.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from mesh_platform.access import audit as audit_log
from mesh_platform.access import requests as request_store
from mesh_platform.access import tokens
from mesh_platform.access.errors import AccessDenied, AccessError, UnknownRequest
from mesh_platform.access.grants import Grant, add_grant, load_grants, now_iso, remove_grants
from mesh_platform.access.identities import User, load_users, resolve_user
from mesh_platform.access.policy import AccessPolicy
from mesh_platform.access.query import MeshConnection
from mesh_platform.access.requests import AccessRequest
from mesh_platform.catalog.cache import load_catalog
from mesh_platform.catalog.catalog import Catalog, CatalogError
from mesh_platform.core.environment import MeshEnvironment, get_environment


class AccessService:
    def __init__(self, env: MeshEnvironment | None = None, catalog: Catalog | None = None) -> None:
        self.env = env or get_environment()
        self.catalog = catalog or load_catalog(self.env)
        self.users = load_users(self.env.access_dir)

    @property
    def policy(self) -> AccessPolicy:
        return AccessPolicy(
            self.catalog, load_grants(self.env.access_dir), list(self.users.values())
        )

    def user(self, user_id: str | None) -> User:
        return resolve_user(user_id, self.users)

    def audit(self, entry: audit_log.AuditEntry) -> None:
        audit_log.record(self.env.data_dir, entry)

    def connect(
        self,
        user_id: str | None,
        channel: str = "python",
        as_of: datetime | None = None,
        snapshots: Mapping[str, str] | None = None,
    ) -> MeshConnection:
        """The user's view of the ports: current snapshots, or as of a moment, or pinned
        snapshot ids per address (see :class:`MeshConnection`)."""
        return MeshConnection(self, self.user(user_id), channel, as_of=as_of, snapshots=snapshots)

    # --- requests ---------------------------------------------------------------------

    def _target(self, target: str):
        try:
            return self.catalog.resolve_target(target)
        except CatalogError as exc:
            raise AccessError(str(exc)) from None

    def request(
        self, user_id: str | None, target: str, reason: str, pii: bool = False, channel: str = "cli"
    ) -> AccessRequest:
        user = self.user(user_id)
        product, ports = self._target(target)
        reason = " ".join((reason or "").split())
        if len(reason) < request_store.MIN_REASON:
            raise AccessError(
                f"say why you need {target} (--reason, at least {request_store.MIN_REASON} "
                "characters): the owner decides on it"
            )
        if pii and not any(p.personal_columns for p in ports):
            raise AccessError(f"{target} has no personal-data columns; request it without --pii")
        policy = self.policy
        decisions = [policy.read(user, p) for p in ports]
        if all(d.allowed and (d.personal_data or not pii) for d in decisions):
            raise AccessError(f"{user.id} can already read {target} ({decisions[0].why})")

        def add(requests: list[AccessRequest]):
            for existing in requests:
                if (
                    existing.user == user.id
                    and existing.target == target
                    and existing.status == "pending"
                ):
                    raise AccessError(
                        f"{user.id} already has a pending request {existing.id} for {target}"
                    )
            request = AccessRequest(
                id=request_store.new_request_id(),
                user=user.id,
                target=target,
                pii=pii,
                reason=reason,
                requested_at=now_iso(),
            )
            return [*requests, request], request

        request = request_store.update_requests(self.env.data_dir, add)
        self.audit(
            audit_log.AuditEntry(
                user=user.id,
                action="request",
                channel=channel,
                ports=tuple(p.label for p in ports),
                detail=f"{request.id}: {reason}",
            )
        )
        return request

    def requests(
        self, status: str | None = None, decidable_by: str | None = None
    ) -> list[AccessRequest]:
        found = request_store.load_requests(self.env.data_dir)
        if status:
            found = [r for r in found if r.status == status]
        if decidable_by:
            user, policy = self.user(decidable_by), self.policy
            found = [r for r in found if policy.can_decide(user, r.target)]
        return found

    def decide(
        self,
        request_id: str,
        approver_id: str | None,
        approve: bool,
        note: str = "",
        channel: str = "cli",
    ) -> AccessRequest:
        approver = self.user(approver_id)
        note = " ".join((note or "").split())
        if not approve and not note:
            raise AccessError("say why the request is denied (--note): the requester sees it")
        policy = self.policy

        def decide(requests: list[AccessRequest]):
            matches = [r for r in requests if r.id == request_id]
            if not matches:
                raise UnknownRequest(
                    f"no access request {request_id!r}; `mesh access requests` lists them"
                )
            request = matches[0]
            if request.status != "pending":
                raise AccessError(
                    f"request {request_id} was already {request.status} by {request.decided_by}"
                )
            if not policy.can_decide(approver, request.target):
                _, ports = self._target(request.target)
                owners = ", ".join(sorted({p.owner_team or "(no owner)" for p in ports}))
                raise AccessDenied(
                    f"{approver.id} cannot decide on {request.target}: only its owner team "
                    f"({owners}) or a steward can"
                )
            decided = replace(
                request,
                status="approved" if approve else "denied",
                decided_by=approver.id,
                decided_at=now_iso(),
                note=note,
            )
            if approve:
                add_grant(
                    self.env.access_dir,
                    Grant(
                        principal=f"user:{request.user}",
                        target=request.target,
                        pii=request.pii,
                        reason=request.reason,
                        granted_by=approver.id,
                        granted_at=decided.decided_at,
                        request_id=request.id,
                    ),
                )
            return [decided if r.id == request_id else r for r in requests], decided

        try:
            decided = request_store.update_requests(self.env.data_dir, decide)
        except AccessDenied as exc:
            self.audit(
                audit_log.AuditEntry(
                    user=approver.id, action="denied", channel=channel, detail=str(exc)
                )
            )
            raise
        self.audit(
            audit_log.AuditEntry(
                user=approver.id,
                action="approve" if approve else "deny",
                channel=channel,
                detail=f"{decided.id} by {decided.user} for {decided.target}: {note}",
            )
        )
        return decided

    def revoke(
        self, principal: str, target: str, revoker_id: str | None, channel: str = "cli"
    ) -> int:
        """Remove the grants of ``principal`` (user:/team:/role:) on ``target``; owners only."""
        revoker = self.user(revoker_id)
        self._target(target)
        if not self.policy.can_decide(revoker, target):
            self.audit(
                audit_log.AuditEntry(
                    user=revoker.id,
                    action="denied",
                    channel=channel,
                    detail=f"revoke {principal} on {target}",
                )
            )
            raise AccessDenied(
                f"{revoker.id} cannot revoke access to {target}: only its owner team or a steward can"
            )
        removed = remove_grants(self.env.access_dir, principal, target)
        if not removed:
            raise AccessError(
                f"{principal} holds no grant on {target}; `mesh access grants` lists them"
            )
        self.audit(
            audit_log.AuditEntry(
                user=revoker.id, action="revoke", channel=channel, detail=f"{principal} on {target}"
            )
        )
        return len(removed)

    def pending_to_decide(self, user_id: str | None) -> list[AccessRequest]:
        """The pending requests ``user_id`` may decide (none for an unknown or absent user)."""
        if not user_id or user_id not in self.users:
            return []
        return self.requests("pending", decidable_by=user_id)

    def approvers(self, target: str) -> dict[str, list[str]]:
        """Who decides requests for ``target``: its owner teams' members and the stewards."""
        product, ports = self._target(target)
        owners, stewards = self.policy.approvers(target)
        teams = sorted({p.owner_team for p in ports if p.owner_team})
        return {"teams": teams, "owners": owners, "stewards": stewards}

    def team(self, team: str) -> dict:
        """A team: its members, the products it owns, who approves requests for them, and the
        pending requests for them."""
        known = sorted(
            {t for u in self.users.values() for t in u.member_of}
            | {p.owner_team for p in self.catalog.products.values() if p.owner_team}
        )
        if team not in known:
            raise AccessError(
                f"unknown team {team!r}: known teams are {', '.join(known)} "
                "(teams are set in governance/access/users.yaml and in each product's owner)"
            )
        members = [u for u in self.users.values() if team in u.member_of]
        owned = sorted(k for k, p in self.catalog.products.items() if p.owner_team == team)
        stewards = sorted(u.id for u in self.users.values() if u.is_steward)
        targets = set(owned) | {
            port.address for key in owned for port in self.catalog.products[key].ports
        }
        return {
            "team": team,
            "members": [
                {"id": u.id, "name": u.name, "email": u.email, "roles": list(u.roles)}
                for u in sorted(members, key=lambda u: u.id)
            ],
            "products": owned,
            "approvers": sorted({u.id for u in members} | set(stewards)) if owned else stewards,
            "stewards": stewards,
            "pending": [r for r in self.requests("pending") if r.target in targets],
        }

    # --- tokens -----------------------------------------------------------------------

    def issue_token(self, user_id: str, ttl_days: int = tokens.DEFAULT_TTL_DAYS) -> str:
        user = self.user(user_id)
        token, record = tokens.issue_token(self.env.data_dir, user.id, ttl_days)
        self.audit(
            audit_log.AuditEntry(
                user=user.id,
                action="token",
                channel="cli",
                detail=f"token {record.id} expires {record.expires_at}",
            )
        )
        return token

    def revoke_tokens(
        self, *, token_id: str | None = None, user_id: str | None = None
    ) -> list[tokens.TokenRecord]:
        """Revoke one token by id, or every token of a user; audited per token."""
        if user_id is not None:
            user_id = self.user(user_id).id
        removed = tokens.revoke_tokens(self.env.data_dir, token_id=token_id, user_id=user_id)
        if not removed:
            what = f"token {token_id}" if token_id else f"tokens of {user_id}"
            raise AccessError(f"no {what} to revoke: `mesh access tokens` lists them")
        for record in removed:
            self.audit(
                audit_log.AuditEntry(
                    user=record.user,
                    action="token_revoke",
                    channel="cli",
                    detail=f"token {record.id}",
                )
            )
        return removed

    def authenticate(self, token: str | None) -> User:
        user_id = tokens.user_for_token(self.env.data_dir, token) if token else None
        if user_id is None or user_id not in self.users:
            raise AccessDenied(
                "a valid bearer token is required: `mesh access token USER` issues one"
            )
        return self.users[user_id]

    def usage(self) -> dict[str, audit_log.PortUsage]:
        port_product = {
            p.address: self.catalog.product_of_port(p.address).key for p in self.catalog.all_ports()
        }
        return audit_log.usage_by_product(audit_log.read_entries(self.env.data_dir), port_product)
