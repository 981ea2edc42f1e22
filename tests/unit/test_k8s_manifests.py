"""The Kubernetes manifests generated beside the Helm values (infra/k8s/): valid objects for
the Kubernetes version we target, one volume per domain, nothing run as root, no secret in
them — and the pods the chart builds from our values are valid too."""

from __future__ import annotations

import copy

import kubernetes_validate
import pytest
import yaml

from mesh_platform.core.domain import discover_domain_dirs
from mesh_platform.production import helm, manifests

from ..conftest import REPO

# matchLabelKeys in pod affinity (the runs' placement next to their volume) is on by default
# from 1.31; kubernetes-validate ships that version's schemas (strict: unknown fields fail).
KUBERNETES = "1.31.0"
FILES = [manifests.VOLUMES_FILE, manifests.SOURCES_FILE, manifests.PORTAL_FILE]


def documents(path):
    return [d for d in yaml.safe_load_all((REPO / path).read_text()) if d]


def domains():
    return [d.name for d in discover_domain_dirs(REPO / "domains")]


def validate(document):
    kubernetes_validate.validate(document, KUBERNETES, strict=True)


@pytest.mark.parametrize("path", FILES, ids=str)
def test_every_generated_manifest_is_a_valid_kubernetes_object(path):
    docs = documents(path)
    assert docs
    for document in docs:
        validate(document)


def test_the_validation_catches_a_broken_manifest():
    claim = copy.deepcopy(documents(manifests.VOLUMES_FILE)[0])
    claim["spec"]["accessModes"] = "ReadWriteOnce"  # a list in Kubernetes
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(claim)
    claim = copy.deepcopy(documents(manifests.VOLUMES_FILE)[0])
    claim["spec"]["storageSize"] = "1Gi"  # no such field: strict schemas refuse it
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(claim)


def test_one_read_write_once_volume_per_domain_and_one_for_the_portal():
    claims = {c["metadata"]["name"]: c for c in documents(manifests.VOLUMES_FILE)}
    expected = {f"mesh-{d}-data" for d in domains()} | {manifests.PORTAL_CLAIM}
    assert set(claims) == expected
    for claim in claims.values():
        assert claim["kind"] == "PersistentVolumeClaim"
        assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claims["mesh-playback-data"]["spec"]["resources"]["requests"]["storage"] == "50Gi"


def test_each_source_job_writes_only_its_own_domains_volume():
    jobs = documents(manifests.SOURCES_FILE)
    assert sorted(j["metadata"]["name"] for j in jobs) == sorted(
        f"mesh-{d}-sources" for d in domains()
    )
    for job in jobs:
        domain = job["metadata"]["name"].removeprefix("mesh-").removesuffix("-sources")
        pod = job["spec"]["template"]["spec"]
        assert [v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"]] == [
            f"mesh-{domain}-data"
        ]
        assert pod["containers"][0]["args"] == ["mesh", "generate"]


def pods():
    """Every pod template of the manifests and the code-server pods the chart renders."""
    for path in (manifests.SOURCES_FILE, manifests.PORTAL_FILE):
        for document in documents(path):
            if "template" in document["spec"]:
                yield document["spec"]["template"]["spec"]


def test_nothing_runs_as_root_and_every_container_is_bounded():
    for pod in pods():
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["fsGroup"] == 10001
        for container in pod["containers"]:
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert container["resources"]["limits"]["memory"]
            assert container["resources"]["requests"]["cpu"]


def test_no_secret_value_in_any_generated_file():
    for path in [*FILES, helm.VALUES_FILE]:
        text = (REPO / path).read_text()
        for document in yaml.safe_load_all(text):
            for env in _env_entries(document):
                if any(w in env["name"] for w in ("SECRET", "KEY_ID", "PASSWORD", "CATALOG")):
                    assert "value" not in env and "secretKeyRef" in env["valueFrom"], env


def _env_entries(node):
    if isinstance(node, dict):
        if isinstance(node.get("env"), list):
            yield from node["env"]
        for value in node.values():
            yield from _env_entries(value)
    elif isinstance(node, list):
        for value in node:
            yield from _env_entries(value)


def test_the_portal_is_a_deployment_and_service_serving_mesh_portal():
    deployment, service = documents(manifests.PORTAL_FILE)
    assert (deployment["kind"], service["kind"]) == ("Deployment", "Service")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][:2] == ["mesh", "portal"]
    port = int(container["args"][container["args"].index("--port") + 1])
    assert container["ports"][0]["containerPort"] == port
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    env = {e["name"] for e in container["env"]}
    assert {"MESH_PORTS_URI", "MESH_PORTS_CATALOG", "AWS_ACCESS_KEY_ID"} <= env


def test_the_code_server_pods_the_chart_builds_from_our_values_are_valid():
    """The chart copies a deployment's image, env, resources, security contexts, affinity and
    volumes into its pod: built the same way here, each must be a valid Pod."""
    values = yaml.safe_load((REPO / helm.VALUES_FILE).read_text())
    for d in values["dagster-user-deployments"]["deployments"]:
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": d["name"], "labels": d["labels"]},
            "spec": {
                "securityContext": d["podSecurityContext"],
                "affinity": d["affinity"],
                "volumes": d["volumes"],
                "containers": [
                    {
                        "name": "dagster",
                        "image": f"{d['image']['repository']}:{d['image']['tag']}",
                        "args": ["dagster", "code-server", "start", *d["codeServerArgs"]],
                        "env": d["env"],
                        "envFrom": [{"secretRef": s} for s in d["envSecrets"]],
                        "resources": d["resources"],
                        "securityContext": d["securityContext"],
                        "volumeMounts": d["volumeMounts"],
                    }
                ],
            },
        }
        validate(pod)
    runs = values["runLauncher"]["config"]["k8sRunLauncher"]
    run_pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "run"},
        "spec": {
            **runs["runK8sConfig"]["podSpecConfig"],
            "containers": [
                {"name": "run", "image": "x:1", "securityContext": runs["securityContext"]}
            ],
        },
    }
    validate(run_pod)
