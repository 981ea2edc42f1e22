"""The security tests' portal: an empty data directory with two ports published with marker
values (no dbt, no Dagster; built in well under a second), a private copy of the grants, a
token of alice and a pending request of bruno. Row data in a response is found by its marker."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis import BaseSchema

from mesh_platform.access.service import AccessService
from mesh_platform.catalog.build import build_catalog
from mesh_platform.core.environment import MeshEnvironment, get_environment
from mesh_platform.portal import create_app
from mesh_platform.ports.publish import publish_snapshot

from ...conftest import REPO

READABLE = "playback.daily_track_plays"  # alice reads it through role:analyst
UNREADABLE = "listeners.listener_profiles"  # alice has no grant; it holds personal data
MARKER = {READABLE: "ROWDATA_PLAYS", UNREADABLE: "ROWDATA_PROFILES"}
VALUES = {
    "date": "date '2026-01-02'",
    "timestamp": "timestamp '2026-01-02 03:04:05'",
    "bigint": "7",
    "integer": "7",
    "boolean": "true",
    "double": "1.5",
}


@dataclass
class FuzzPortal:
    env: MeshEnvironment
    app: FastAPI
    token: str  # alice's
    schema: BaseSchema
    pending: str  # bruno's pending request for the personal-data port (alice may not decide it)
    varchar: dict[str, list[str]]  # each marked port's text columns (they hold the markers)

    def files(self) -> dict[str, str]:
        """Every file of the mesh's state and a hash of it: not the published ports, and not the
        catalog cache (``cache/``), which any read may write once the inputs it fingerprints are
        older than its racy window (mesh_platform/catalog/cache.py) — derived, never state."""
        found = {}
        for root in (self.env.data_dir, self.env.access_dir):
            for path in sorted(Path(root).rglob("*")):
                parts = path.relative_to(root).parts
                if path.is_file() and "ports" not in parts and parts[0] != "cache":
                    found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
        return found


def _publish_with_markers(env: MeshEnvironment) -> None:
    catalog = build_catalog(env)
    con = duckdb.connect()
    for address, marker in MARKER.items():
        port = catalog.port(address)
        select = ", ".join(
            (f"'{marker}_{i}'" if c.data_type == "varchar" else VALUES.get(c.data_type, "null"))
            + f"::{c.data_type} as {c.name}"
            for i, c in enumerate(port.columns)
        )
        con.execute(f"create or replace table t as select {select} from range(3)")
        domain, name = address.split(".")
        publish_snapshot(con, "t", env.ports_dir, domain, name, port.version)
    con.close()


@pytest.fixture(scope="module")
def fuzz_mesh(tmp_path_factory) -> Iterator[FuzzPortal]:
    """An empty data directory with two published ports and a private copy of the grants, shared
    by the module's tests (only alice's calls may change it; each check is around one call)."""
    root = tmp_path_factory.mktemp("fuzz")
    access = root / "access"
    shutil.copytree(REPO / "governance" / "access", access)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MESH_DATA_DIR", str(root / "data"))
        mp.setenv("MESH_ACCESS_DIR", str(access))
        env = get_environment()
        _publish_with_markers(env)
        service = AccessService(env)
        token = service.issue_token("alice")
        pending = service.request("bruno", UNREADABLE, "a fuzzing fixture request").id
        app = create_app(env)
        schema = schemathesis.openapi.from_dict(app.openapi())
        schema.app = app
        varchar = {
            a: [c.name for c in service.catalog.port(a).columns if c.data_type == "varchar"]
            for a in MARKER
        }
        yield FuzzPortal(env, app, token, schema, pending, varchar)


@pytest.fixture
def fuzz_portal(fuzz_mesh, monkeypatch) -> FuzzPortal:
    monkeypatch.setenv("MESH_DATA_DIR", str(fuzz_mesh.env.data_dir))
    monkeypatch.setenv("MESH_ACCESS_DIR", str(fuzz_mesh.env.access_dir))
    return fuzz_mesh
