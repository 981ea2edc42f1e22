"""Who may read what: the one decision every read interface asks before showing data.

- The owner team of a port (the port's owner, else the product's) reads it in full.
- A product classified ``public`` is readable by every known user without a grant; its
  personal-data columns stay hidden (NULL) unless a grant with ``pii: true`` covers them.
- Anyone else needs an active grant naming them (user, team or role) and the product or port;
  personal-data columns stay hidden (NULL) unless the grant says ``pii: true``.
- Without a grant, the product's metadata stays visible in the catalog; its data does not.
Every read is audited whichever rule allowed it.
"""

from __future__ import annotations

from dataclasses import dataclass

from mesh_platform.access.grants import Grant
from mesh_platform.access.identities import User
from mesh_platform.catalog.catalog import Catalog
from mesh_platform.catalog.entries import PortEntry

PUBLIC = "public"  # the classification every user may read without a grant


@dataclass(frozen=True)
class ReadDecision:
    allowed: bool
    personal_data: bool  # may see columns classified as personal data
    why: str

    @property
    def hidden_reason(self) -> str:
        return "" if self.personal_data else "personal data: needs a grant with pii"


class AccessPolicy:
    def __init__(self, catalog: Catalog, grants: list[Grant], users: list[User] = ()) -> None:
        self.catalog = catalog
        self.grants = [g for g in grants if g.active()]
        self.users = list(users)

    def is_owner(self, user: User, port: PortEntry) -> bool:
        return port.owner_team is not None and port.owner_team in user.member_of

    def is_public(self, port: PortEntry) -> bool:
        return self.catalog.product_of_port(port.address).classification == PUBLIC

    def approvers(self, target: str) -> tuple[list[str], list[str]]:
        """Who may decide requests for ``target``: (members of its owner teams, stewards)."""
        _, ports = self.catalog.resolve_target(target)
        teams = {p.owner_team for p in ports if p.owner_team}
        owners = [u.id for u in self.users if teams and all(t in u.member_of for t in teams)]
        return sorted(owners), sorted(u.id for u in self.users if u.is_steward)

    def can_decide(self, user: User, target: str) -> bool:
        """Owners of every port of the target (or a steward) approve or deny requests for it."""
        if user.is_steward:
            return True
        _, ports = self.catalog.resolve_target(target)
        return all(self.is_owner(user, p) for p in ports)

    def _grants_for(self, user: User, port: PortEntry) -> list[Grant]:
        principals = user.principals()
        product = self.catalog.product_of_port(port.address)
        return [
            g
            for g in self.grants
            if g.principal in principals and g.target in (product.key, port.address)
        ]

    def read(self, user: User, port: PortEntry) -> ReadDecision:
        if self.is_owner(user, port):
            return ReadDecision(True, True, f"member of the owner team {port.owner_team}")
        grants = self._grants_for(user, port)
        if not grants:
            if self.is_public(port):
                return ReadDecision(
                    True, False, "public product: readable by every user without a grant"
                )
            return ReadDecision(False, False, f"no grant for {user.id} on {port.address}")
        pii = any(g.pii for g in grants)
        via = ", ".join(sorted({f"{g.principal} → {g.target}" for g in grants}))
        return ReadDecision(True, pii, f"granted ({via})")

    def readable_ports(self, user: User) -> dict[str, tuple[PortEntry, ReadDecision]]:
        """Every port version the user may read, by ``address vN``."""
        found = {}
        for port in self.catalog.all_ports():
            decision = self.read(user, port)
            if decision.allowed:
                found[port.label] = (port, decision)
        return found
