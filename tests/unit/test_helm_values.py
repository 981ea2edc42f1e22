"""Helm values for the Dagster chart: one user deployment per domain, generated, never stale,
checked against the schema we keep (and the official chart's, when one is given); the
production instance settings they mirror."""

from __future__ import annotations

import copy
import json
import re
import shutil
from importlib import metadata

import pytest
import yaml
from dagster._core.instance.config import dagster_instance_config
from typer.testing import CliRunner

from mesh_platform.cli.app import app
from mesh_platform.core.domain import discover_domain_dirs
from mesh_platform.core.environment import get_environment
from mesh_platform.production import chart_schema, helm, k8s_plan

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
    assert "infra/k8s/volumes.yaml" in result.output  # the volumes follow the domains too
    result = CliRunner().invoke(app, ["infra", "helm-values"])
    assert result.exit_code == 0, result.output
    written = yaml.safe_load((tmp_path / helm.VALUES_FILE).read_text())
    names = [d["name"] for d in written["dagster-user-deployments"]["deployments"]]
    assert names == domain_names(tmp_path) and "podcasts" not in names
    claims = list(yaml.safe_load_all((tmp_path / "infra/k8s/volumes.yaml").read_text()))
    assert "mesh-podcasts-data" not in {c["metadata"]["name"] for c in claims}
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


@pytest.mark.parametrize(
    "entry",
    [
        {"name": "SPOTIFY_API_TOKEN", "value": "s3cr3t"},
        {"name": "AWS_SECRET_ACCESS_KEY", "value": "s3cr3t"},
        {"name": "MESH_PORTS_CATALOG", "value": "postgresql+psycopg2://u:pw@db/mesh_ports"},
    ],
)
def test_schema_rejects_a_secret_in_a_deployments_env(values, entry):
    broken = copy.deepcopy(values)
    deployment = broken["dagster-user-deployments"]["deployments"][0]
    deployment["env"].append(entry)
    with pytest.raises(ValueError, match="env"):
        helm.validate(broken, REPO)


def deployments(values):
    return {d["name"]: d for d in values["dagster-user-deployments"]["deployments"]}


def env_of(deployment):
    return {e["name"]: e for e in deployment["env"]}


def test_chart_is_pinned_to_the_installed_dagster_in_values_and_readme():
    version = metadata.version("dagster")
    assert k8s_plan.chart_version() == version
    assert f"--version {version}" in (REPO / helm.VALUES_FILE).read_text()
    readme = (REPO / "infra/README.md").read_text()
    assert "helm repo add dagster https://dagster-io.github.io/helm" in readme
    installs = re.findall(r"helm upgrade --install(?:[^\n]*\\\n)*[^\n]*", readme)
    assert installs and all(f"--version {version}" in cmd for cmd in installs), installs


def test_runs_are_kubernetes_jobs_and_the_image_has_dagster_k8s():
    values = yaml.safe_load((REPO / helm.VALUES_FILE).read_text())
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    dockerfile = (REPO / "infra/Dockerfile").read_text()
    syncs = [line for line in dockerfile.splitlines() if "uv sync" in line]
    assert syncs and all("--extra production" in line for line in syncs), syncs
    pyproject = (REPO / "pyproject.toml").read_text()
    production = pyproject.split("production = [", 1)[1].split("]", 1)[0]
    assert "dagster-k8s==" in production


def test_each_domain_runs_with_its_own_resources_and_playback_gets_its_benchmark_peak(values):
    by_name = deployments(values)
    playback = by_name["playback"]["resources"]
    # 8984 MiB peak at scale 50 (bench/results/scale-50-ab.md) must fit under the limit
    assert playback["limits"]["memory"] == "12Gi" and playback["requests"]["memory"] == "12Gi"
    for name, deployment in by_name.items():
        resources = deployment["resources"]
        assert resources["requests"] == resources["limits"], name
        if name != "playback":
            assert resources["limits"] == {"cpu": k8s_plan.DEFAULT_RUN_CPU, "memory": "6Gi"}
        # DuckDB gets a bound below the pod's limit, so it spills instead of being OOM-killed
        duckdb = env_of(deployment)["MESH_DUCKDB_MEMORY_LIMIT"]["value"]
        limit = k8s_plan.memory_bytes(resources["limits"]["memory"])
        assert int(duckdb.removesuffix("MB")) * 10**6 < limit


