"""Every static policy: the compliant fixture has no finding, each violation one exact line."""

from __future__ import annotations

import pytest

from tests.unit.governance.fixture_mesh import fixture_mesh


def _col(mesh, name):
    return next(c for c in mesh.columns if c["name"] == name)


def _port(mesh):
    return mesh.product["output_ports"][0]


def _no_owner(m):
    del m.product["owner"]


def _unknown_team(m):
    m.product["owner"] = {"team": "ghost-team", "contact": "ghost@daff.example"}


def _outside_contact(m):
    m.product["owner"]["contact"] = "someone@gmail.com"


def _short_description(m):
    m.product["description"] = "Widgets."


def _undocumented_column(m):
    _col(m, "widgets")["description"] = ""


def _no_example(m):
    del _port(m)["example"]


def _example_elsewhere(m):
    _port(m)["example"] = "select * from widgets"


def _contract_not_enforced(m):
    m.model["config"] = {"schema": "marts", "contract": {"enforced": False}}


def _column_outside_contract(m):
    m.contract["columns"] = [c for c in m.contract["columns"] if c["name"] != "widgets"]


def _contract_column_not_in_model(m):
    m.contract["columns"].append({"name": "ghost", "data_type": "varchar"})


def _key_without_check(m):
    _contract_col = next(c for c in m.contract["columns"] if c["name"] == "listener_id")
    _contract_col.pop("checks")


def _no_slo(m):
    del m.product["slo"]


def _unclassified_email(m):
    m.columns.append({"name": "buyer_email", "description": "E-mail.", "data_type": "varchar"})
    m.contract["columns"].append({"name": "buyer_email", "data_type": "varchar"})


def _raw_email(m):
    m.product["classification"] = "confidential"
    m.columns.append(
        {
            "name": "buyer_email",
            "description": "E-mail.",
            "data_type": "varchar",
            "config": {"meta": {"pii": {"category": "email", "treatment": "raw"}}},
        }
    )
    m.contract["columns"].append({"name": "buyer_email", "data_type": "varchar"})


def _hashed_email_on_internal_product(m):
    m.columns.append(
        {
            "name": "buyer_email_sha256",
            "description": "Hashed e-mail.",
            "data_type": "varchar",
            "config": {"meta": {"pii": {"category": "email", "treatment": "hashed"}}},
        }
    )
    m.contract["columns"].append({"name": "buyer_email_sha256", "data_type": "varchar"})


def _invalid_classification(m):
    _col(m, "widgets")["config"] = {"meta": {"pii": "yes"}}


def _carries_pii_not_restricted(m):
    _port(m)["carries_pii"] = True


def _port_name_with_version(m):
    m.product["name"] = "daily_widgets"
    _port(m)["name"] = "daily_widgets_v1"
    _port(m)["example"] = "select * from shop.daily_widgets_v1"


def _timestamp_without_suffix(m):
    _col(m, "updated_at")["name"] = "updated"
    next(c for c in m.contract["columns"] if c["name"] == "updated_at")["name"] = "updated"


def _shared_key_mistyped(m):
    _col(m, "listener_id")["data_type"] = "varchar"


def _model_not_private(m):
    m.model["access"] = "protected"


def _direct_file_read(m):
    m.model["raw_code"] = "select * from read_parquet('/data/ports/orders/orders/v1/x.parquet')"


def _source_of_other_domain(m):
    m.source["mesh_domain"] = "orders"  # as if parsed from domain orders' project
    m.source["meta"] = {}
    m.source["source_meta"] = {}
    m.source["source_name"] = "registration"


def _undeclared_port_source(m):
    m.source["meta"] = {"mesh_port": "orders.refunds"}


def _input_port_not_declared(m):
    m.product["input_ports"] = [{"kind": "database", "source": "shop_db.orders"}]
    m.product["automation"] = {"kind": "schedule", "cron": "0 3 * * *"}


