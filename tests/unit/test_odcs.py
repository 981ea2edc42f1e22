"""ODCS export of output-port contracts: every real port validates against the official schema."""

from __future__ import annotations

import copy
import dataclasses
from datetime import date

import pytest
import yaml
from jsonschema import validators
from typer.testing import CliRunner

from mesh_platform.core.bindings import bind_domain
from mesh_platform.core.contracts import load_contract
from mesh_platform.core.domain import load_all_domains
from mesh_platform.core.environment import MeshEnvironment
from mesh_platform.core.manifest import load_mesh_manifest
from mesh_platform.interchange import odcs
from mesh_platform.interchange.odcs import (
    classify,
    export_all,
    logical_type,
    odcs_document,
    odcs_json_schema,
    validate_odcs,
)

from ..conftest import REPO

ADDRESS = "listeners.listener_profiles"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("odcs-data")
    mp = pytest.MonkeyPatch()
    mp.setenv("MESH_DATA_DIR", str(data_dir))  # where dbt logs if the manifest is stale
    yield MeshEnvironment(name="test", repo_root=REPO, data_dir=data_dir)
    mp.undo()


@pytest.fixture(scope="module")
def manifest(env):
    return load_mesh_manifest(env)


@pytest.fixture(scope="module")
def exported(env, manifest):
    return {e.contract_id: e for e in export_all(env)}


@pytest.fixture(scope="module")
def binding(env, manifest):
    domain = next(d for d in load_all_domains(env.domains_dir) if d.name == "listeners")
    ports = bind_domain(domain, manifest).ports.values()
    return next(b for b in ports if b.address == ADDRESS)


def official_validator():
    schema = odcs_json_schema()
    return validators.validator_for(schema)(schema)


def props(document):
    return {p["name"]: p for p in document["schema"][0]["properties"]}


def test_every_real_port_exports_a_valid_odcs_document(env, exported):
    ports = [
        (d.name, p.name, p.version)
        for d in load_all_domains(env.domains_dir)
        for product in d.products
        for p in product.output_ports
    ]
    assert sorted(exported) == sorted(f"{d}.{p}.v{v}" for d, p, v in ports)
    validator = official_validator()
    for contract_id, e in exported.items():
        assert e.errors == [], f"{contract_id}: {e.errors}"
        # Independently of validate_odcs: the shipped schema itself accepts the document.
        assert validator.is_valid(e.document), contract_id
        # And it survives the YAML round trip the CLI writes.
        assert yaml.safe_load(odcs.to_yaml(e.document)) == e.document


