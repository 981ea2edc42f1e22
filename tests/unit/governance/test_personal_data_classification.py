"""Issue 22: personal data is classified by a column's type and values, not by its name alone.

`credit_card_amount` (money, numeric) was auto-classified as a hashed payment card.
"""

from __future__ import annotations

import pytest

from mesh_platform.governance.config import load_governance
from mesh_platform.governance.personal_data import is_card_number
from tests.unit.governance.fixture_mesh import REPO, fixture_mesh

PERSONAL = load_governance(REPO / "governance").personal_data


def _add_column(mesh, name: str, data_type: str) -> None:
    mesh.columns.append({"name": name, "description": "A column.", "data_type": data_type})
    mesh.contract["columns"].append({"name": name, "data_type": data_type})


@pytest.mark.parametrize("data_type", ["decimal(12,2)", "double", "bigint", "integer"])
def test_a_numeric_amount_named_like_a_card_is_not_personal_data(tmp_path, data_type):
    assert PERSONAL.category_of("credit_card_amount", data_type) is None
    mesh = fixture_mesh(tmp_path)
    _add_column(mesh, "credit_card_amount", data_type)
    assert mesh.lines() == []  # `mesh lint` asks for no classification


def test_a_card_number_column_still_needs_a_classification(tmp_path):
    assert PERSONAL.category_of("credit_card_number", "varchar") == "payment_card"
    assert PERSONAL.category_of("credit_card_number", "bigint") == "payment_card"
    assert PERSONAL.category_of("card_number", "double") is None  # never fractional
    assert PERSONAL.category_of("buyer_email", "integer") is None  # never a number
    mesh = fixture_mesh(tmp_path)
    _add_column(mesh, "credit_card_number", "varchar")
    assert [line.split()[1] for line in mesh.lines()] == ["classification.personal-data-classified"]


def test_card_numbers_are_luhn_valid_13_to_19_digits():
    assert is_card_number("4111 1111 1111 1111")
    assert is_card_number(5500000000000004)
    assert not is_card_number("4111111111111112")  # fails Luhn
    assert not is_card_number("12.50")
    assert not is_card_number("0000")


def test_values_decide_where_a_sample_is_at_hand():
    cards = ["4111111111111111", "5500-0000-0000-0004", None]
    assert PERSONAL.category_of("payer_ref", "varchar", cards) == "payment_card"
    assert PERSONAL.category_of("contact", "varchar", ["a@shop.example", "b@x.example"]) == "email"
    amounts = ["12.50", "3", "1999.99"]
    assert PERSONAL.category_of("credit_card", "varchar", amounts) is None
    assert PERSONAL.category_of("credit_card", "varchar", cards) == "payment_card"
    assert PERSONAL.category_of("order_ref", "varchar", ["A-1", "B-2"]) is None
