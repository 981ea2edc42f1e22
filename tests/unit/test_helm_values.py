"""Helm values for the Dagster chart: one user deployment per domain, generated, never stale,
checked against the schema we keep; the production instance settings they mirror."""

from __future__ import annotations

import copy
import shutil

import pytest
import yaml
from dagster._core.instance.config import dagster_instance_config
from typer.testing import CliRunner

from mesh_platform.cli.app import app
from mesh_platform.core.domain import discover_domain_dirs
from mesh_platform.core.environment import get_environment
from mesh_platform.production import helm

from ..conftest import REPO

PG_ENV = {
    "DAGSTER_PG_HOST": "db.example",
    "DAGSTER_PG_PORT": "5432",
    "DAGSTER_PG_USERNAME": "dagster",
    "DAGSTER_PG_PASSWORD": "from-the-environment",
    "DAGSTER_PG_DB": "dagster",
}


@pytest.fixture
def values(monkeypatch):
    monkeypatch.delenv("MESH_REPO_ROOT", raising=False)
    return helm.helm_values(get_environment())


def domain_names(repo):
    return [d.name for d in discover_domain_dirs(repo / "domains")]


def test_generated_values_match_the_schema_we_keep(values):
    helm.validate(values, REPO)


def test_one_user_deployment_per_domain(values):
    deployments = values["dagster-user-deployments"]["deployments"]
    assert [d["name"] for d in deployments] == domain_names(REPO)
    for deployment in deployments:
        module = deployment["codeServerArgs"][1]
        assert (REPO / (module.replace(".", "/") + ".py")).exists(), module
        assert deployment["labels"]["mesh.daff.example/domain"] == deployment["name"]


def test_committed_values_file_is_up_to_date():
    result = CliRunner().invoke(app, ["infra", "helm-values", "--check"])
    assert result.exit_code == 0, result.output


def test_check_fails_when_a_domain_is_added_or_removed(tmp_path, monkeypatch):
    for folder in ("domains", "infra"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    shutil.copy2(REPO / "pyproject.toml", tmp_path / "pyproject.toml")  # the mesh's settings
    shutil.rmtree(tmp_path / "domains" / "podcasts")
    monkeypatch.setenv("MESH_REPO_ROOT", str(tmp_path))
    result = CliRunner().invoke(app, ["infra", "helm-values", "--check"])
    assert result.exit_code == 1
    assert "out of date" in result.output
    result = CliRunner().invoke(app, ["infra", "helm-values"])
    assert result.exit_code == 0, result.output
    written = yaml.safe_load((tmp_path / helm.VALUES_FILE).read_text())
    names = [d["name"] for d in written["dagster-user-deployments"]["deployments"]]
    assert names == domain_names(tmp_path) and "podcasts" not in names
    assert CliRunner().invoke(app, ["infra", "helm-values", "--check"]).exit_code == 0


@pytest.mark.parametrize(
    ("path", "value", "where"),
    [
        (["postgresql", "postgresqlPassword"], "hunter2", "postgresql"),
        (["telemetry", "enabled"], True, "telemetry/enabled"),
        (["concurrency", "pools", "defaultLimit"], 4, "concurrency/pools/defaultLimit"),
        (
            ["dagster-user-deployments", "deployments", 0, "image", "tag"],
            "latest",
            "dagster-user-deployments/deployments/0/image/tag",
        ),
        (
            ["dagster-user-deployments", "deployments", 0, "name"],
            "bad_name",
            "dagster-user-deployments/deployments/0/name",
        ),
    ],
)
def test_schema_rejects_what_we_decided_against(values, path, value, where):
    broken = copy.deepcopy(values)
    node = broken
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ValueError, match=where):
        helm.validate(broken, REPO)


def test_schema_rejects_a_secret_in_a_deployments_env(values):
    broken = copy.deepcopy(values)
    deployment = broken["dagster-user-deployments"]["deployments"][0]
    deployment["env"].append({"name": "SPOTIFY_API_TOKEN", "value": "s3cr3t"})
    with pytest.raises(ValueError, match="env"):
        helm.validate(broken, REPO)


def test_production_instance_reads_secrets_only_from_the_environment(tmp_path, monkeypatch):
    for key, value in PG_ENV.items():
        monkeypatch.setenv(key, value)
    shutil.copyfile(REPO / "infra" / "dagster.production.yaml", tmp_path / "dagster.yaml")
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["telemetry"]["enabled"] is False
    raw = yaml.safe_load((REPO / "infra" / "dagster.production.yaml").read_text())
    db = raw["storage"]["postgres"]["postgres_db"]
    assert db.pop("scheme") == "postgresql+psycopg2"
    assert all(set(v) == {"env"} for v in db.values()), db  # no literal host, user or password
    assert raw["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert raw["run_retries"]["enabled"] and raw["run_monitoring"]["enabled"]


def test_helm_values_mirror_the_instance_and_the_local_pools(values):
    production = yaml.safe_load((REPO / "infra" / "dagster.production.yaml").read_text())
    local = yaml.safe_load((REPO / "infra" / "dagster.local.yaml").read_text())
    # one writer per DuckDB file, everywhere
    assert local["concurrency"]["pools"]["default_limit"] == 1
    assert production["concurrency"]["pools"]["default_limit"] == 1
    assert values["concurrency"]["pools"]["defaultLimit"] == 1
    runs = production["concurrency"]["runs"]
    assert values["concurrency"]["runs"]["maxConcurrentRuns"] == runs["max_concurrent_runs"]
    assert (
        values["dagsterDaemon"]["runRetries"]["maxRetries"]
        == (production["run_retries"]["max_retries"])
    )
    assert values["telemetry"]["enabled"] is production["telemetry"]["enabled"] is False
    assert (
        values["postgresql"]["postgresqlScheme"]
        == (production["storage"]["postgres"]["postgres_db"]["scheme"])
    )