def _malformed_port_address(m):
    m.source["meta"] = {"mesh_port": "orders"}


def _source_reads_another_port_file(m):
    m.source["source_meta"] = {
        "external_location": "read_parquet('{{ env_var('MESH_PORTS_DIR') }}/orders/refunds/v1/"
        "current.parquet')"
    }


def _undeclared_operational_source(m):
    # the staging model also reads the shop's CRM export, which the descriptor does not declare
    m.more_sources.append(
        {
            "unique_id": "source.shop.shop_crm.customers",
            "resource_type": "source",
            "mesh_domain": "shop",
            "source_name": "shop_crm",
            "name": "customers",
            "fqn": ["shop", "staging", "shop_crm", "customers"],
            "source_meta": {},
            "meta": {"external_location": "read_csv('{{ env_var('X') }}/crm/*.csv')"},
        }
    )
    m.staging["depends_on"] = {
        "nodes": [
            "source.shop.shop_orders_ports.orders",
            "source.shop.shop_crm.customers",
        ]
    }


def _team_of_another_domain(m):
    m.product["owner"] = {"team": "listeners-team", "contact": "listeners@daff.example"}


def _column_without_type(m):
    _col(m, "widgets").pop("data_type")
    next(c for c in m.contract["columns"] if c["name"] == "widgets").pop("data_type")


def _file_literal_in_sql(m):
    m.model["raw_code"] = "select * from '/data/ports/orders/orders/v1/current.parquet'"


def _partition_column_missing(m):
    m.product["partitioning"] = {"kind": "daily", "start": "2026-01-01", "column": "sold_at"}


def _partition_column_not_a_date(m):
    m.product["partitioning"] = {"kind": "daily", "start": "2026-01-01", "column": "widgets"}


def _upstream_is_a_draft(m):
    m.draft_ports.add("orders.orders")


MUTATIONS = {
    name.lstrip("_"): fn
    for name, fn in list(globals().items())
    if name.startswith("_") and callable(fn) and name not in {"_col", "_port"}
}


