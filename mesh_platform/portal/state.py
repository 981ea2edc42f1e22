"""What the portal keeps between requests: the catalog and its search index (rebuilt after a
short time, so published ports and changed descriptors show up), the access service, and the
Dagster instance (opened once, on first use)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from mesh_platform.access.service import AccessService
from mesh_platform.catalog.build import build_catalog
from mesh_platform.catalog.catalog import Catalog
from mesh_platform.catalog.detail import access_summary, product_detail
from mesh_platform.catalog.search import SearchIndex
from mesh_platform.core.environment import MeshEnvironment

CATALOG_TTL_SECONDS = 5.0


@dataclass(frozen=True)
class Snapshot:
    """One consistent catalog, its search index and an access service built on it."""

    catalog: Catalog
    index: SearchIndex
    service: AccessService
    built_at: float


class PortalState:
    def __init__(self, env: MeshEnvironment, ttl: float = CATALOG_TTL_SECONDS) -> None:
        self.env = env
        self.ttl = ttl
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._instance: Any = None
        self._instance_opened = False
        self._history_lock = threading.Lock()

    def current(self) -> Snapshot:
        """The catalog of at most ``ttl`` seconds ago (a build takes a fraction of a second)."""
        with self._lock:
            snapshot = self._snapshot
            if snapshot is None or time.monotonic() - snapshot.built_at > self.ttl:
                catalog = build_catalog(self.env)
                snapshot = Snapshot(
                    catalog=catalog,
                    index=SearchIndex(catalog),
                    service=AccessService(self.env, catalog),
                    built_at=time.monotonic(),
                )
                self._snapshot = snapshot
            return snapshot

    def instance(self) -> Any:
        """The Dagster instance holding run and check history, or None before any run."""
        with self._history_lock:
            if not self._instance_opened:
                from mesh_platform.build.run_history import open_instance

                self._instance = open_instance()
                self._instance_opened = True
            return self._instance

    def detail(self, key: str, user_id: str | None) -> dict[str, Any]:
        """The product's one detail structure, with the viewing user's access when signed in."""
        snapshot = self.current()
        snapshot.catalog.product(key)  # an unknown product fails before any history read
        instance = self.instance()
        access = access_summary(snapshot.service, user_id, key)
        with self._history_lock:  # one reader of the Dagster storage at a time
            return product_detail(snapshot.catalog, key, instance, snapshot.service.usage(), access)
