"""A port's address, ``<domain>.<port>``, parsed and formatted in one place.

Addresses travel as text (descriptors, dbt ``meta.mesh_port``, the catalog, URLs, SQL view
names); everywhere the platform needs the parts it parses them here, so a malformed address
fails with one clear message instead of an unpacking error somewhere deep.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NAME = r"[a-z][a-z0-9_]*"
_ADDRESS = re.compile(rf"^({NAME})\.({NAME})$")


@dataclass(frozen=True, order=True)
class PortAddress:
    domain: str
    port: str

    @classmethod
    def parse(cls, text: str) -> PortAddress:
        found = _ADDRESS.match(text.strip()) if isinstance(text, str) else None
        if not found:
            raise ValueError(
                f"{text!r} is not a port address: write <domain>.<port> in lowercase "
                "letters, digits and underscores, e.g. sales.orders"
            )
        return cls(found[1], found[2])

    def __str__(self) -> str:
        return f"{self.domain}.{self.port}"

    def versioned(self, major: int) -> str:
        """The address with its major version, as users read it: ``sales.orders v2``."""
        return f"{self} v{major}"
