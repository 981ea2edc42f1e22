"""What `mesh materialize` prints for each port: a contract that never ran is not "0 passed /
0 failed" — the line and the summary table say it did not run."""

from __future__ import annotations

from rich.console import Console

from mesh_platform.cli.materialize import _table, product_line
from mesh_platform.run.summary import ProductRow


def _row(**changes) -> ProductRow:
    fields = dict(
        domain="artists",
        product="artist_payments",
        owner="artists-team",
        rows=13_505,
        checks_passed=11,
        checks_failed=0,
        checks_warned=0,
        address="artists.artist_payments v1",
        status="published",
    )
    return ProductRow(**{**fields, **changes})


def _rendered(table) -> str:
    console = Console(width=200, record=True)
    console.print(table)
    return console.export_text()


def test_a_checked_port_shows_its_counts():
    row = _row(checks_passed=10, checks_failed=1, status="NOT published")
    assert "checks 10 passed / 1 failed" in product_line(row)
    assert "10/1" in _rendered(_table([row]))


def test_a_port_whose_contract_never_ran_says_so_instead_of_zero_counts():
    row = _row(checks_passed=0, checks_ran=False, status="NOT published")
    line = product_line(row)
    assert "contract checks not run (the errors below say why)" in line
    assert "0 passed" not in line
    text = _rendered(_table([row]))
    assert "not run" in text and "0/0" not in text