# The exact report line(s) each violation produces (policy, where, field, message, fix).
EXPECTED = {
    "upstream_is_a_draft": [
        "[error] boundaries.no-draft-inputs — domain shop, product daily_widgets, field "
        "`input_ports[0]`: shop.daily_widgets declares orders.orders as an input, but "
        "orders.orders is a draft: its schema may still change. Fix: the owner of "
        "orders.orders runs `mesh release orders.orders` once its schema is settled; until "
        "then remove the input from domains/shop/products/daily_widgets.yaml."
    ],
    "no_owner": [
        "[error] ownership.owner — domain shop, product daily_widgets, field `owner`: "
        "the product has no owner team and contact. Fix: add `owner: {team: <team>, "
        "contact: <e-mail>}` to domains/shop/products/daily_widgets.yaml."
    ],
    "unknown_team": [
        "[error] ownership.registered-team — domain shop, product daily_widgets, "
        "field `owner.team`: owner team 'ghost-team' is not registered with the "
        "governance group. Fix: use a team listed in governance/teams.yaml "
        "(artists-team, listeners-team, playback-team, podcasts-team, "
        "recommendations-team, shop-team) or ask the governance group to register "
        "it."
    ],
    "outside_contact": [
        "[error] ownership.registered-team — domain shop, product daily_widgets, "
        "field `owner.contact`: contact 'someone@gmail.com' is not a company "
        "address (daff.example), so consumers cannot reach the team. Fix: set a "
        "team mailbox at daff.example in "
        "domains/shop/products/daily_widgets.yaml."
    ],
    "short_description": [
        "[error] documentation.product-description — domain shop, product "
        "daily_widgets, field `description`: the product description has 8 "
        "characters; at least 40 are needed to say what the data is and who it "
        "is for. Fix: write a `description` in "
        "domains/shop/products/daily_widgets.yaml: what one row is, where it "
        "comes from, what it is for."
    ],
    "undocumented_column": [
        "[error] documentation.column-description — domain shop, product "
        "daily_widgets, port shop.daily_widgets v1, field `widgets`: column "
        "`widgets` of model daily_widgets has no description. Fix: add a "
        "`description` to column `widgets` in "
        "dbt_project/shop/models/marts/daily_widgets.yml."
    ],
    "no_example": [
        "[error] documentation.usage-example — domain shop, product daily_widgets, "
        "port shop.daily_widgets v1, field `output_ports[0].example`: the port has no "
        "usage example. Fix: add `example:` with a SQL query over `shop.daily_widgets` "
        "to the port in domains/shop/products/daily_widgets.yaml."
    ],
    "example_elsewhere": [
        "[error] documentation.usage-example — domain shop, product "
        "daily_widgets, port shop.daily_widgets v1, field "
        "`output_ports[0].example`: the usage example does not query the port "
        "by its address `shop.daily_widgets`. Fix: write the example as `select "
        "… from shop.daily_widgets …`."
    ],
    "contract_not_enforced": [
        "[error] contract.dbt-enforced — domain shop, product "
        "daily_widgets, port shop.daily_widgets v1, field "
        "`config.contract.enforced`: the dbt model daily_widgets backing "
        "the port has no enforced contract, so dbt does not check its "
        "schema at build time. Fix: set `config: {contract: {enforced: "
        "true}}` on the model in "
        "dbt_project/shop/models/marts/daily_widgets.yml (or `+contract` "
        "for the marts folder in dbt_project.yml) and give every column a "
        "`data_type`."
    ],
    "column_outside_contract": [
        "[error] contract.soda-columns — domain shop, product "
        "daily_widgets, port shop.daily_widgets v1, field `widgets`: "
        "column `widgets` is published but not in the Soda contract "
        "daily_widgets.yaml, so it is never verified. Fix: add `- name: "
        "widgets` with its `data_type` and checks to "
        "domains/shop/contracts/daily_widgets.yaml."
    ],
    "contract_column_not_in_model": [
        "[error] contract.soda-columns — domain shop, product "
        "daily_widgets, port shop.daily_widgets v1, field `ghost`: "
        "the Soda contract names column `ghost`, which model "
        "daily_widgets does not declare. Fix: remove it from "
        "domains/shop/contracts/daily_widgets.yaml or declare it in "
        "dbt_project/shop/models/marts/daily_widgets.yml."
    ],
    "key_without_check": [
        "[error] contract.key-column-checked — domain shop, product "
        "daily_widgets, port shop.daily_widgets v1, field `listener_id`: key "
        "column `listener_id` has no check in the Soda contract. Fix: add at "
        "least `- missing:` (and `duplicate:` if it identifies a row) under "
        "column `listener_id` in domains/shop/contracts/daily_widgets.yaml."
    ],
    "no_slo": [
        "[error] slo.freshness — domain shop, product daily_widgets, field "
        "`slo.freshness_hours`: the product declares no freshness SLO, so consumers cannot "
        "know how fresh it is promised to be and nobody is alerted when it is late. Fix: "
        "add `slo: {freshness_hours: <hours>}` to domains/shop/products/daily_widgets.yaml "
        "(e.g. 26 for a daily product)."
    ],
    "unclassified_email": [
        "[error] classification.personal-data-classified — domain shop, "
        "product daily_widgets, port shop.daily_widgets v1, field "
        "`buyer_email`: column `buyer_email` looks like personal data (email) "
        "but is not classified. Fix: in "
        "dbt_project/shop/models/marts/daily_widgets.yml, give column "
        "`buyer_email` `config: {meta: {pii: {category: email, treatment: "
        "<generalized|hashed|masked|raw>}}}`, or `pii: false` if it is not "
        "personal data."
    ],
    "raw_email": [
        "[error] classification.personal-data-protected — domain shop, product "
        "daily_widgets, port shop.daily_widgets v1, field `buyer_email`: column "
        "`buyer_email` publishes raw personal data (email) on a port that may not carry "
        "it. Fix: hash ({{ mesh.hash('column') }} — hex SHA-256 of the trimmed, "
        "lowercase value), mask or drop it in model daily_widgets; or, if consumers "
        "truly need it, set `carries_pii: true` on the port and `classification: "
        "restricted` on the product so access needs a grant."
    ],
    "hashed_email_on_internal_product": [
        "[error] classification.product-level — domain shop, "
        "product daily_widgets, port shop.daily_widgets v1, "
        "field `classification`: the port holds personal data "
        "(even hashed or masked, it identifies people) but the "
        "product is classified internal. Fix: set "
        "`classification: confidential` (or `restricted`) in "
        "domains/shop/products/daily_widgets.yaml."
    ],
    "invalid_classification": [
        "[error] classification.personal-data-classified — domain shop, "
        "product daily_widgets, port shop.daily_widgets v1, field "
        "`widgets`: column `widgets` has an invalid classification 'yes'. "
        "Fix: write `pii: {category: <e.g. email>, treatment: "
        "<generalized|hashed|masked|raw>}` or `pii: false` in "
        "dbt_project/shop/models/marts/daily_widgets.yml."
    ],
    "carries_pii_not_restricted": [
        "[error] classification.personal-data-protected — domain shop, "
        "product daily_widgets, port shop.daily_widgets v1, field "
        "`output_ports[0].carries_pii`: the port may carry raw "
        "personal data but the product is internal, not restricted. "
        "Fix: set `classification: restricted` in "
        "domains/shop/products/daily_widgets.yaml or remove "
        "`carries_pii`."
    ],
    "port_name_with_version": [
        "[error] interoperability.port-name — domain shop, product "
        "daily_widgets, port shop.daily_widgets_v1 v1, field "
        "`output_ports[0].name`: port name 'daily_widgets_v1' breaks the "
        "naming convention (snake_case, no layer prefix such as stg_/int_, "
        "no version suffix — the version is its own field). Fix: rename "
        "the port in domains/shop/products/daily_widgets.yaml (see "
        "governance/naming.yaml)."
    ],
    "timestamp_without_suffix": [
        "[error] interoperability.column-name — domain shop, product "
        "daily_widgets, port shop.daily_widgets v1, field `updated`: "
        "column `updated` is a timestamp but does not end with `_at`. "
        "Fix: rename it (e.g. `updated_at`) in model daily_widgets."
    ],
    "shared_key_mistyped": [
        "[error] interoperability.shared-key-type — domain shop, product "
        "daily_widgets, port shop.daily_widgets v1, field `listener_id`: "
        "column `listener_id` is the shared key `listener_id` but typed "
        "varchar; the glossary says bigint in every domain. Fix: cast it to "
        "bigint in model daily_widgets and set `data_type` in "
        "dbt_project/shop/models/marts/daily_widgets.yml "
        "(governance/shared_keys.yaml)."
    ],
    "partition_column_missing": [
        "[error] interoperability.partition-column — domain shop, product "
        "daily_widgets, port shop.daily_widgets v1, field `sold_at`: "
        "partitioning.column `sold_at` is not a column of model daily_widgets; "
        "a product published per day needs a DATE column holding the day in "
        "every output port. Fix: declare `sold_at` with `data_type: date` in "
        "model daily_widgets (dbt_project/shop/models/marts/daily_widgets.yml), "
        "or fix partitioning.column in domains/shop/products/daily_widgets.yaml."
    ],
    "partition_column_not_a_date": [
        "[error] interoperability.partition-column — domain shop, product "
        "daily_widgets, port shop.daily_widgets v1, field `widgets`: "
        "partitioning.column `widgets` is typed bigint in model daily_widgets; "
        "a product published per day needs a DATE column holding the day in "
        "every output port. Fix: declare `widgets` with `data_type: date` in "
        "model daily_widgets (dbt_project/shop/models/marts/daily_widgets.yml), "
        "or fix partitioning.column in domains/shop/products/daily_widgets.yaml."
    ],
    "model_not_private": [
        "[error] boundaries.dbt-group-access — domain shop, product "
        "daily_widgets, field `daily_widgets`: model daily_widgets has group "
        "'shop' and access 'protected'; it must be in group 'shop' and private "
        "so dbt refuses refs into it from other domains. Fix: set `+group: "
        "shop` and `+access: private` for the project's models in "
        "dbt_project/shop/dbt_project.yml (do not override them per model)."
    ],
    "direct_file_read": [
        "[error] boundaries.no-direct-file-read — domain shop, product "
        "daily_widgets, field `daily_widgets`: model daily_widgets reads a file "
        "or database directly (dbt_project/shop/models/marts/daily_widgets.sql). "
        "Fix: declare the input as a dbt source (an operational system of the "
        "domain, or another domain's port with `meta.mesh_port`) and select from "
        "`source(...)`."
    ],
    "source_of_other_domain": [
        "[error] boundaries.cross-domain-source — domain shop, product "
        "daily_widgets, field `input_ports`: the product declares input "
        "port orders.orders but none of its models reads it, so its "
        "lineage is wrong. Fix: read it through a source with "
        "`meta.mesh_port: orders.orders` or remove it from "
        "domains/shop/products/daily_widgets.yaml.",
        "[error] boundaries.cross-domain-source — domain shop, product "
        "daily_widgets, field `source registration.orders`: model "
        "stg_orders_ports__orders reads source registration.orders: the "
        "source is declared by domain orders, not shop — that is another "
        "domain's operational system or internals. Fix: read the published "
        "output port of domain orders instead (a source in dbt_project/shop/ "
        "with `meta.mesh_port: orders.<port>`).",
    ],
    "undeclared_port_source": [
        "[error] boundaries.cross-domain-source — domain shop, product "
        "daily_widgets, field `input_ports`: the product declares input "
        "port orders.orders but none of its models reads it, so its "
        "lineage is wrong. Fix: read it through a source with "
        "`meta.mesh_port: orders.orders` or remove it from "
        "domains/shop/products/daily_widgets.yaml.",
        "[error] boundaries.cross-domain-source — domain shop, product "
        "daily_widgets, field `source shop_orders_ports.orders`: model "
        "stg_orders_ports__orders reads source shop_orders_ports.orders: "
        "`meta.mesh_port: orders.refunds` names no declared output port. "
        "Fix: fix the address; declared ports of orders: orders.orders",
        "[error] boundaries.cross-domain-source — domain shop, product "
        "daily_widgets, port shop.daily_widgets v1, field `input_ports`: "
        "model daily_widgets is built from port orders.refunds, which "
        "product daily_widgets does not declare as an input port. Fix: add "
        "`- {kind: output_port, port: orders.refunds}` to `input_ports` of "
        "domains/shop/products/daily_widgets.yaml.",
    ],
    "input_port_not_declared": [
        "[error] boundaries.cross-domain-source — domain shop, product "
        "daily_widgets, port shop.daily_widgets v1, field `input_ports`: "
        "model daily_widgets is built from port orders.orders, which "
        "product daily_widgets does not declare as an input port. Fix: "
        "add `- {kind: output_port, port: orders.orders}` to "
        "`input_ports` of domains/shop/products/daily_widgets.yaml."
    ],
    "malformed_port_address": [
        "[error] boundaries.cross-domain-source — domain shop, product "
        "daily_widgets, field `input_ports`: the product declares input "
        "port orders.orders but none of its models reads it, so its "
        "lineage is wrong. Fix: read it through a source with "
        "`meta.mesh_port: orders.orders` or remove it from "
        "domains/shop/products/daily_widgets.yaml.",
        "[error] boundaries.cross-domain-source — domain shop, product "
        "daily_widgets, field `source shop_orders_ports.orders`: model "
        "stg_orders_ports__orders reads source shop_orders_ports.orders: "
        "`meta.mesh_port: orders` is not a port address `<domain>.<port>`. "
        "Fix: write the address of the port it reads, e.g. "
        "`sales.orders`.",
    ],
    "source_reads_another_port_file": [
        "[error] boundaries.cross-domain-source — domain shop, "
        "product daily_widgets, field `source "
        "shop_orders_ports.orders`: model stg_orders_ports__orders "
        "reads source shop_orders_ports.orders: its location "
        "\"read_parquet('{{ env_var('MESH_PORTS_DIR') "
        "}}/orders/refunds/v1/current.parquet')\" is not the "
        "published snapshot of orders.orders (expected "
        "…/orders/orders/v<major>/current.parquet with a declared "
        "major: [1]). Fix: read `{{ env_var('MESH_PORTS_DIR') "
        "}}/<domain>/<port>/v<major>/current.parquet`."
    ],
    "undeclared_operational_source": [
        "[error] boundaries.operational-input-declared — domain shop, product "
        "daily_widgets, port shop.daily_widgets v1, field `input_ports`: model "
        "daily_widgets reads source shop_crm.customers of operational system shop_crm "
        "(through model stg_orders_ports__orders), which product daily_widgets does not "
        "declare as an input, so its lineage and catalog entry miss it. Fix: add "
        "`- {kind: file_drop, source: shop_crm.customers}` to `input_ports` of "
        "domains/shop/products/daily_widgets.yaml."
    ],
    "team_of_another_domain": [
        "[error] ownership.registered-team — domain shop, product "
        "daily_widgets, field `owner.team`: owner team 'listeners-team' is "
        "registered for domain listeners, not shop. Fix: name a team of "
        "domain shop in domains/shop/products/daily_widgets.yaml "
        "(governance/teams.yaml)."
    ],
    "column_without_type": [
        "[error] contract.dbt-enforced — domain shop, product daily_widgets, "
        "port shop.daily_widgets v1, field `widgets`: column `widgets` has no "
        "`data_type`, so its type is not part of the contract and cannot be "
        "compared across versions or domains. Fix: add `data_type:` to column "
        "`widgets` in dbt_project/shop/models/marts/daily_widgets.yml."
    ],
    "file_literal_in_sql": [
        "[error] boundaries.no-direct-file-read — domain shop, product "
        "daily_widgets, field `daily_widgets`: model daily_widgets reads a "
        "file or database directly "
        "(dbt_project/shop/models/marts/daily_widgets.sql). Fix: declare the "
        "input as a dbt source (an operational system of the domain, or "
        "another domain's port with `meta.mesh_port`) and select from "
        "`source(...)`."
    ],
}


def test_compliant_fixture_has_no_finding(tmp_path):
    assert fixture_mesh(tmp_path).lines() == []


def test_every_mutation_has_expectations():
    assert set(EXPECTED) == set(MUTATIONS)


@pytest.mark.parametrize("case", sorted(MUTATIONS))
def test_violation_reports_exact_lines(tmp_path, case):
    mesh = fixture_mesh(tmp_path)
    MUTATIONS[case](mesh)
    assert mesh.lines() == EXPECTED[case]


def test_every_static_policy_is_exercised():
    """Each policy evaluated before data exists has at least one violation case above."""
    from mesh_platform.governance.config import load_governance
    from tests.unit.governance.fixture_mesh import REPO

    runtime_only = {
        "classification.treatment-verified",
        "classification.personal-data-in-values",
        "interoperability.shared-key-format",
        "versioning.breaking-change-needs-major",
        "versioning.previous-major-retired-early",
        "structure.valid",
    }
    policies = set(load_governance(REPO / "governance").policies) - runtime_only
    hit = {line.split()[1] for lines in EXPECTED.values() for line in lines}
    assert policies <= hit, f"no violation case for {sorted(policies - hit)}"
