"""Which checks of a contract read a held-back model's missing table (build/contract_reads.py)."""

from __future__ import annotations

import duckdb

from mesh_platform.build.contract_reads import (
    missing_relations,
    tables_read,
    unbuilt_reads,
)
from mesh_platform.core.contracts import load_contract

CONTRACT = """\
dataset: shop/marts/orders
filter: order_day >= (select min(day) from marts.calendar)
columns:
  - name: customer_id
    checks:
      - missing:
      - failed_rows:
          qualifier: known_customer
          expression: customer_id not in (select customer_id from marts.customers)
  - name: amount
    checks:
      - invalid:
          valid_min: 0
checks:
  - row_count:
  - failed_rows:
      qualifier: no_refund_without_order
      query: select r.* from marts.refunds r left join marts.orders o using (order_id) where o.order_id is null
  - metric:
      qualifier: share_paid
      expression: avg(case when paid then 1 else 0 end) - (select 0 from staging.rates)
      threshold: {must_be_greater_than: 0.5}
"""


def _contract(tmp_path):
    path = tmp_path / "orders.yaml"
    path.write_text(CONTRACT)
    return load_contract(path, "shop/marts/orders")


def test_tables_read_by_an_expression_a_query_and_an_aggregate():
    assert tables_read("x not in (select y from marts.customers)", whole_query=False) == {
        "customers"
    }
    assert tables_read('avg(x) > (select max(y) from "My Schema"."T")', whole_query=False) == {"t"}
    assert tables_read(
        "with a as (select 1 from s.b) select * from a join c on true", whole_query=True
    ) == {"b", "c"}
    assert tables_read("amount >= 0", whole_query=False) == set()


def test_sql_duckdb_cannot_parse_is_left_to_soda():
    assert tables_read("x >", whole_query=False) == set()


def test_only_checks_reading_a_missing_table_are_named(tmp_path):
    contract = _contract(tmp_path)
    missing = {
        "customers": ("customers", "marts"),
        "refunds": ("refunds", "marts"),
        "rates": ("rates", "staging"),
        "calendar": ("calendar", "marts"),
    }
    found = {(r.check, r.relation) for r in unbuilt_reads(contract, missing)}
    assert found == {
        ("contract__customer_id__failed_rows__known_customer", "marts.customers"),
        ("contract__failed_rows__no_refund_without_order", "marts.refunds"),
        ("contract__metric__share_paid", "staging.rates"),
        ("dataset filter", "marts.calendar"),
    }
    assert unbuilt_reads(contract, {"payments": ("payments", "marts")}) == []
    assert unbuilt_reads(contract, {}) == []


def test_missing_relations_are_the_held_back_models_without_a_table():
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute("create table marts.customers (customer_id varchar)")
    manifest = {
        "nodes": {
            "model.shop.customers": {"name": "customers", "schema": "marts"},
            "model.shop.refunds": {"name": "refunds", "schema": "marts"},
            "model.shop.rates_v2": {"name": "rates_v2", "alias": "rates", "schema": "staging"},
        }
    }
    held_back = ["model.shop.customers", "model.shop.refunds", "model.shop.rates_v2"]
    assert missing_relations(con, manifest, held_back) == {
        "refunds": ("refunds", "marts"),
        "rates": ("rates_v2", "staging"),
    }
