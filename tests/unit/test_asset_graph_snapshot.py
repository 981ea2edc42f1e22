"""A snapshot of the whole mesh's asset graph — keys, deps, owners, tags, groups, checks.

Any change to the mesh's public surface shows up in review as a diff of
tests/snapshots/asset_graph.json. After an intended change, regenerate it with
``UPDATE_SNAPSHOTS=1 pytest tests/unit/test_asset_graph_snapshot.py`` and commit the diff.
"""

from __future__ import annotations

import importlib
import json
import os

import dagster as dg

from mesh_platform.core.domain import discover_domain_dirs

from ..conftest import REPO

SNAPSHOT = REPO / "tests" / "snapshots" / "asset_graph.json"


def mesh_asset_graph():
    """The mesh as Dagster's UI merges its code locations: a consumer declares the ports it
    reads as external specs of its own group; the producer's definition is the asset."""
    assets, resources = [], {}
    for domain_dir in discover_domain_dirs(REPO / "domains"):
        defs = importlib.import_module(f"domains.{domain_dir.name}.definitions").defs
        assets += list(defs.assets or [])
        resources.update(defs.resources or {})
    defined = {key for a in assets if isinstance(a, dg.AssetsDefinition) for key in a.keys}
    assets = [a for a in assets if isinstance(a, dg.AssetsDefinition) or a.key not in defined]
    return dg.Definitions(assets=assets, resources=resources).resolve_asset_graph()


def describe(graph) -> dict:
    out = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        out[key.to_user_string()] = {
            "materializable": node.is_materializable,
            "group": node.group_name,
            "deps": sorted(p.to_user_string() for p in node.parent_keys),
            "owners": sorted(node.owners),
            "tags": dict(sorted(node.tags.items())),
            "checks": sorted(k.name for k in graph.asset_check_keys if k.asset_key == key),
            "partitioned": node.partitions_def is not None,
        }
    return out


def test_asset_graph_matches_snapshot():
    current = describe(mesh_asset_graph())
    if os.environ.get("UPDATE_SNAPSHOTS") or not SNAPSHOT.exists():
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    expected = json.loads(SNAPSHOT.read_text())
    assert current == expected, "asset graph changed: review, then UPDATE_SNAPSHOTS=1 to accept"


def test_cross_domain_lineage_edges():
    graph = mesh_asset_graph()
    edges = {
        (parent.path[0], key.path[0])
        for key in graph.materializable_asset_keys
        for parent in graph.get(key).parent_keys
        if parent.path[0] != key.path[0]
    }
    assert len(edges) >= 3, edges
    assert ("playback", "artists") in edges
    assert ("playback", "recommendations") in edges
    assert ("artists", "recommendations") in edges
    # every cross-domain parent is a published output port of its domain, never an internal
    for key in graph.materializable_asset_keys:
        for parent in graph.get(key).parent_keys:
            if parent.path[0] != key.path[0]:
                assert graph.get(parent).tags.get("output_port") == "true", (key, parent)
