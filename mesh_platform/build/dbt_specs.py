"""The asset and check specs of one dbt step, selected from the cached manifest without dbt-core.

dagster-dbt's ``build_dbt_specs`` evaluates a step's dbt selection with dbt-core's selector
whenever dbt-core is installed: that imports ``dbt.graph`` and networkx into every code server
at load (≈0.15 s of a ≈2 s load, the margin between the definitions load and its 1.25× goal).
A domain step's selection here is always one of two explicit forms (see
``definitions._dbt_multi_assets``), so its unique ids come from the manifest directly, with
dbt's *eager* indirect selection of tests:

- ``select="<model> <model> ..."``: those nodes, and every test with any of them as a parent;
- ``select="fqn:*", exclude="<model> ..."``: every node but those, and every test none of whose
  parents is excluded.

The specs loop is ``build_dbt_specs``' own over that set (same translator calls, same check
specs). ``tests/unit/test_dbt_specs.py`` holds both equal to dagster-dbt's for every step of the
mesh and for a project with a test across models, so a dbt or dagster-dbt upgrade that changes
the meaning fails there first. The dbt command the step runs still gets the select/exclude
strings (dbt itself selects at run time).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg
from dagster_dbt.asset_utils import get_node, get_upstream_unique_ids, is_non_asset_node
from dagster_dbt.utils import ASSET_RESOURCE_TYPES

from mesh_platform.core.version_guard import require_tested

require_tested("dagster-dbt", "a dbt step's specs without dbt-core (build/dbt_specs.py)")

SELECT_ALL = "fqn:*"


class UnsupportedSelection(ValueError):
    """A selection outside the two forms the platform generates."""


def step_unique_ids(manifest: Mapping[str, Any], select: str, exclude: str) -> set[str]:
    """The unique ids dbt would select for a step (nodes, then tests by eager selection)."""
    nodes = manifest["nodes"]
    by_name: dict[str, set[str]] = {}
    for uid, node in nodes.items():
        by_name.setdefault(node["name"], set()).add(uid)
    tests = {uid for uid, node in nodes.items() if node["resource_type"] == "test"}
    resources = set(nodes) - tests

    def named(names: str) -> set[str]:
        return {uid for name in names.split() for uid in by_name.get(name, ()) if uid in resources}

    def parents(test: str) -> set[str]:
        return set(nodes[test].get("depends_on", {}).get("nodes", []))

    if select == SELECT_ALL:
        excluded = named(exclude)
        chosen = resources - excluded
        return chosen | {t for t in tests if not parents(t) & excluded}
    if exclude or not select or any(":" in part or "+" in part for part in select.split()):
        raise UnsupportedSelection(
            f"dbt selection select={select!r} exclude={exclude!r}: the platform computes only "
            "'model names' or 'fqn:* minus model names' without dbt-core"
        )
    chosen = named(select)
    return chosen | {t for t in tests if parents(t) & chosen}


def build_step_specs(
    translator, manifest: Mapping[str, Any], select: str, exclude: str
) -> tuple[Sequence[dg.AssetSpec], Sequence[dg.AssetCheckSpec]]:
    """``build_dbt_specs(translator, manifest, select, exclude)`` without dbt-core's selector."""
    selected = step_unique_ids(manifest, select, exclude)
    child_map = manifest["child_map"]
    specs: list[dg.AssetSpec] = []
    check_specs: dict[str, dg.AssetCheckSpec] = {}
    keys: dict[dg.AssetKey, str] = {}
    for unique_id in sorted(selected):
        props = get_node(manifest, unique_id)
        if is_non_asset_node(props) or props["resource_type"] not in ASSET_RESOURCE_TYPES:
            continue
        spec = translator.get_asset_spec(manifest, unique_id, None)
        if keys.setdefault(spec.key, unique_id) != unique_id:
            raise ValueError(
                f"dbt nodes {keys[spec.key]} and {unique_id} map to the same asset key "
                f"{spec.key.to_user_string()}: rename one of them"
            )
        specs.append(spec)
        for child in child_map.get(unique_id, []):
            if child in selected and child.startswith("test"):
                check = translator.get_asset_check_spec(
                    asset_spec=spec, manifest=manifest, unique_id=child, project=None
                )
                if check:
                    check_specs[check.get_python_identifier()] = check
        if not translator.settings.enable_source_tests_as_checks:
            continue
        for upstream in get_upstream_unique_ids(manifest, props):
            if upstream.startswith("source"):
                upstream_spec = translator.get_asset_spec(manifest, upstream, None)
                for child in child_map.get(upstream, []):
                    if child.startswith("test"):
                        check = translator.get_asset_check_spec(
                            asset_spec=upstream_spec,
                            manifest=manifest,
                            unique_id=child,
                            project=None,
                        )
                        if check:
                            check_specs[check.get_python_identifier()] = check
    return specs, list(check_specs.values())
