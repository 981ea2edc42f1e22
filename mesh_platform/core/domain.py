"""Domains: the business areas of the mesh, each one code location under ``domains/<name>/``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from mesh_platform.core import yaml_io
from mesh_platform.core.deployment import DomainDeployment
from mesh_platform.core.descriptor import (
    NAME_PATTERN,
    DataProduct,
    DescriptorError,
    Owner,
    _Strict,
    load_domain_descriptors,
)
from mesh_platform.core.engine import DEFAULT_ENGINE, EngineName, resolve_engine


class DomainSpec(_Strict):
    name: str
    description: str
    owner: Owner
    # the dbt target the domain's models build on (core/engine.py); MESH_ENGINE overrides it
    engine: EngineName = DEFAULT_ENGINE
    # how the domain runs on Kubernetes (core/deployment.py); absent: the mesh's defaults
    deployment: DomainDeployment | None = None


@dataclass(frozen=True)
class Domain:
    """A domain with its validated products; the unit the platform builds definitions for."""

    spec: DomainSpec
    path: Path
    products: tuple[DataProduct, ...]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def engine(self) -> EngineName:
        """The engine this run builds the domain on (``MESH_ENGINE`` wins over domain.yaml)."""
        return resolve_engine(self.spec.engine)

    def contract_path(self, relative: str) -> Path:
        return self.path / relative


def load_domain(domain_dir: Path) -> Domain:
    """Load ``domain.yaml`` and every product descriptor of one domain folder."""
    meta_file = domain_dir / "domain.yaml"
    if not meta_file.exists():
        raise DescriptorError(
            f"{domain_dir} has no domain.yaml; every domain declares its name, description "
            "and owner there"
        )
    try:
        spec = DomainSpec.model_validate(yaml_io.safe_load(meta_file.read_text()))
    except ValidationError as exc:
        fields = "; ".join(f"`{'.'.join(map(str, e['loc']))}`: {e['msg']}" for e in exc.errors())
        raise DescriptorError(f"invalid domain file {meta_file}: {fields}") from None
    if spec.name != domain_dir.name:
        raise DescriptorError(
            f"{meta_file}: field `name` is {spec.name!r} but the folder is {domain_dir.name!r}"
        )
    if not re.fullmatch(NAME_PATTERN, spec.name):
        raise DescriptorError(f"{meta_file}: domain name {spec.name!r} must match {NAME_PATTERN}")
    # A domain just created by `mesh new domain` has no product yet: it loads, empty.
    products = tuple(load_domain_descriptors(domain_dir))
    return Domain(spec=spec, path=domain_dir, products=products)


def discover_domain_dirs(domains_dir: Path) -> list[Path]:
    """Every folder under ``domains/`` holding a ``domain.yaml``, sorted by name."""
    return sorted(p.parent for p in domains_dir.glob("*/domain.yaml"))


def load_all_domains(domains_dir: Path) -> list[Domain]:
    return [load_domain(d) for d in discover_domain_dirs(domains_dir)]
