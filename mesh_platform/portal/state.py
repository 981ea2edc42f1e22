"""What the portal keeps between requests: the catalog and its search index (rebuilt after a
short time, so published ports and changed descriptors show up), the access service, the
Dagster instance (opened once, on first use) and every product's health.

The catalog comes from the cache on disk shared with ``mesh catalog`` and other portal
processes (:mod:`mesh_platform.catalog.cache`), rebuilt from the files when any of them
changed. A refresh that finds nothing changed (the cache's fingerprint: a stat of each input)
keeps the catalog and its search index. The first catalog's index is built on the first
search, not on a product page's path; a refreshed catalog's in the background.

Only the first catalog is built on a request's path; later ones are built in a background
thread while requests keep the previous one (building reads every port's snapshot: at a
thousand products it takes seconds). ``warm`` does the first build, opens the instance and
reads the health at start-up, so the first visitor does not wait for it."""

from __future__ import annotations

import threading
import time
from typing import Any

from mesh_platform.access.service import AccessService
from mesh_platform.catalog.cache import fingerprint, load_keyed
from mesh_platform.catalog.catalog import Catalog
from mesh_platform.catalog.detail import access_summary, product_detail
from mesh_platform.catalog.entries import PortEntry
from mesh_platform.catalog.health import Health, check_keys, mesh_health
from mesh_platform.catalog.history import PortHistory, port_history
from mesh_platform.catalog.search import SearchIndex
from mesh_platform.core.environment import MeshEnvironment

CATALOG_TTL_SECONDS = 5.0


class Snapshot:
    """One consistent catalog, its search index (built on first use) and an access service
    built on it."""

    def __init__(
        self,
        catalog: Catalog,
        service: AccessService,
        built_at: float,
        key: str | None = None,
        index: SearchIndex | None = None,
    ) -> None:
        self.catalog = catalog
        self.service = service
        self.built_at = built_at
        self.key = key  # the catalog cache's fingerprint of what the catalog was read from
        self._index = index
        self._index_lock = threading.Lock()

    @property
    def index(self) -> SearchIndex:
        with self._index_lock:
            if self._index is None:
                self._index = SearchIndex(self.catalog)
            return self._index


class PortalState:
    def __init__(self, env: MeshEnvironment, ttl: float = CATALOG_TTL_SECONDS) -> None:
        self.env = env
        self.ttl = ttl
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._instance: Any = None
        self._instance_opened = False
        self._history_lock = threading.Lock()
        self._refreshing = False
        self._health: tuple[Snapshot, float, dict[str, Health]] | None = None
        self._histories: dict[str, PortHistory] = {}
        self._history_mark: tuple[Any, ...] | None = None

    def _build(self) -> Snapshot:
        catalog, key = load_keyed(self.env)
        return Snapshot(catalog, AccessService(self.env, catalog), time.monotonic(), key)

    def _rebuild(self, previous: Snapshot) -> Snapshot:
        """A new snapshot; the previous catalog and search index are kept while nothing they
        were read from changed (the users and grants are read again either way)."""
        if previous.key is not None and fingerprint(self.env) == previous.key:
            catalog = previous.catalog
            return Snapshot(
                catalog,
                AccessService(self.env, catalog),
                time.monotonic(),
                previous.key,
                previous._index,
            )
        snapshot = self._build()
        snapshot.index  # noqa: B018 - built here, in the background, not on a search's path
        return snapshot

    def _refresh(self, previous: Snapshot) -> None:
        try:
            snapshot = self._rebuild(previous)
            with self._lock:
                self._snapshot = snapshot
        finally:
            self._refreshing = False

    def current(self) -> Snapshot:
        """The catalog: built now the first time; once older than ``ttl`` seconds, rebuilt in
        the background while this one is still served."""
        with self._lock:
            snapshot = self._snapshot
            if snapshot is None:
                snapshot = self._snapshot = self._build()
            elif time.monotonic() - snapshot.built_at > self.ttl and not self._refreshing:
                self._refreshing = True
                threading.Thread(
                    target=self._refresh, args=(snapshot,), name="catalog-refresh", daemon=True
                ).start()
            return snapshot

    def warm(self) -> None:
        """Build the catalog, open the Dagster instance and read every product's health."""
        self.health()

    def health(self) -> dict[str, Health]:
        """Every product's health (freshness, last check outcome, compliance), read once per
        catalog and at most every ``ttl`` seconds: one query for every check's newest result."""
        snapshot = self.current()
        cached = self._health
        if cached and cached[0] is snapshot and time.monotonic() - cached[1] <= self.ttl:
            return cached[2]
        instance = self.instance()
        with self._history_lock:
            statuses = None
            if instance is not None:
                from mesh_platform.build.run_history import latest_check_statuses

                statuses = latest_check_statuses(instance, check_keys(snapshot.catalog))
            found = mesh_health(snapshot.catalog, statuses)
        self._health = (snapshot, time.monotonic(), found)
        return found

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
            if instance is not None:
                self._forget_histories_if_new_events(instance)
            return product_detail(
                snapshot.catalog,
                key,
                instance,
                snapshot.service.usage(),
                access,
                history=self._port_history,
            )

    def _forget_histories_if_new_events(self, instance: Any) -> None:
        """Histories are kept until Dagster records anything new (cheap queries; reading a
        port's history deserializes every execution of every check: a second per product)."""
        from mesh_platform.build.run_history import change_mark

        mark = change_mark(instance)
        if mark != self._history_mark:
            self._histories.clear()
            self._history_mark = mark

    def _port_history(self, instance: Any, port: PortEntry) -> PortHistory:
        found = self._histories.get(port.label)
        if found is None:
            found = self._histories[port.label] = port_history(instance, port)
        return found
