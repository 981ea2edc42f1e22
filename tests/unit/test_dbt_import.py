"""`mesh import dbt`, the layout-independent half: reading a foreign dbt project, its ports'
contracts, classification suggestions and the report (mesh_platform/scaffold/dbt_import/).

The fixture project (tests/fixtures/dbt_projects/shop) is read once per session, built empty in
a throwaway DuckDB so relation types are known.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from mesh_platform.core.contracts import load_contract
from mesh_platform.governance.config import load_governance
from mesh_platform.scaffold.dbt_import.classify import suggest_classification
from mesh_platform.scaffold.dbt_import.contract import contract_for_port
from mesh_platform.scaffold.dbt_import.packages import read_packages
from mesh_platform.scaffold.dbt_import.reader import ImportRefused, read_project
from mesh_platform.scaffold.dbt_import.report import build_report, refused_report
from mesh_platform.scaffold.dbt_import.summarize import oddities
from mesh_platform.scaffold.dbt_import.summary import ProjectSummary

REPO = Path(__file__).resolve().parents[2]
SHOP = REPO / "tests" / "fixtures" / "dbt_projects" / "shop"


@pytest.fixture(scope="session")
def shop() -> ProjectSummary:
    return read_project(SHOP, build=True)


@pytest.fixture(scope="session")
def governance():
    return load_governance(REPO / "governance")


def _contract(shop: ProjectSummary, name: str, tmp_path: Path, **kwargs):
    generated = contract_for_port(
        shop.model(name), f"shop/marts/{name}", f"shop.{name}", summary=shop, **kwargs
    )
    path = tmp_path / f"{name}.yaml"
    path.write_text(generated.text)
    return generated, load_contract(path, f"shop/marts/{name}")


# --- A. the fixture project and B. reading it -------------------------------------------------


def test_reader_leaves_the_project_untouched(shop):
    assert not (SHOP / "target").exists()
    assert not (SHOP / "dbt_packages").exists()
    assert not (SHOP / "logs").exists()


def test_reader_summarises_models_with_columns_tests_and_materialization(shop):
    assert shop.name == "shop_analytics" and shop.profile == "shop_analytics"
    names = {m.name for m in shop.models}
    assert names == {
        "stg_customers",
        "stg_orders",
        "stg_payments",
        "stg_reference__countries",
        "customers",
        "orders",
    }
    orders = shop.model("orders")
    assert orders.path == "models/marts/orders.sql"
    assert orders.materialized == "table" and orders.schema == "marts"
    assert orders.column("credit_card_amount").data_type == "decimal(38,2)"
    assert "order is in its life" in orders.column("status").description  # the doc() block
    kinds = sorted(t.kind for t in orders.tests)
    assert kinds == [
        "accepted_values",
        "non_negative",
        "not_null",
        "not_null",
        "not_null",
        "relationships",
        "unique",
    ]
    relationship = next(t for t in orders.tests if t.kind == "relationships")
    assert relationship.refers_to == "customers"
    assert relationship.arguments == {"to": "ref('customers')", "field": "customer_id"}
    assert shop.model("stg_payments").depends_on == ("raw_payments",)


def test_reader_finds_seeds_as_raw_data_sources_macros_docs_and_tests(shop):
    assert {s.name: s.read_by for s in shop.seeds} == {
        "raw_customers": ("stg_customers",),
        "raw_orders": ("stg_orders",),
        "raw_payments": ("stg_payments",),
        "raw_countries": ("stg_reference__countries",),
    }
    assert [(s.name, s.tables, s.read_by) for s in shop.sources] == [
        ("erp", ("exchange_rates", "invoices"), ())
    ]
    assert shop.raw_inputs == (
        "raw_countries",
        "raw_customers",
        "raw_orders",
        "raw_payments",
        "erp.exchange_rates",
        "erp.invoices",
    )
    macros = {m.name: m for m in shop.macros}
    assert macros["generate_schema_name"].overrides_builtin
    assert not macros["cents_to_dollars"].overrides_builtin
    assert macros["test_non_negative"].is_generic_test
    assert [d.name for d in shop.docs] == ["order_status"]
    assert [t.name for t in shop.singular_tests] == ["assert_order_amount_matches_payments"]
    assert [(u.name, u.model) for u in shop.unit_tests] == [
        ("orders_split_payments_by_method", "orders")
    ]
    assert shop.packages == ()


def test_reader_reports_oddities_by_name(shop):
    reported = {f.subject for f in shop.findings if f.level == "reported"}
    assert {"macro generate_schema_name", "source erp"} <= reported
    assert not [f for f in shop.findings if f.level == "refused"]


def test_reader_knows_relation_types_from_the_empty_build(shop):
    assert shop.built
    assert shop.model("customers").relation_types["lifetime_value"] == "DECIMAL(38,2)"


@pytest.mark.parametrize(
    ("entry", "kind"),
    [
        ("  - package: dbt-labs/dbt_utils\n    version: 1.3.0", "hub"),
        ("  - git: https://github.com/example/pkg.git\n    revision: main", "git"),
        ("  - tarball: https://example.com/pkg.tar.gz\n    name: pkg", "tarball"),
    ],
)
def test_downloaded_packages_are_refused_before_dbt_runs(tmp_path, entry, kind):
    project = tmp_path / "shop"
    shutil.copytree(SHOP, project)
    (project / "packages.yml").write_text(f"packages:\n  - local: vendored/tiny\n{entry}\n")
    (project / "vendored" / "tiny").mkdir(parents=True)
    with pytest.raises(ImportRefused) as refused:
        read_project(project)
    (finding,) = refused.value.findings
    assert finding.level == "refused" and "nothing is downloaded" in finding.detail
    report = refused_report("shop_analytics", refused.value.findings)
    assert not report.ok and report.refused[0].subject.startswith("package ")
    entries, _ = read_packages(project)
    assert [e.kind for e in entries] == ["local", kind]


def test_local_packages_inside_the_project_come_along_outside_are_refused(tmp_path):
    project = tmp_path / "p"
    (project / "vendored" / "tiny").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (project / "dependencies.yml").write_text(
        "packages:\n  - local: vendored/tiny\n  - local: ../elsewhere\n"
        "projects:\n  - name: core_platform\n"
    )
    entries, findings = read_packages(project)
    assert [(e.kind, e.carried) for e in entries] == [
        ("local", True),
        ("local", True),  # its kind could come along; where it lives is refused below
        ("project", False),
    ]
    assert [f.subject for f in findings] == [
        "package ../elsewhere (dependencies.yml)",
        "package core_platform (dependencies.yml)",
    ]


def test_a_folder_without_dbt_project_is_refused(tmp_path):
    with pytest.raises(ImportRefused, match="no dbt_project.yml"):
        read_project(tmp_path)


def test_oddities_name_snapshots_hooks_and_vars():
    manifest = {
        "nodes": {
            "snapshot.p.orders_snap": {
                "resource_type": "snapshot",
                "name": "orders_snap",
                "package_name": "p",
            }
        }
    }
    project = {"name": "p", "on-run-end": ["grant select"], "vars": {"start": "2024-01-01"}}
    subjects = {f.subject for f in oddities(manifest, project, ProjectSummary("p", None, ""))}
    assert subjects == {"snapshot orders_snap", "on-run-end", "vars"}


# --- C. contracts -----------------------------------------------------------------------------


def test_contract_maps_dbt_tests_to_soda_checks_and_parses(shop, tmp_path):
    generated, spec = _contract(shop, "orders", tmp_path)
    checks = {(c.column, c.check_type, c.qualifier) for c in spec.checks}
    assert {
        ("order_id", "duplicate", None),
        ("order_id", "missing", None),
        ("customer_id", "missing", None),
        ("status", "invalid", None),
        ("amount", "missing", None),
        ("customer_id", "invalid", "references_customers"),
        (None, "schema", None),
        (None, "row_count", None),
    } == checks
    status = next(c for c in spec.checks if c.column == "status")
    assert status.config["valid_values"] == [
        "placed",
        "shipped",
        "completed",
        "return_pending",
        "returned",
    ]
    reference = next(c for c in spec.checks if c.qualifier == "references_customers")
    assert reference.config["valid_reference_data"] == {
        "dataset": "shop/marts/customers",
        "column": "customer_id",
    }
    assert spec.columns[4] == "credit_card_amount"


def test_contract_keeps_unmapped_tests_as_dbt_tests_and_says_so(shop, tmp_path):
    generated, _ = _contract(shop, "orders", tmp_path)
    kept = [f for f in generated.findings if f.subject == "test non_negative_orders_amount"]
    assert kept and "kept as a dbt test" in kept[0].detail
    mapped_or_kept = set(generated.mapped) | {f.subject.removeprefix("test ") for f in kept}
    assert mapped_or_kept == {t.name for t in shop.model("orders").tests}


def test_relationship_with_unknown_dataset_is_kept_as_dbt_test(shop, tmp_path):
    generated, spec = _contract(shop, "orders", tmp_path, dataset_of=lambda name: None)
    assert not [c for c in spec.checks if c.qualifier]
    subject = "test relationships_orders_customer_id__customer_id__ref_customers_"
    assert any(f.subject == subject for f in generated.findings)


def test_contract_types_say_where_they_came_from(shop, tmp_path):
    generated, _ = _contract(shop, "customers", tmp_path)
    assert generated.type_sources["customer_id"] == "yaml"
    assert generated.type_sources["lifetime_value"] == "relation"
    column = next(c for c in generated.columns if c.name == "lifetime_value")
    assert column.data_type == "decimal(38,2)"
    unbuilt = dataclasses.replace(shop.model("customers"), relation_types={})
    yaml_only = contract_for_port(unbuilt, "shop/marts/customers", "shop.customers", summary=shop)
    assert yaml_only.type_sources["lifetime_value"] == "none"
    assert "\n  - name: lifetime_value\n  - name:" not in yaml_only.text  # last column
    path = tmp_path / "yaml_only.yaml"
    path.write_text(yaml_only.text)
    load_contract(path, "shop/marts/customers")


def test_contract_reports_yaml_type_that_the_model_does_not_build(shop, tmp_path):
    model = shop.model("orders")
    wrong = dataclasses.replace(
        model,
        columns=tuple(
            dataclasses.replace(c, data_type="double") if c.name == "amount" else c
            for c in model.columns
        ),
    )
    generated = contract_for_port(wrong, "shop/marts/orders", "shop.orders", summary=shop)
    (conflict,) = [f for f in generated.findings if f.subject == "column orders.amount"]
    assert "double" in conflict.detail and "decimal(38,2)" in conflict.detail
    assert next(c for c in generated.columns if c.name == "amount").data_type == "decimal(38,2)"


# --- D. classification and E. the report ------------------------------------------------------


def test_classification_suggestions_reuse_the_governance_patterns(shop, governance, tmp_path):
    customers, _ = _contract(shop, "customers", tmp_path)
    orders, _ = _contract(shop, "orders", tmp_path)
    by_column = {
        s.column: s
        for model, generated in (("customers", customers), ("orders", orders))
        for s in suggest_classification(shop.model(model), generated.columns, governance)
    }
    assert by_column["email"].pii == {"category": "email", "treatment": "hashed"}
    assert by_column["first_name"].pii == {"category": "person_name", "treatment": "hashed"}
    # numeric: an amount, not a card number (the classifier looks at the type)
    assert by_column["credit_card_amount"].pii is None
    assert by_column["order_id"].pii is None and by_column["order_id"].source == "none"


def test_report_lists_carried_reported_and_refused_by_name(shop, governance, tmp_path):
    generated, _ = _contract(shop, "orders", tmp_path)
    suggestions = {
        "orders": suggest_classification(shop.model("orders"), generated.columns, governance)
    }
    report = build_report(shop, [generated], suggestions)
    carried = {i.subject for i in report.carried}
    assert {
        "model customers",
        "seed raw_payments",
        "macro cents_to_dollars",
        "docs order_status",
        "test assert_order_amount_matches_payments",
        "unit test orders_split_payments_by_method",
        "check invalid on status",
    } <= carried
    reported = {i.subject for i in report.reported}
    assert {
        "macro generate_schema_name",
        "source erp",
        "test non_negative_orders_amount",
    } <= reported
    assert "column orders.credit_card_amount" not in reported
    assert report.ok
    text = report.render()
    assert "carried over (" in text and "refused (0):" in text
