"""What each domain gets on Kubernetes, resolved once for every generated file.

The Helm values, the volumes, the source-loading Jobs and the portal all need the same answers
— which image and tag a domain runs, what its runs may use, where ports live, which user the
pods run as — so they are decided here, from the mesh's settings (``[tool.mesh]``), the
command's options and each domain's optional ``deployment`` block (core/deployment.py), and
the generators only lay them out.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from mesh_platform.core.deployment import DomainDeployment, memory_bytes
from mesh_platform.core.domain import load_all_domains
from mesh_platform.core.environment import MeshEnvironment
from mesh_platform.core.settings import mesh_settings

# Overridden by `[tool.mesh]` keys of the same name (lower case) where noted.
DEFAULT_IMAGE = "localhost/mesh-code"  # `image`
DEFAULT_LABEL_PREFIX = "mesh"  # `label_prefix`
DEFAULT_TAG = "0.1.0"
# A domain's run without `deployment.run` in its domain.yaml (`run_memory`, `run_cpu`): the
# benchmark's three downstream domains peaked at 10.2 GiB together at scale 50 with two
# building at once and ~1.2 GiB of Python processes (bench/results/scale-50-ab.md, stop 18),
# so ~4.5 GiB per domain; 6Gi leaves headroom. The largest domain declares its own.
DEFAULT_RUN_MEMORY = "6Gi"
DEFAULT_RUN_CPU = "1"
# A domain's data volume (`volume_size`; `deployment.volume` in domain.yaml): its DuckDB file,
# its sources where they are files, dbt's artifacts.
DEFAULT_VOLUME_SIZE = "20Gi"
# DuckDB's bound inside a run pod, as a share of the pod's memory limit: the rest is the run
# worker, dbt and Soda in the same container. DuckDB spills past it instead of being OOM-killed.
DUCKDB_SHARE = 0.7
# Where ports live in production (`ports_uri`, `aws_region`; `--ports-uri` etc. win).
DEFAULT_PORTS_URI = "s3://mesh-ports/ports"
DEFAULT_AWS_REGION = "eu-west-1"
# The non-root user of infra/Dockerfile (tests check the Dockerfile still creates it).
MESH_UID = 10001
MESH_DATA_MOUNT = "/var/lib/mesh"
# The Kubernetes secrets the pods read (created by the operator, never generated).
OBJECT_STORAGE_SECRET_NAME = "mesh-object-storage"
PORTS_CATALOG_SECRET_NAME = "mesh-ports-catalog"


def chart_version() -> str:
    """The official Dagster chart is released with Dagster's own version: pin the chart to the
    Dagster the image installs, so the daemon and webserver match the code servers."""
    return metadata.version("dagster")


def k8s_name(domain: str) -> str:
    """A Kubernetes-safe name for a domain (DNS-1123: no underscores)."""
    return domain.replace("_", "-")


def volume_claim(domain: str) -> str:
    return f"mesh-{k8s_name(domain)}-data"


@dataclass(frozen=True)
class DomainPlan:
    name: str
    team: str
    image: str
    tag: str
    run_memory: str
    run_cpu: str
    volume_size: str

    @property
    def k8s_name(self) -> str:
        return k8s_name(self.name)

    @property
    def volume_claim(self) -> str:
        return volume_claim(self.name)

    @property
    def duckdb_memory_limit(self) -> str:
        """``MESH_DUCKDB_MEMORY_LIMIT`` for the domain's pods, in MB (DuckDB's unit)."""
        return f"{int(memory_bytes(self.run_memory) * DUCKDB_SHARE / 10**6)}MB"


@dataclass(frozen=True)
class ClusterPlan:
    """Everything the generators need; ``domains`` in name order."""

    image: str
    tag: str
    label_prefix: str
    ports_uri: str
    aws_region: str
    aws_endpoint_url: str | None
    domains: tuple[DomainPlan, ...]
    repo_root: Path

    @property
    def chart_version(self) -> str:
        return chart_version()


def _check_ports_uri(uri: str) -> str:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not bucket or not prefix.strip("/"):
        raise ValueError(
            f"ports URI {uri!r} must be s3://<bucket>/<prefix> (e.g. {DEFAULT_PORTS_URI})"
        )
    return uri.rstrip("/")


def cluster_plan(
    env: MeshEnvironment,
    image: str | None = None,
    tag: str = DEFAULT_TAG,
    teams: dict[str, str] | None = None,
    ports_uri: str | None = None,
    aws_region: str | None = None,
    aws_endpoint_url: str | None = None,
    specs: dict[str, DomainDeployment | None] | None = None,
) -> ClusterPlan:
    """The plan for every domain under ``env.domains_dir`` (or those in ``teams``, domain ->
    owner team, for a change not yet on disk: such a domain gets its entry of ``specs``, e.g.
    a renamed domain its old ``deployment`` block, else the defaults)."""
    settings = mesh_settings(env.repo_root)
    on_disk = {d.name: d.spec.deployment for d in load_all_domains(env.domains_dir)}
    known = {**on_disk, **(specs or {})}
    if teams is None:
        teams = {d.name: d.spec.owner.team for d in load_all_domains(env.domains_dir)}
    image = image or settings.get("image", DEFAULT_IMAGE)
    memory = settings.get("run_memory", DEFAULT_RUN_MEMORY)
    cpu = str(settings.get("run_cpu", DEFAULT_RUN_CPU))
    volume = settings.get("volume_size", DEFAULT_VOLUME_SIZE)
    plans = []
    for name in sorted(teams):
        spec = known.get(name) or DomainDeployment()
        plans.append(
            DomainPlan(
                name=name,
                team=teams[name],
                image=spec.image or image,
                tag=spec.tag or tag,
                run_memory=spec.run.memory or memory,
                run_cpu=spec.run.cpu or cpu,
                volume_size=spec.volume or volume,
            )
        )
    return ClusterPlan(
        image=image,
        tag=tag,
        label_prefix=settings.get("label_prefix", DEFAULT_LABEL_PREFIX),
        ports_uri=_check_ports_uri(ports_uri or settings.get("ports_uri", DEFAULT_PORTS_URI)),
        aws_region=aws_region or settings.get("aws_region", DEFAULT_AWS_REGION),
        aws_endpoint_url=aws_endpoint_url or settings.get("aws_endpoint_url"),
        domains=tuple(plans),
        repo_root=env.repo_root,
    )


def ports_env(plan: ClusterPlan) -> list[dict]:
    """Where ports and their Iceberg catalog are, for every pod that reads or writes ports.

    Plain values for the location; the credentials and the catalog's URL (it embeds the
    database password) only as references to Kubernetes secrets.
    """
    env: list[dict] = [
        {"name": "MESH_PORTS_URI", "value": plan.ports_uri},
        {"name": "AWS_REGION", "value": plan.aws_region},
    ]
    if plan.aws_endpoint_url:
        env.append({"name": "AWS_ENDPOINT_URL", "value": plan.aws_endpoint_url})
    secrets = [
        ("AWS_ACCESS_KEY_ID", OBJECT_STORAGE_SECRET_NAME, "access-key-id"),
        ("AWS_SECRET_ACCESS_KEY", OBJECT_STORAGE_SECRET_NAME, "secret-access-key"),
        ("MESH_PORTS_CATALOG", PORTS_CATALOG_SECRET_NAME, "uri"),
    ]
    env += [
        {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
        for name, secret, key in secrets
    ]
    return env


def pod_security_context() -> dict:
    """The Dockerfile's non-root user; ``fsGroup`` makes mounted volumes writable by it."""
    return {
        "runAsNonRoot": True,
        "runAsUser": MESH_UID,
        "runAsGroup": MESH_UID,
        "fsGroup": MESH_UID,
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context() -> dict:
    return {
        "runAsNonRoot": True,
        "runAsUser": MESH_UID,
        "runAsGroup": MESH_UID,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }
