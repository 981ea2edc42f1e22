"""A dbt step's specs computed without dbt-core are the ones dagster-dbt computes with it.

``build/dbt_specs.py`` selects a step's nodes and tests from the manifest itself so a code
server never imports dbt's selector at load. Compared here with dagster-dbt's
``build_dbt_specs`` (which asks dbt-core) for every step form of every domain of the mesh, and
for a project whose tests span models (a relationships test, a singular test over two models)
and that has seeds — where eager selection of tests differs between the two forms.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from dagster_dbt import DagsterDbtTranslator
from dagster_dbt.asset_utils import build_dbt_specs
from dagster_dbt.utils import select_unique_ids

from mesh_platform.build.dbt_specs import UnsupportedSelection, build_step_specs, step_unique_ids
from mesh_platform.core.domain import load_all_domains
from mesh_platform.core.environment import apply_tool_env
from mesh_platform.core.manifest import domain_models, load_manifest

REPO = Path(__file__).resolve().parents[2]
SHOP = REPO / "tests" / "fixtures" / "dbt_projects" / "shop"


def _dagster_dbt(translator, manifest, select, exclude):
    return build_dbt_specs(
        translator=translator,
        manifest=manifest,
        select=select,
        exclude=exclude,
        selector="",
        io_manager_key=None,
        project=None,
    )


def _summary(specs, checks):
    return (
        {spec.key: (spec.deps, spec.description, sorted(spec.metadata)) for spec in specs},
        {(check.asset_key, check.name) for check in checks},
    )


def _forms(manifest, models: list[str]):
    """Both forms the platform generates: named models, and fqn:* minus the other models."""
    names = {uid: manifest["nodes"][uid]["name"] for uid in models}
    chosen_sets = [set(models)] + [{uid} for uid in models] + [set(models[::2])]
    for chosen in chosen_sets:
        if not chosen:
            continue
        yield " ".join(sorted(names[u] for u in chosen)), ""
        yield "fqn:*", " ".join(sorted(names[u] for u in models if u not in chosen))


def test_every_step_of_the_mesh_gets_the_same_specs_without_dbt_core():
    env = apply_tool_env()
    translator = DagsterDbtTranslator()
    compared = 0
    for domain in load_all_domains(env.domains_dir):
        manifest = load_manifest(env.domain_dbt_dir(domain.name))
        models = sorted(domain_models(manifest, domain.name))
        for select, exclude in _forms(manifest, models):
            ours = build_step_specs(translator, manifest, select, exclude)
            theirs = _dagster_dbt(translator, manifest, select, exclude)
            assert _summary(*ours) == _summary(*theirs), (domain.name, select, exclude)
            compared += 1
    assert compared >= 5 * 3


@pytest.fixture(scope="module")
def shop_manifest(tmp_path_factory) -> dict:
    project = tmp_path_factory.mktemp("shop") / "shop"
    shutil.copytree(SHOP, project)
    subprocess.run(  # noqa: S603 (the venv's dbt, fixed arguments)
        [str(Path(sys.executable).parent / "dbt"), "parse", "--profiles-dir", str(project)],
        cwd=project,
        check=True,
        capture_output=True,
        env={**os.environ, "SHOP_DUCKDB_PATH": str(project / "shop.duckdb")},
    )
    return json.loads((project / "target" / "manifest.json").read_text())


def test_tests_across_models_and_seeds_are_selected_as_dbt_selects_them(shop_manifest):
    manifest = shop_manifest
    translator = DagsterDbtTranslator()
    models = sorted(uid for uid, n in manifest["nodes"].items() if n["resource_type"] == "model")
    multi_parent = [
        uid
        for uid, n in manifest["nodes"].items()
        if n["resource_type"] == "test" and len(set(n["depends_on"]["nodes"])) > 1
    ]
    assert multi_parent, "the fixture must have a test spanning two nodes"
    for select, exclude in _forms(manifest, models):
        dbt_ids = select_unique_ids(select, exclude, "", None, manifest)
        ours = step_unique_ids(manifest, select, exclude)
        node_ids = {u for u in dbt_ids if u in manifest["nodes"]}
        assert ours == node_ids, (select, exclude)
        assert _summary(*build_step_specs(translator, manifest, select, exclude)) == _summary(
            *_dagster_dbt(translator, manifest, select, exclude)
        )


def test_a_selection_the_platform_never_generates_is_refused():
    manifest = {"nodes": {}, "child_map": {}}
    for select, exclude in [("tag:x", ""), ("orders+", ""), ("orders", "customers"), ("", "")]:
        with pytest.raises(UnsupportedSelection, match="without dbt-core"):
            step_unique_ids(manifest, select, exclude)


def test_loading_a_domain_does_not_import_dbt_core_selector():
    env = apply_tool_env()
    domain = sorted(d.name for d in load_all_domains(env.domains_dir))[0]
    code = (
        f"import sys, importlib; importlib.import_module('domains.{domain}.definitions').defs; "
        "print(sorted(m for m in ('dbt.graph', 'networkx') if m in sys.modules))"
    )
    out = subprocess.run(  # noqa: S603 (this interpreter, fixed code)
        [sys.executable, "-c", code], cwd=REPO, check=True, capture_output=True, text=True
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"
