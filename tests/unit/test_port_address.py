"""A port address is parsed and formatted in one place, with one clear error."""

from __future__ import annotations

import pytest

from mesh_platform.core.address import PortAddress


def test_round_trip_and_versioned_label():
    address = PortAddress.parse("sales.orders")
    assert (address.domain, address.port, str(address)) == ("sales", "orders", "sales.orders")
    assert address.versioned(2) == "sales.orders v2"


@pytest.mark.parametrize("text", ["sales", "sales.orders.v2", "Sales.orders", "sales.", ".orders"])
def test_a_malformed_address_says_what_to_write(text):
    with pytest.raises(ValueError, match=r"is not a port address: write <domain>\.<port>"):
        PortAddress.parse(text)
