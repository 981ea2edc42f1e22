"""Soda contracts: checks become named Dagster checks; verification fails loudly, never silently."""

from __future__ import annotations

import duckdb
import pytest
import yaml

from mesh_platform.build.verification import verify_contract
from mesh_platform.core.contracts import load_contract
from mesh_platform.core.descriptor import DescriptorError

CONTRACT = {
    "dataset": "shop/marts/widgets",
    "columns": [
        {"name": "id", "data_type": "bigint", "checks": [{"missing": None}, {"duplicate": None}]},
        {
            "name": "colour",
            "data_type": "varchar",
            "checks": [{"invalid": {"valid_values": ["red", "blue"]}}],
        },
    ],
    "checks": [{"schema": None}, {"row_count": None}],
}


@pytest.fixture
def contract_file(tmp_path):
    path = tmp_path / "widgets.yaml"
    path.write_text(yaml.safe_dump(CONTRACT))
    return path


@pytest.fixture
def shop(tmp_path):
    con = duckdb.connect(str(tmp_path / "shop.duckdb"))
    con.execute("create schema marts")
    con.execute(
        "create table marts.widgets as select * from (values (1, 'red'), (2, 'blue')) v(id, colour)"
    )
    con.execute("alter table marts.widgets alter id type bigint")
    return con


def test_checks_are_named_by_column_and_type(contract_file):
    spec = load_contract(contract_file, "shop/marts/widgets")
    assert [c.name for c in spec.checks] == [
        "contract__id__missing",
        "contract__id__duplicate",
        "contract__colour__invalid",
        "contract__schema",
        "contract__row_count",
    ]


def test_wrong_dataset_is_rejected(contract_file):
    with pytest.raises(DescriptorError, match="expected 'shop/marts/other'"):
        load_contract(contract_file, "shop/marts/other")


def test_missing_contract_file_is_reported(tmp_path):
    with pytest.raises(DescriptorError, match="does not exist"):
        load_contract(tmp_path / "nope.yaml", "shop/marts/widgets")


def test_good_data_passes_every_check(contract_file, shop):
    result = verify_contract(shop, load_contract(contract_file, "shop/marts/widgets"), "shop")
    assert result.passed, [(o.check.name, o.outcome) for o in result.outcomes]
    assert len(result.outcomes) == 5


def test_bad_rows_fail_the_named_checks(contract_file, shop):
    shop.execute("insert into marts.widgets values (2, 'green'), (null, 'red')")
    result = verify_contract(shop, load_contract(contract_file, "shop/marts/widgets"), "shop")
    assert not result.passed
    failed = {o.check.name: o.diagnostics for o in result.failed}
    assert set(failed) == {
        "contract__id__missing",
        "contract__id__duplicate",
        "contract__colour__invalid",
    }
    assert failed["contract__colour__invalid"]["invalid_count"] == 1


def test_unreadable_table_counts_as_failure_not_silence(contract_file, shop):
    shop.execute("drop table marts.widgets")
    result = verify_contract(shop, load_contract(contract_file, "shop/marts/widgets"), "shop")
    assert not result.passed
    assert all(not o.passed for o in result.outcomes)


def test_a_soda_warn_passes_the_contract_and_shows_as_a_dagster_warning(tmp_path, shop):
    """A warn-level threshold crossed: the port still publishes, Dagster shows a WARN check."""
    import dagster as dg

    from mesh_platform.build.step import _check_result

    warn = {
        **CONTRACT,
        "checks": [{"row_count": {"threshold": {"must_be_greater_than": 5, "level": "warn"}}}],
    }
    path = tmp_path / "warn.yaml"
    path.write_text(yaml.safe_dump(warn))
    result = verify_contract(shop, load_contract(path, "shop/marts/widgets"), "shop")
    (row_count,) = [o for o in result.outcomes if o.check.check_type == "row_count"]
    assert (row_count.outcome, row_count.warned, row_count.passed) == ("WARN", True, True)
    assert result.passed  # a warning never blocks publishing

    port = type("Binding", (), {"address": "shop.widgets"})()
    shown = {r.check_name: r for r in _check_result(port, dg.AssetKey(["shop", "widgets"]), result)}
    assert shown[row_count.check.name].severity == dg.AssetCheckSeverity.WARN
    assert not shown[row_count.check.name].passed  # Dagster paints it as a warning, not a pass
    others = [r for name, r in shown.items() if name != row_count.check.name]
    assert others and all(r.passed and r.severity == dg.AssetCheckSeverity.ERROR for r in others)


def test_a_contract_that_is_not_yaml_names_the_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("dataset: [unclosed\n")
    with pytest.raises(DescriptorError, match=r"contract .*broken.yaml is not valid YAML"):
        load_contract(path, "shop/marts/widgets")
