"""A tiny mesh on disk for policy tests: one compliant product, mutated one way per test.

Descriptor, Soda contract and dbt model YAML are real files read by the platform's real
loaders; the manifest nodes are built from the same YAML (what `dbt parse` would produce for
the fields the policies read), so a test needs no dbt run.
"""

from __future__ import annotations

import copy
import shutil
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from mesh_platform.core.bindings import bind_domain
from mesh_platform.core.domain import load_domain
from mesh_platform.governance.config import load_governance
from mesh_platform.governance.engine import GovernanceReport, evaluate

REPO = Path(__file__).resolve().parents[3]
TODAY = date(2026, 11, 22)

PRODUCT: dict[str, Any] = {
    "name": "daily_widgets",
    "domain": "shop",
    "description": "Widgets sold per day and listener, for the finance team's daily report.",
    "owner": {"team": "shop-team", "contact": "shop@daff.example"},
    "tier": "aggregate",
    "classification": "internal",
    "input_ports": [{"kind": "output_port", "port": "orders.orders"}],
    "output_ports": [
        {
            "name": "daily_widgets",
            "model": "daily_widgets",
            "version": 1,
            "contract": "contracts/daily_widgets.yaml",
            "example": "select sold_on, sum(widgets) from shop.daily_widgets group by sold_on",
        }
    ],
    "slo": {"freshness_hours": 26},
    "automation": {"kind": "eager"},
}

COLUMNS: list[dict[str, Any]] = [
    {"name": "sold_on", "description": "Day of the sale.", "data_type": "date"},
    {"name": "listener_id", "description": "Who bought.", "data_type": "bigint"},
    {"name": "widgets", "description": "Widgets sold.", "data_type": "bigint"},
    {"name": "updated_at", "description": "Last change.", "data_type": "timestamp"},
]

CONTRACT: dict[str, Any] = {
    "dataset": "shop/marts/daily_widgets",
    "columns": [
        {"name": "sold_on", "data_type": "date", "checks": [{"missing": None}]},
        {"name": "listener_id", "data_type": "bigint", "checks": [{"missing": None}]},
        {"name": "widgets", "data_type": "bigint"},
        {"name": "updated_at", "data_type": "timestamp"},
    ],
    "checks": [{"schema": None}, {"row_count": None}],
}

SQL = "select * from {{ ref('stg_orders_ports__orders') }}"
SOURCE_LOCATION = "read_parquet('{{ env_var('MESH_PORTS_DIR') }}/orders/{name}/v1/current.parquet')"


@dataclass
class FixtureMesh:
    """Edit ``product``, ``columns``, ``contract``, ``model``, ``staging``, ``source`` then
    ``report()``."""

    root: Path
    product: dict[str, Any]
    columns: list[dict[str, Any]]
    contract: dict[str, Any]
    model: dict[str, Any]
    staging: dict[str, Any]
    source: dict[str, Any]
    more_sources: list[dict[str, Any]] = field(default_factory=list)  # full source nodes
    draft_ports: set[str] = field(default_factory=set)  # draft products' ports elsewhere

    def write(self) -> None:
        # the real governance files, with the fixture's team registered for its domain
        governance = self.root / "governance"
        if not governance.exists():
            shutil.copytree(REPO / "governance", governance)
            teams = yaml.safe_load((governance / "teams.yaml").read_text())
            teams["teams"]["shop-team"] = {"contact": "shop@daff.example", "domain": "shop"}
            (governance / "teams.yaml").write_text(yaml.safe_dump(teams))
        shop = self.root / "domains" / "shop"
        (shop / "products").mkdir(parents=True, exist_ok=True)
        (shop / "contracts").mkdir(parents=True, exist_ok=True)
        (shop / "domain.yaml").write_text(
            yaml.safe_dump(
                {
                    "name": "shop",
                    "description": "The shop.",
                    "owner": {"team": "shop-team", "contact": "shop@daff.example"},
                }
            )
        )
        (shop / "products" / "daily_widgets.yaml").write_text(yaml.safe_dump(self.product))
        (shop / "contracts" / "daily_widgets.yaml").write_text(yaml.safe_dump(self.contract))
        marts = self.root / "dbt_project" / "shop" / "models" / "marts"
        marts.mkdir(parents=True, exist_ok=True)
        (marts / "daily_widgets.yml").write_text(
            yaml.safe_dump(
                {
                    "models": [
                        {
                            "name": "daily_widgets",
                            "description": "Widgets per day.",
                            "columns": self.columns,
                        }
                    ]
                }
            )
        )

    def manifest(self) -> dict[str, Any]:
        columns = {}
        for col in self.columns:
            meta = (col.get("config") or {}).get("meta") or {}
            columns[col["name"]] = {**col, "meta": meta}
        model = {
            "unique_id": "model.shop.daily_widgets",
            "resource_type": "model",
            "mesh_domain": "shop",
            "name": "daily_widgets",
            "fqn": ["shop", "marts", "daily_widgets"],
            "group": "shop",
            "access": "private",
            "config": {"schema": "marts", "contract": {"enforced": True}},
            "columns": columns,
            "original_file_path": "models/marts/daily_widgets.sql",
            "patch_path": "shop://models/marts/daily_widgets.yml",
            "raw_code": "select * from {{ ref('stg_orders_ports__orders') }}",
            "depends_on": {"nodes": ["model.shop.stg_orders_ports__orders"]},
            **self.model,
        }
        staging = {
            "unique_id": "model.shop.stg_orders_ports__orders",
            "resource_type": "model",
            "mesh_domain": "shop",
            "name": "stg_orders_ports__orders",
            "fqn": ["shop", "staging", "stg_orders_ports__orders"],
            "group": "shop",
            "access": "private",
            "config": {"schema": "staging"},
            "columns": {},
            "original_file_path": "models/staging/stg_orders_ports__orders.sql",
            "raw_code": "select * from {{ source('shop_orders_ports', 'orders') }}",
            "depends_on": {"nodes": ["source.shop.shop_orders_ports.orders"]},
            **self.staging,
        }
        source = {
            "unique_id": "source.shop.shop_orders_ports.orders",
            "resource_type": "source",
            "mesh_domain": "shop",
            "source_name": "shop_orders_ports",
            "name": "orders",
            "fqn": ["shop", "staging", "shop_orders_ports", "orders"],
            "source_meta": {"external_location": SOURCE_LOCATION},
            "meta": {"mesh_port": "orders.orders"},
            **self.source,
        }
        return {
            "nodes": {model["unique_id"]: model, staging["unique_id"]: staging},
            "sources": {
                source["unique_id"]: source,
                **{extra["unique_id"]: extra for extra in self.more_sources},
            },
        }

    def report(self, declared: dict[str, set[int]] | None = None) -> GovernanceReport:
        self.write()
        manifest = self.manifest()
        bindings = bind_domain(load_domain(self.root / "domains" / "shop"), manifest)
        declared = declared or {"orders.orders": {1}, "shop.daily_widgets": {1}}
        return evaluate(
            [bindings],
            manifest,
            load_governance(self.root / "governance"),
            declared,
            today=TODAY,
            draft_ports=self.draft_ports,
        )

    def lines(self, **kwargs: Any) -> list[str]:
        return [f.line() for f in self.report(**kwargs).findings]


def fixture_mesh(root: Path) -> FixtureMesh:
    return FixtureMesh(
        root=root,
        product=copy.deepcopy(PRODUCT),
        columns=copy.deepcopy(COLUMNS),
        contract=copy.deepcopy(CONTRACT),
        model={},
        staging={},
        source={},
    )