def test_a_domain_yaml_overrides_run_resources_image_and_tag(tmp_path, monkeypatch):
    for folder in ("domains", "infra"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    shutil.copy2(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    meta = tmp_path / "domains" / "artists" / "domain.yaml"
    meta.write_text(
        meta.read_text()
        + "deployment:\n  run: {memory: 3Gi, cpu: 500m}\n"
        + "  image: registry.example/artists/code\n  tag: 2.4.1\n"
    )
    monkeypatch.setenv("MESH_REPO_ROOT", str(tmp_path))
    by_name = deployments(helm.helm_values(get_environment(), tag="9.9.9"))
    artists, listeners = by_name["artists"], by_name["listeners"]
    assert artists["resources"]["limits"] == {"cpu": "500m", "memory": "3Gi"}
    assert artists["image"]["repository"] == "registry.example/artists/code"
    assert artists["image"]["tag"] == "2.4.1"
    assert listeners["image"]["tag"] == "9.9.9"  # the others keep the mesh's image and tag
    assert listeners["image"]["repository"] == "registry.daff.example/data-platform/mesh-code"


def test_each_domain_mounts_only_its_own_volume_and_runs_where_it_is(values):
    label = "mesh.daff.example/domain"
    for name, deployment in deployments(values).items():
        claims = [v["persistentVolumeClaim"]["claimName"] for v in deployment["volumes"]]
        assert claims == [f"mesh-{name}-data"]
        term = deployment["affinity"]["podAffinity"][
            "requiredDuringSchedulingIgnoredDuringExecution"
        ][0]
        assert term["labelSelector"]["matchLabels"] == {label: name}
    runs = values["runLauncher"]["config"]["k8sRunLauncher"]["runK8sConfig"]["podSpecConfig"]
    (term,) = runs["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["matchLabelKeys"] == [label] and term["topologyKey"] == "kubernetes.io/hostname"


def test_pods_run_as_the_dockerfiles_user(values):
    dockerfile = (REPO / "infra/Dockerfile").read_text()
    assert f"useradd --uid {k8s_plan.MESH_UID}" in dockerfile
    assert f"groupadd --gid {k8s_plan.MESH_UID}" in dockerfile
    assert "\nUSER mesh\n" in dockerfile
    runs = values["runLauncher"]["config"]["k8sRunLauncher"]
    pod_contexts = [runs["runK8sConfig"]["podSpecConfig"]["securityContext"]]
    pod_contexts += [d["podSecurityContext"] for d in deployments(values).values()]
    for context in pod_contexts:
        assert context["runAsUser"] == context["runAsGroup"] == context["fsGroup"] == 10001
        assert context["runAsNonRoot"] is True
    for d in deployments(values).values():
        assert d["securityContext"]["allowPrivilegeEscalation"] is False


def test_ports_live_in_object_storage_and_credentials_only_in_secrets(values):
    for deployment in deployments(values).values():
        env = env_of(deployment)
        assert env["MESH_PORTS_URI"]["value"] == "s3://mesh-ports/ports"
        assert env["AWS_REGION"]["value"]
        assert "AWS_ENDPOINT_URL" not in env
        for name, secret, key in [
            ("AWS_ACCESS_KEY_ID", "mesh-object-storage", "access-key-id"),
            ("AWS_SECRET_ACCESS_KEY", "mesh-object-storage", "secret-access-key"),
            ("MESH_PORTS_CATALOG", "mesh-ports-catalog", "uri"),
        ]:
            assert env[name] == {
                "name": name,
                "valueFrom": {"secretKeyRef": {"name": secret, "key": key}},
            }


def test_ports_options_reach_every_domain_and_a_bad_uri_is_refused(tmp_path, monkeypatch):
    for folder in ("domains", "infra"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    shutil.copy2(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    monkeypatch.setenv("MESH_REPO_ROOT", str(tmp_path))
    options = ["--ports-uri", "s3://acme-ports/mesh", "--aws-endpoint-url", "http://minio:9000"]
    result = CliRunner().invoke(app, ["infra", "helm-values", *options])
    assert result.exit_code == 0, result.output
    written = yaml.safe_load((tmp_path / helm.VALUES_FILE).read_text())
    for deployment in deployments(written).values():
        env = env_of(deployment)
        assert env["MESH_PORTS_URI"]["value"] == "s3://acme-ports/mesh"
        assert env["AWS_ENDPOINT_URL"]["value"] == "http://minio:9000"
    portal = next(yaml.safe_load_all((tmp_path / "infra/k8s/portal.yaml").read_text()))
    container = portal["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "MESH_PORTS_URI", "value": "s3://acme-ports/mesh"} in container["env"]
    bad = CliRunner().invoke(app, ["infra", "helm-values", "--ports-uri", "mesh-ports"])
    assert bad.exit_code == 2 and "s3://<bucket>/<prefix>" in bad.output


@pytest.mark.skipif(
    chart_schema.chart_dir_from_env() is None,
    reason=f"set {chart_schema.CHART_DIR_ENV} to an unpacked official chart (infra/README.md)",
)
def test_values_pass_the_official_charts_schema():
    chart = chart_schema.chart_dir_from_env()
    assert chart_schema.chart_version(chart) == k8s_plan.chart_version()
    values = yaml.safe_load((REPO / helm.VALUES_FILE).read_text())
    assert chart_schema.chart_errors(values, chart) == []


def test_chart_check_merges_like_helm_and_reports_what_the_chart_refuses(tmp_path, values):
    """The check itself, on a stand-in chart: defaults merged under our values (so keys the
    chart requires and we leave to its defaults pass), Kubernetes refs resolved offline."""
    volume_ref = "https://kubernetesjsonschema.dev/v1.18.0/_definitions.json#/definitions/"
    deployment = {
        "type": "object",
        "required": ["name", "port"],
        "properties": {
            "volumes": {
                "type": "array",
                "items": {"$ref": volume_ref + "io.k8s.api.core.v1.Volume"},
            }
        },
    }
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "required": ["imagePullSecrets"],
        "properties": {
            "dagster-user-deployments": {
                "type": "object",
                "properties": {"deployments": {"type": "array", "items": deployment}},
            }
        },
    }
    (tmp_path / "values.yaml").write_text("imagePullSecrets: []\n")
    (tmp_path / "values.schema.json").write_text(json.dumps(schema))
    assert chart_schema.chart_errors(values, tmp_path) == []
    broken = copy.deepcopy(values)
    broken["dagster-user-deployments"]["deployments"][1]["volumes"][0]["persistentVolumeClaim"] = {
        "claimName": 7
    }
    (error,) = chart_schema.chart_errors(broken, tmp_path)
    assert "deployments/1/volumes/0/persistentVolumeClaim/claimName" in error


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
