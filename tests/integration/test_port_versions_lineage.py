"""A port's v2 is its own asset: consumers of each major are wired to the right one.

playback.play_events gets a v2 from its own model ``play_events_v2``, published beside v1.
listeners moves its source to v2; artists stays on v1. Each consumer's lineage (the Dagster
dependency) and eager automation (daily inputs) must follow the major it reads — and keep
following v2 once v1 is retired. Real dbt parse of a copy of the mesh, real Dagster
definitions; no run needed.
"""

from __future__ import annotations

import shutil

import dagster as dg
import pytest

from mesh_platform.build.definitions import build_domain_definitions
from mesh_platform.build.translator import MeshDbtTranslator
from mesh_platform.core.bindings import bind_domain
from mesh_platform.core.domain import load_domain
from mesh_platform.core.environment import apply_tool_env
from mesh_platform.core.manifest import load_mesh_manifest

from ..conftest import REPO
from .test_mesh_diff import add_major, copy_mesh, edit

pytestmark = pytest.mark.slow

V1 = dg.AssetKey(["playback", "play_events"])
V2 = dg.AssetKey(["playback", "play_events_v2"])


def _deps_on_playback(defs: dg.Definitions) -> set[dg.AssetKey]:
    graph = defs.resolve_asset_graph()
    return {
        parent
        for key in graph.materializable_asset_keys
        for parent in graph.get(key).parent_keys
        if parent.path[0] == "playback"
    }


def _daily_inputs(root, domain: str) -> frozenset[dg.AssetKey]:
    env = apply_tool_env()
    spec = load_domain(root / "domains" / domain)
    return MeshDbtTranslator(bind_domain(spec, load_mesh_manifest(env))).daily_inputs


@pytest.fixture
def mesh_with_v2(tmp_path, monkeypatch):
    root = copy_mesh(tmp_path / "mesh")
    for name in ("governance", "workspace.yaml", "pyproject.toml"):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name)
        else:
            shutil.copy2(source, root / name)
    marts = root / "dbt_project/playback/models/marts"
    shutil.copy2(marts / "play_events.sql", marts / "play_events_v2.sql")
    add_major(root, deprecate_v1="2027-06-01")
    edit(
        root / "dbt_project/listeners/models/staging/_listeners__sources.yml",
        "            mesh_port: playback.play_events\n",
        "            mesh_port: playback.play_events\n            mesh_port_version: 2\n",
    )
    monkeypatch.setenv("MESH_REPO_ROOT", str(root))
    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path / "data"))
    return root


def test_consumers_of_each_major_are_wired_to_that_majors_asset(mesh_with_v2):
    playback = build_domain_definitions(mesh_with_v2 / "domains" / "playback")
    produced = set(playback.resolve_asset_graph().materializable_asset_keys)
    assert {V1, V2} <= produced  # both majors are assets of the producer, side by side

    listeners = build_domain_definitions(mesh_with_v2 / "domains" / "listeners")
    assert _deps_on_playback(listeners) == {V2}  # reads v2: wired to v2, not to v1
    assert V2 in _daily_inputs(mesh_with_v2, "listeners")  # eager waits on v2's days only
    assert V1 not in _daily_inputs(mesh_with_v2, "listeners")

    artists = build_domain_definitions(mesh_with_v2 / "domains" / "artists")
    assert _deps_on_playback(artists) == {V1}  # still on v1
    assert V1 in _daily_inputs(mesh_with_v2, "artists")


def test_retiring_v1_leaves_the_v2_consumer_wired_to_v2(mesh_with_v2):
    add_major(mesh_with_v2, deprecate_v1=None, keep_v1=False)  # v1 gone from the descriptor
    listeners = build_domain_definitions(mesh_with_v2 / "domains" / "listeners")
    assert _deps_on_playback(listeners) == {V2}
    assert V2 in _daily_inputs(mesh_with_v2, "listeners")
