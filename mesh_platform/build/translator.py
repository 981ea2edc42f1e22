"""The mesh's one dbt translator: asset keys, owners, tags and metadata from descriptors.

Driven by manifest data (folder = domain, source ``meta.mesh_port``) and by the domain's
descriptors — never by model names. A dbt source carrying ``meta.mesh_port: <domain>.<port>``
gets the asset key of that upstream output port, which is how lineage crosses code locations.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings

from mesh_platform.core.address import PortAddress
from mesh_platform.core.bindings import DomainBindings
from mesh_platform.core.environment import portal_url
from mesh_platform.core.manifest import domain_of, source_port_address
from mesh_platform.core.product_view import effective_owner

KIND_TAG_PREFIX = "dagster/kind/"

if TYPE_CHECKING:
    from mesh_platform.build.governance_check import GovernanceGate


def eager_condition(daily_deps: frozenset[dg.AssetKey]) -> dg.AutomationCondition:
    """Dagster's eager condition, except that missing days of daily-partitioned inputs do not
    block it: every day before the data began (and today, until it is run) is a missing
    partition, so plain ``eager()`` never fires downstream of a daily product. It still waits
    until each daily input has some day materialized; other missing inputs still block."""
    eager = dg.AutomationCondition.eager()
    if not daily_deps:
        return eager
    daily = dg.AssetSelection.assets(*daily_deps)
    return (
        eager.without(~dg.AutomationCondition.any_deps_missing())
        & ~dg.AutomationCondition.any_deps_missing().ignore(daily)
        # for every daily input, at least one of its days exists
        & dg.AutomationCondition.all_deps_match(~dg.AutomationCondition.missing()).allow(daily)
    ).with_label("eager (missing days of daily inputs allowed)")


class MeshDbtTranslator(DagsterDbtTranslator):
    def __init__(self, bindings: DomainBindings, gate: GovernanceGate | None = None):
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_code_references=False))
        self.bindings = bindings
        self.gate = gate
        # Daily-partitioned assets the domain reads: its own partitioned models and the daily
        # upstream ports. Eager products must not wait for every old day of these to exist
        # (days before the data began are missing forever).
        self.daily_inputs: frozenset[dg.AssetKey] = frozenset(
            {
                dg.AssetKey([self.domain, bindings.manifest["nodes"][uid]["name"]])
                for uid in bindings.partitioned
            }
            | {dg.AssetKey(up.asset_path) for up in bindings.upstream.values() if up.daily}
        )
        # Specs are asked for repeatedly (dagster-dbt, checks, schedules): built once per node.
        self._specs: dict[tuple[int, str], dg.AssetSpec] = {}

    @property
    def domain(self) -> str:
        return self.bindings.domain.name

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            upstream = self.bindings.upstream.get(dbt_resource_props["unique_id"])
            if upstream:  # the producer's asset of the port version this source reads
                return dg.AssetKey(upstream.asset_path)
            return dg.AssetKey(
                [
                    domain_of(dbt_resource_props),
                    dbt_resource_props["source_name"],
                    dbt_resource_props["name"],
                ]
            )
        return dg.AssetKey([domain_of(dbt_resource_props), dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        address = source_port_address(dbt_resource_props)
        return PortAddress.parse(address).domain if address else domain_of(dbt_resource_props)

    def get_description(self, dbt_resource_props: Mapping[str, Any]) -> str:
        """The dbt description, without dagster-dbt's raw (Jinja) SQL appended: the model's
        code is in the domain's dbt project."""
        description = (dbt_resource_props.get("description") or "").strip()
        kind = dbt_resource_props["resource_type"]
        return description or f"dbt {kind} {dbt_resource_props['name']} (no description)"

    def _port_table(self, binding) -> str:
        """The port's descriptor facts as one table (grouped, not one metadata key each)."""
        product, port = binding.product, binding.port
        rows = [
            ("Product", f"{product.domain}.{product.name} ({product.tier.value})"),
            ("Version", f"v{port.version}" + (" (draft)" if product.is_draft else "")),
            ("Kind", port.kind),
            ("Classification", product.classification.value),
            (
                "Contract",
                f"`{binding.contract.path.relative_to(self.bindings.domain.path.parent.parent)}`",
            ),
        ]
        if product.slo:
            rows.append(("Freshness SLO", f"{product.slo.freshness_hours:g} h"))
        if port.deprecation_date:
            rows.append(("Deprecated on", port.deprecation_date.isoformat()))
        body = "\n".join(f"| {k} | {v} |" for k, v in rows)
        return f"| Port | {binding.address} |\n|---|---|\n{body}"

    def get_asset_spec(self, manifest, unique_id, project) -> dg.AssetSpec:
        cache_key = (id(manifest), unique_id)
        if cache_key not in self._specs:
            self._specs[cache_key] = self._build_asset_spec(manifest, unique_id, project)
        return self._specs[cache_key]

    def _build_asset_spec(self, manifest, unique_id, project) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        node = manifest["nodes"].get(unique_id)
        if node is not None and node["resource_type"] == "seed":
            # raw data shipped with the domain's dbt project: the domain's team owns it
            owner = self.bindings.domain.spec.owner
            return spec.replace_attributes(
                owners=[f"team:{owner.team}"],
                tags={**spec.tags, "domain": self.domain, "layer": "seed"},
            )
        if node is None or node["resource_type"] != "model":
            return spec
        product = self.bindings.model_product.get(unique_id)
        binding = self.bindings.port_for(unique_id)
        domain = self.bindings.domain
        owner = (
            effective_owner(domain, product, binding and binding.port)
            if product
            else domain.spec.owner
        )
        layer = node["config"].get("schema") or "main"
        # dagster-dbt tags the kind of the adapter the manifest was parsed with (DuckDB); the
        # kind shown is the engine that builds the model (below)
        tags = {k: v for k, v in spec.tags.items() if not k.startswith(KIND_TAG_PREFIX)}
        tags |= {"domain": self.domain, "layer": layer}
        relation = node.get("alias") or node["name"]
        metadata: dict[str, Any] = {
            **spec.metadata,
            # the table in the domain's DuckDB file (named after the domain), not the database
            # of whatever profile the manifest happened to be parsed with
            "dagster/table_name": f"{self.domain}.{node.get('schema') or layer}.{relation}",
            "mesh/owner_contact": owner.contact,
            "dbt/contract_enforced": bool(node["config"].get("contract", {}).get("enforced")),
            # dagster-dbt leaves these out by default; consumers need them to judge a model
            **{f"dbt/{k}": str(node[k]) for k in ("version", "deprecation_date") if node.get(k)},
        }
        engine = domain.engine  # duckdb or spark: what builds the model (core/engine.py)
        metadata["mesh/engine"] = engine
        if engine == "spark":  # where the table is: the domain's Spark catalog, not its file
            metadata["dagster/table_name"] = f"spark_catalog.{layer}.{relation}"
        attrs: dict[str, Any] = {"owners": [f"team:{owner.team}"], "kinds": {"dbt", engine}}
        if not binding:
            # dbt's access within the domain's project (its ports are read through the
            # published snapshots, whatever dbt's access says, so a port does not show it)
            metadata["dbt/access"] = node.get("access")
        if product:
            tags |= {"product": product.name, "tier": product.tier.value}
            tags |= {f"tag/{t}": "" for t in product.tags}
            if product.is_draft:
                metadata["mesh/status"] = "draft"  # schema not frozen; no other domain reads it
            if product.automation.kind == "eager":
                daily_deps = {dep.asset_key for dep in spec.deps} & self.daily_inputs
                attrs["automation_condition"] = eager_condition(frozenset(daily_deps))
        if binding:
            port = binding.port
            tags |= {"output_port": "true", "classification": product.classification.value}
            metadata = {
                "mesh/portal": dg.MetadataValue.url(
                    f"{portal_url()}/products/{product.domain}/{product.name}"
                ),
                "mesh/address": binding.address,  # the version is in the port's table
                "mesh/port": dg.MetadataValue.md(self._port_table(binding)),
                **metadata,
            }
            # the product's description (with its caveats); the model's only when it has none
            caveats = "".join(f"\n\nCaveat: {c}" for c in product.caveats)
            attrs["description"] = (
                product.description.strip() + caveats
            ).strip() or spec.description
            if product.caveats:
                metadata["mesh/caveats"] = "\n".join(f"- {c}" for c in product.caveats)
            if self.gate:
                metadata |= self.gate.asset_metadata(binding)
            if port.example:
                metadata["mesh/example"] = dg.MetadataValue.md(f"```sql\n{port.example}\n```")
            if product.slo:
                attrs["freshness_policy"] = dg.FreshnessPolicy.time_window(
                    fail_window=timedelta(hours=product.slo.freshness_hours)
                )
        return spec.replace_attributes(tags=tags, metadata=metadata, **attrs)