def test_listener_profiles_maps_owner_sla_keys_classification_and_quality(
    env, exported, manifest, binding
):
    doc = exported[f"{ADDRESS}.v1"].document
    assert doc["apiVersion"] == "v3.2.0" and doc["kind"] == "DataContract"
    assert (doc["id"], doc["version"], doc["status"]) == (f"{ADDRESS}.v1", "1.0.0", "active")
    assert (doc["domain"], doc["dataProduct"]) == ("listeners", "listener_profiles")
    assert doc["team"]["name"] == "listeners-team"
    assert doc["support"][0]["url"] == "mailto:listeners@daff.example"
    assert {"property": "classification", "value": "confidential"} in doc["customProperties"]
    latency = next(s for s in doc["slaProperties"] if s["property"] == "latency")
    assert (latency["value"], latency["unit"]) == (26, "h")
    server = doc["servers"][0]
    assert (server["type"], server["namespace"]) == ("iceberg", "listeners")
    assert {"property": "table", "value": "listener_profiles_v1"} in server["customProperties"]
    assert server["catalogUrl"] == f"sqlite:///{env.ports_dir / 'catalog.db'}"

    columns = props(doc)
    assert list(columns) == list(manifest["nodes"][binding.unique_id]["columns"])
    key = columns["listener_id"]
    assert key["required"] is True and key["unique"] is True
    assert (key["primaryKey"], key["primaryKeyPosition"]) == (True, 1)
    assert (key["logicalType"], key["physicalType"]) == ("integer", "bigint")
    metrics = {q.get("metric"): q for q in key["quality"]}
    assert metrics["nullValues"]["mustBe"] == 0
    assert metrics["duplicateValues"]["mustBe"] == 0
    assert metrics["duplicateValues"]["id"] == "contract__listener_id__duplicate"
    # Unique, but a second key is not part of the primary key.
    assert columns["email_sha256"]["unique"] is True
    assert "primaryKey" not in columns["email_sha256"]
    assert columns["country_code"]["required"] is False  # only the Soda check forbids nulls
    plan = next(q for q in columns["plan_id"]["quality"] if q.get("metric") == "invalidValues")
    assert plan["arguments"]["validValues"] == ["free", "individual", "duo", "family", "student"]
    # A range is not an ODCS library argument: kept as Soda's own check.
    birth = columns["birth_year"]["quality"][0]
    assert (birth["type"], birth["engine"]) == ("custom", "soda")
    assert yaml.safe_load(birth["implementation"]) == {
        "invalid": {"valid_min": 1900, "valid_max": 2026}
    }

    dataset = {q["id"]: q for q in doc["schema"][0]["quality"]}
    assert dataset["contract__row_count"]["metric"] == "rowCount"
    assert dataset["contract__row_count"]["mustBeGreaterThan"] == 0
    failed = dataset["contract__failed_rows__updated_after_signup"]
    assert yaml.safe_load(failed["implementation"])["failed_rows"]["expression"] == (
        "updated_at < signed_up_at"
    )

    # Personal data: the dbt column meta decides, and is kept as is.
    meta = manifest["nodes"][binding.unique_id]["columns"]["email_sha256"].get("meta") or {}
    if meta.get("pii"):
        assert meta["pii"]["treatment"] == "hashed"
        assert columns["email_sha256"]["classification"] == "pii-hashed"
        assert columns["email_sha256"]["customProperties"][0]["value"] == meta


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        ({"pii": {"category": "email", "treatment": "hashed"}}, "pii-hashed"),
        ({"pii": {"category": "person_name", "treatment": "masked"}}, "pii-masked"),
        ({"pii": {"category": "birth_date", "treatment": "generalized"}}, "pii-generalized"),
        ({"pii": {"category": "email", "treatment": "raw"}}, "pii"),
        ({"pii": False}, "confidential"),  # not personal, still as classified as its product
        ({}, None),  # untagged: unknown, never claimed safe
    ],
)
def test_column_classification_from_dbt_pii_meta(binding, meta, expected):
    assert classify(meta, binding.product) == expected


@pytest.mark.parametrize(
    ("data_type", "logical", "options"),
    [
        ("bigint", "integer", {"format": "i64"}),
        ("integer", "integer", {"format": "i32"}),
        ("decimal(12,2)", "number", {}),
        ("double", "number", {"format": "f64"}),
        ("varchar", "string", {}),
        ("boolean", "boolean", {}),
        ("date", "date", {}),
        ("timestamp", "timestamp", {}),
        ("timestamp with time zone", "timestamp", {"timezone": True}),
        ("varchar[]", "array", {}),
        ("geometry", None, {}),
    ],
)
def test_logical_types(data_type, logical, options):
    assert logical_type(data_type) == (logical, options)


def test_a_broken_document_is_rejected_with_the_path_named(exported):
    doc = copy.deepcopy(exported[f"{ADDRESS}.v1"].document)
    doc["apiVersion"] = "v9.9.9"
    del doc["schema"][0]["properties"][2]["name"]
    doc["schema"][0]["quality"][1].pop("mustBeGreaterThan")  # a library metric needs an operator
    errors = validate_odcs(doc)
    assert any(e.startswith("$.apiVersion: 'v9.9.9' is not one of") for e in errors), errors
    assert any(
        e.startswith("$.schema[0].properties[2]: 'name' is a required property") for e in errors
    ), errors
    assert any(e.startswith("$.schema[0].quality[1]:") for e in errors), errors
    assert not official_validator().is_valid(doc)


def test_a_product_without_owner_or_slo_still_exports(env, manifest, binding):
    product = binding.product.model_copy(update={"owner": None, "slo": None})
    port = binding.port.model_copy(
        update={
            "deprecation_date": date(2027, 1, 31),
            "example": "select country_code, count(*) from listeners.listener_profiles group by 1",
        }
    )
    assert product.port_owner(port) is None
    doc = odcs_document(
        dataclasses.replace(binding, product=product, port=port), manifest, env.ports_dir
    )
    assert validate_odcs(doc) == []
    assert "team" not in doc and "support" not in doc
    assert doc["status"] == "deprecated"
    assert doc["slaProperties"] == [
        {
            "id": "end-of-life",
            "property": "endOfLife",
            "value": "2027-01-31",
            "description": "Last day this major version is published.",
        }
    ]
    assert "group by 1" in doc["description"]["usage"]
    assert "2027-01-31" in doc["description"]["limitations"]


