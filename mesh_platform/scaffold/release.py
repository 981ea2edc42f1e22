"""``mesh release DOMAIN.PRODUCT``: a draft product becomes released, freezing its majors.

A draft (``status: draft`` in its descriptor, what ``mesh new product`` writes) may change its
schema in any way and no other domain may read it. Releasing it is the owner's promise: from
then on the versioning policy holds — a breaking change needs a new major — and other domains
may declare its ports as inputs. The baseline that promise is checked against is the schema
each port was last published with, so a draft is released only once it is published as
declared (else v1 would be frozen as something nobody declared).
"""

from __future__ import annotations

import re

from mesh_platform.core import yaml_io
from mesh_platform.core.declared_schema import declared_port_schema
from mesh_platform.core.domain import load_domain
from mesh_platform.core.environment import MeshEnvironment
from mesh_platform.governance.schema_diff import breaking_changes, diff_port_schemas
from mesh_platform.ports.records import read_published_schema
from mesh_platform.scaffold import names
from mesh_platform.scaffold.plan import Plan, ScaffoldError

STATUS_LINE = re.compile(r"^status:\s*['\"]?draft['\"]?\s*(#.*)?$", re.MULTILINE)


def plan_release(env: MeshEnvironment, domain: str, product: str) -> Plan:
    """The descriptor edit releasing ``domain.product``; raises :class:`ScaffoldError` when it
    is not a draft, or when a port's published draft differs from its declaration."""
    names.check_domain(env, domain)
    loaded = load_domain(env.domains_dir / domain)
    spec = next((p for p in loaded.products if p.name == product), None)
    if spec is None:
        known = ", ".join(sorted(p.name for p in loaded.products)) or "none"
        raise ScaffoldError(f"unknown product {domain}.{product}; products of {domain}: {known}")
    if not spec.is_draft:
        raise ScaffoldError(f"{domain}.{product} is already released: nothing to do")
    for port in spec.output_ports:
        published = read_published_schema(env.ports_dir, domain, port.name, port.version)
        declared = declared_port_schema(env.repo_root, spec, port)
        if published and breaking_changes(diff_port_schemas(published, declared)):
            raise ScaffoldError(
                f"{spec.address(port)} v{port.version} was last published with another schema "
                f"than it declares now; releasing would freeze v{port.version} as published. "
                f"Run `mesh materialize {domain}` first, then `mesh release {domain}.{product}`"
            )
    relative = f"domains/{domain}/products/{product}.yaml"
    plan = Plan(env.repo_root)
    text = plan.current(relative)
    if text is None or not STATUS_LINE.search(text):
        raise ScaffoldError(
            f"could not find the line `status: draft` in {relative}; set `status: released` "
            "there by hand"
        )
    released = STATUS_LINE.sub("status: released", text, count=1)
    if (yaml_io.safe_load(released) or {}).get("status") != "released":
        raise ScaffoldError(f"could not edit {relative} automatically; edit it by hand")
    plan.write(relative, released)
    plan.notes.append(
        f"{domain}.{product} is released: its schema is frozen per major (a breaking change "
        "needs a new major), and other domains may now read its ports"
    )
    if not all(
        read_published_schema(env.ports_dir, domain, p.name, p.version) for p in spec.output_ports
    ):
        plan.notes.append(f"not published yet: v1 freezes at the next `mesh materialize {domain}`")
    return plan
