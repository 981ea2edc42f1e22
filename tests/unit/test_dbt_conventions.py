"""dbt conventions every domain keeps: documented models, enforced port contracts, private models."""

from __future__ import annotations

import pytest
import yaml

from mesh_platform.core.bindings import bind_domain
from mesh_platform.core.domain import load_all_domains
from mesh_platform.core.manifest import load_mesh_manifest

from ..conftest import REPO


@pytest.fixture(scope="module")
def manifest():
    return load_mesh_manifest()


def models(manifest):
    return [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]


def test_every_model_and_column_is_described(manifest):
    missing = []
    for node in models(manifest):
        if not node["description"].strip():
            missing.append(node["name"])
        if not node["columns"]:
            missing.append(f"{node['name']}: no columns documented")
        missing += [
            f"{node['name']}.{c}" for c, col in node["columns"].items() if not col["description"]
        ]
    assert not missing


def test_layer_naming(manifest):
    for node in models(manifest):
        layer = node["config"]["schema"]
        name = node["name"]
        if layer == "staging":
            assert name.startswith("stg_") and "__" in name, name
        elif layer == "intermediate":
            assert name.startswith("int_"), name
        else:
            assert layer == "marts", (name, layer)


def test_models_are_private_to_their_domain_group(manifest):
    for node in models(manifest):
        assert node["access"] == "private", node["name"]
        assert node["group"] == node["mesh_domain"], node["name"]


def test_output_ports_have_enforced_contracts_matching_their_soda_contract(manifest):
    for domain in load_all_domains(REPO / "domains"):
        for binding in bind_domain(domain, manifest).ports.values():
            node = manifest["nodes"][binding.unique_id]
            assert node["config"]["contract"]["enforced"], binding.address
            soda = yaml.safe_load(binding.contract.path.read_text())
            assert [c["name"] for c in soda["columns"]] == list(node["columns"]), binding.address
