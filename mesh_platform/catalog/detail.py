"""Everything a consumer wants on one page about a product, as plain data.

The CLI (`mesh catalog show`), the portal's product page and the HTTP API all render this one
structure, so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from mesh_platform.catalog.catalog import Catalog
from mesh_platform.catalog.entries import PortEntry, ProductEntry
from mesh_platform.catalog.history import (
    PortHistory,
    build_state,
    data_times,
    freshness,
    port_history,
)


def _compliance(governance: dict[str, Any] | None) -> dict[str, Any]:
    if governance is None:
        return {"status": "not evaluated yet", "findings": []}
    findings = governance.get("findings") or []
    errors = [f for f in findings if f.get("severity") == "error"]
    status = "compliant" if governance.get("passed") and not errors else "not compliant"
    return {"status": status, "findings": findings, "run_id": governance.get("run_id")}


def _build(port, history) -> dict[str, Any] | None:
    state = build_state(port, history)
    return asdict(state) if state else None


def automation_state(instance: Any, product: ProductEntry) -> str:
    """``on`` or ``off`` as the product's schedule (or its domain's automation sensor) is in
    Dagster; ``unknown`` when there is no Dagster instance to ask."""
    if instance is None:
        return "unknown"
    from mesh_platform.build import run_history

    states = run_history.automation_states(
        instance, [(product.domain, product.name, product.automation_kind)]
    )
    return states[product.key]


def product_summary(product: ProductEntry) -> dict[str, Any]:
    """The header fields every listing and page of a product shares."""
    return {
        "key": product.key,
        "domain": product.domain,
        "name": product.name,
        "description": product.description,
        "owner": {"team": product.owner_team, "contact": product.owner_contact},
        "tier": product.tier,
        "status": product.status,
        "classification": product.classification,
        "tags": list(product.tags),
        "caveats": list(product.caveats),
    }


def product_detail(
    catalog: Catalog,
    key: str,
    instance: Any = None,
    usage: dict[str, Any] | None = None,
    access: dict[str, Any] | None = None,
    history: Callable[[Any, PortEntry], PortHistory] = port_history,
) -> dict[str, Any]:
    """``access``: per port label, what the viewing user may see (from the access policy);
    ``history``: reads a port's history from the instance (the portal's caches it)."""
    product = catalog.product(key)
    histories = [history(instance, p) for p in product.ports] if instance is not None else []
    ports = []
    for index, port in enumerate(product.ports):
        published = port.published
        ports.append(
            {
                "address": port.address,
                "version": port.version,
                "label": port.label,
                "model": port.model,
                "description": port.description,
                "owner": {"team": port.owner_team, "contact": port.owner_contact},
                "deprecation_date": port.deprecation_date,
                "example": port.example,
                "contract_file": port.contract_file,
                "columns": [{**asdict(c), "personal": c.personal} for c in port.columns],
                "published": published.to_json() if published else None,
                "compliance": _compliance(port.governance),
                "history": histories[index].to_json() if histories else None,
                "build": _build(port, histories[index]) if histories else None,
                "access": (access or {}).get(port.label),
            }
        )
    fresh = freshness(product, data_times(catalog, [key]).get(key))
    usage_entry = (usage or {}).get(key)
    return {
        **product_summary(product),
        "slo_freshness_hours": product.slo_freshness_hours,
        "freshness": asdict(fresh),
        "automation": product.automation,
        "automation_state": automation_state(instance, product),
        "partitioning": product.partitioning,
        "inputs": [asdict(i) for i in product.inputs],
        "upstream": product.upstream,
        "downstream": list(product.downstream),
        "ports": ports,
        "usage": usage_entry.to_json() if usage_entry else None,
        "descriptor_file": product.descriptor_file,
    }


def access_summary(service: Any, user_id: str | None, key: str) -> dict[str, Any]:
    """Per port of product ``key``: can the user read it, and which columns stay hidden."""
    if not user_id:
        return {}
    user = service.user(user_id)
    policy = service.policy
    found = {}
    for port in service.catalog.product(key).ports:
        decision = policy.read(user, port)
        found[port.label] = {
            "user": user.id,
            "can_read": decision.allowed,
            "personal_data": decision.personal_data,
            "hidden_columns": [] if decision.personal_data else list(port.personal_columns),
            "why": decision.why,
        }
    return found