def test_soda_thresholds_map_to_operators_or_stay_soda(tmp_path, env, manifest, binding):
    contract = {
        "dataset": "listeners/marts/listener_profiles",
        "columns": [
            {
                "name": "listener_id",
                "checks": [
                    {"missing": {"threshold": {"metric": "percent", "must_be_less_than": 5}}}
                ],
            },
            {"name": "country_code", "missing_values": ["", "??"], "checks": [{"missing": None}]},
            {
                "name": "plan_id",
                "checks": [{"invalid": {"filter": "is_subscribed", "valid_values": ["duo"]}}],
            },
            {"name": "region", "checks": [{"duplicate": {"threshold": {"must_be_less_than": 3}}}]},
        ],
        "checks": [
            {"row_count": {"threshold": {"must_be_between": {"greater_than": 1, "less_than": 9}}}},
            {
                "duplicate": {
                    "columns": ["country_code", "region"],
                    "threshold": {"level": "warn", "must_be": 0},
                }
            },
        ],
    }
    path = tmp_path / "listener_profiles.yaml"
    path.write_text(yaml.safe_dump(contract))
    spec = load_contract(path, contract["dataset"])
    doc = odcs_document(dataclasses.replace(binding, contract=spec), manifest, env.ports_dir)
    assert validate_odcs(doc) == []
    columns = props(doc)
    (missing_pct,) = columns["listener_id"]["quality"]
    assert (missing_pct["metric"], missing_pct["mustBeLessThan"], missing_pct["unit"]) == (
        "nullValues",
        5,
        "percent",
    )
    (missing_values,) = columns["country_code"]["quality"]
    assert missing_values["metric"] == "missingValues"
    assert missing_values["arguments"] == {"missingValues": [None, "", "??"]}
    (filtered,) = columns["plan_id"]["quality"]
    assert filtered["type"] == "custom"  # a filter has no ODCS library equivalent
    # Duplicates tolerated up to a threshold: a rule, but not a key.
    assert columns["region"]["quality"][0]["mustBeLessThan"] == 3
    assert "unique" not in columns["region"] and "primaryKey" not in columns["listener_id"]
    dataset = {q["id"]: q for q in doc["schema"][0]["quality"]}
    assert dataset["contract__row_count"]["type"] == "custom"
    assert dataset["contract__duplicate"]["severity"] == "warning"
    assert dataset["contract__duplicate"]["arguments"] == {"properties": ["country_code", "region"]}


# --- the CLI ---------------------------------------------------------------------------------


def cli(*args):
    from mesh_platform.cli.app import app

    return CliRunner().invoke(app, ["contract", "export", *args])


def test_cli_writes_one_yaml_file_per_port(tmp_path, exported):
    out = tmp_path / "odcs"
    result = cli("--out", str(out))
    assert result.exit_code == 0, result.output
    files = sorted(p.name for p in out.iterdir())
    assert files == sorted(f"{cid}.odcs.yaml" for cid in exported)
    document = yaml.safe_load((out / f"{ADDRESS}.v1.odcs.yaml").read_text())
    assert document["kind"] == "DataContract" and validate_odcs(document) == []

    result = cli("artists.track_catalog", "--out", str(tmp_path / "one"))
    assert result.exit_code == 0, result.output
    assert [p.name for p in (tmp_path / "one").iterdir()] == ["artists.track_catalog.v1.odcs.yaml"]


def test_cli_defaults_to_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path / "data"))
    result = cli(ADDRESS)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "data" / "contracts" / "odcs" / f"{ADDRESS}.v1.odcs.yaml").exists()


def test_cli_unknown_address_exits_2_and_lists_the_known_ones(tmp_path):
    result = cli("listeners.nope", "--out", str(tmp_path))
    assert result.exit_code == 2
    assert "unknown output port(s) listeners.nope" in result.output
    assert ADDRESS in result.output
    assert list(tmp_path.iterdir()) == []


def test_cli_invalid_document_exits_1_naming_port_and_path(tmp_path, monkeypatch, exported):
    good = exported[f"{ADDRESS}.v1"]
    broken = copy.deepcopy(good.document)
    broken["id"] = "playback.play_events.v1"
    broken["apiVersion"] = "v9"
    bad = odcs.ExportedContract("playback.play_events", 1, broken, validate_odcs(broken))
    monkeypatch.setattr(odcs, "export_all", lambda env=None: [good, bad])
    result = cli("--out", str(tmp_path))
    assert result.exit_code == 1
    assert "playback.play_events v1" in result.output and "$.apiVersion" in result.output
    assert [p.name for p in tmp_path.iterdir()] == [f"{ADDRESS}.v1.odcs.yaml"]
