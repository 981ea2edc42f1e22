"""The catalog cache on disk (issue 25, item 8: a cold product page under 2 s at 1,000
products): a fresh portal process reads the catalog another process built, an edited descriptor
is shown by the next process (the cache is rebuilt, never served stale), and a corrupt cache
file is rebuilt without an error."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess  # nosec B404 - runs this repo's own interpreter on a fixed script
import sys
import threading
from pathlib import Path

import pytest
import yaml

from mesh_platform.catalog import build_catalog, cache
from mesh_platform.core.environment import get_environment
from mesh_platform.portal.state import PortalState

from ..conftest import REPO

PRODUCT = "artists/artist_royalties"
# A fresh portal process: its first product page, and how often it built the catalog from the
# files (0: it was read from the cache another process wrote).
FIRST_PAGE = """
import json, sys
from fastapi.testclient import TestClient
from mesh_platform.catalog import cache
from mesh_platform.portal import create_app
builds = []
real = cache.build_catalog
cache.build_catalog = lambda env=None: builds.append(1) or real(env)
page = TestClient(create_app()).get("/products/" + sys.argv[1])
print(json.dumps({"status": page.status_code, "text": page.text, "builds": len(builds)}))
"""


@pytest.fixture
def mesh_copy(tmp_path, monkeypatch) -> dict[str, str]:
    """A copy of the mesh's sources (copied with their times: none was changed just now)."""
    root = tmp_path / "repo"
    ignore = shutil.ignore_patterns("logs", "target", "dbt_packages", "__pycache__")
    for part in ("domains", "dbt_project", "governance"):
        shutil.copytree(REPO / part, root / part, ignore=ignore)
    shutil.copy2(REPO / "pyproject.toml", root / "pyproject.toml")
    monkeypatch.setenv("MESH_REPO_ROOT", str(root))
    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path / "data"))
    return {**os.environ}


def first_page(env: dict[str, str]) -> dict:
    done = subprocess.run(  # nosec B603 - fixed argv: this interpreter and a literal script
        [sys.executable, "-c", FIRST_PAGE, PRODUCT],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout.splitlines()[-1])
    assert answer["status"] == 200, answer["text"][:500]
    return answer


def test_a_fresh_process_reads_the_cache_and_an_edited_descriptor_rebuilds_it(mesh_copy):
    env = get_environment()
    path = cache.cache_path(env)

    first = first_page(mesh_copy)
    assert first["builds"] == 1 and path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # owner-only, like the rest of the data
    second = first_page(mesh_copy)
    assert second["builds"] == 0  # another process's catalog, read from the cache
    assert second["text"] == first["text"]

    descriptor = env.domains_dir / "artists" / "products" / "artist_royalties.yaml"
    raw = yaml.safe_load(descriptor.read_text())
    raw["description"] = "Edited after caching. " + raw["description"]
    descriptor.write_text(yaml.safe_dump(raw, sort_keys=False))
    edited = first_page(mesh_copy)
    assert edited["builds"] == 1  # the descriptor changed: built from the files again
    assert "Edited after caching." in edited["text"]


def refreshed(state: PortalState):
    """The portal's snapshot after one background refresh (its ttl is 0: always due)."""
    state.current()
    for thread in threading.enumerate():
        if thread.name == "catalog-refresh":
            thread.join()
    return state._snapshot


def test_the_portal_keeps_its_catalog_and_index_until_an_input_changes(mesh_copy):
    env = get_environment()
    state = PortalState(env, ttl=0)
    first = state.current()
    index = first.index
    kept = refreshed(state)
    assert kept is not first  # users and grants are read again...
    assert kept.catalog is first.catalog and kept.index is index  # ...the catalog is not
    descriptor = env.domains_dir / "artists" / "products" / "artist_royalties.yaml"
    raw = yaml.safe_load(descriptor.read_text())
    raw["tags"] = [*raw["tags"], "zanzibar"]
    descriptor.write_text(yaml.safe_dump(raw, sort_keys=False))
    changed = refreshed(state)
    assert changed.catalog is not first.catalog
    assert "zanzibar" in changed.catalog.product("artists.artist_royalties").tags
    assert [h.key for h in changed.index.search("zanzibar")] == ["artists.artist_royalties"]


def test_a_corrupt_cache_file_is_rebuilt_without_error(mesh_copy):
    env = get_environment()
    built = build_catalog(env)
    path = cache.cache_path(env)
    path.parent.mkdir(parents=True)
    for broken in ('{"format": 1, "fingerprint": "', "not json at all", "[]", '{"format": 1}'):
        path.write_text(broken)
        assert cache.load_catalog(env) == built
    fresh = cache.fingerprint(env)
    assert json.loads(path.read_text())["fingerprint"] == fresh  # rewritten, readable again
    payload = json.loads(path.read_text())
    payload["catalog"]["products"][0]["ports"] = "garbled"  # valid JSON, wrong shape
    path.write_text(json.dumps(payload))
    assert cache.load_catalog(env) == built


def test_a_port_store_the_fingerprint_cannot_watch_is_not_cached(mesh_copy, tmp_path, monkeypatch):
    """Only the local SQLite Iceberg catalog's file is watched (S3 data or another catalog, e.g.
    PostgreSQL, cannot be stat'ed cheaply): the catalog is built every time, as before."""
    monkeypatch.setenv("MESH_PORTS_CATALOG", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    env = get_environment()
    assert cache.fingerprint(env) is None
    assert cache.load_catalog(env) == build_catalog(env)
    assert not cache.cache_path(env).exists()
    monkeypatch.delenv("MESH_PORTS_CATALOG")
    monkeypatch.setenv("MESH_PORTS_URI", "s3://bucket/ports")
    assert cache.fingerprint(env) is None


@pytest.mark.slow
def test_published_ports_round_trip_and_a_publish_invalidates_the_cache(mesh_env):
    """Over the built mesh: the cached catalog equals the built one, snapshots and governance
    records included; a new commit to the ports' catalog or a new record changes the key."""
    built = build_catalog(mesh_env)
    assert any(p.published and p.governance for p in built.all_ports())
    cache.load_catalog(mesh_env)  # writes the cache (or finds one an earlier test wrote)
    assert cache._read(cache.cache_path(mesh_env), cache.fingerprint(mesh_env)) == built
    before = cache.fingerprint(mesh_env)
    catalog_db = mesh_env.ports_dir / "catalog.db"
    mtime = catalog_db.stat().st_mtime_ns
    try:
        os.utime(catalog_db, ns=(mtime + 1_000_000, mtime + 1_000_000))  # as a commit does
        assert cache.fingerprint(mesh_env) != before
    finally:
        os.utime(catalog_db, ns=(mtime, mtime))
    assert cache.fingerprint(mesh_env) == before
    record = next(Path(mesh_env.ports_dir).glob("*/*/v*/mesh/governance.json"))
    mtime = record.stat().st_mtime_ns
    try:
        os.utime(record, ns=(mtime + 1_000_000, mtime + 1_000_000))
        assert cache.fingerprint(mesh_env) != before
    finally:
        os.utime(record, ns=(mtime, mtime))
