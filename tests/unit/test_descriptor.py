"""Descriptor validation: good descriptors load; each kind of bad one fails naming file and field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mesh_platform.core.descriptor import DescriptorError, load_descriptor, load_domain_descriptors
from mesh_platform.core.domain import load_all_domains

REPO = Path(__file__).resolve().parents[2]

GOOD = {
    "name": "daily_widgets",
    "domain": "shop",
    "description": "Widgets sold per day, for the finance team's daily report.",
    "owner": {"team": "shop-team", "contact": "shop@example.com"},
    "tier": "aggregate",
    "classification": "internal",
    "tags": ["sales"],
    "input_ports": [{"kind": "output_port", "port": "orders.orders"}],
    "output_ports": [
        {"name": "daily_widgets", "model": "daily_widgets", "version": 1, "contract": "c.yaml"}
    ],
    "slo": {"freshness_hours": 24},
    "automation": {"kind": "eager"},
}


def write(tmp_path: Path, data: dict, name: str = "daily_widgets") -> Path:
    path = tmp_path / "shop" / "products" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data))
    return path


def with_(**changes) -> dict:
    data = {**GOOD}
    for key, value in changes.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    return data


def test_good_descriptor_loads(tmp_path):
    product = load_descriptor(write(tmp_path, GOOD), expected_domain="shop")
    assert product.address(product.output_ports[0]) == "shop.daily_widgets"
    assert product.upstream_ports == ["orders.orders"]


@pytest.mark.parametrize(
    ("data", "field", "reason"),
    [
        (with_(owner={"team": "shop-team", "contact": "not-an-email"}), "owner.contact", "pattern"),
        (with_(tier="platinum"), "tier", "source-aligned"),
        (with_(classification="secret"), "classification", "restricted"),
        (with_(output_ports=[]), "output_ports", "at least 1"),
        (
            with_(input_ports=[{"kind": "output_port", "port": "no-dot"}]),
            "input_ports.0",
            "pattern",
        ),
        (
            with_(input_ports=[{"kind": "ftp", "source": "a.b"}]),
            "input_ports.0",
            "does not match any",
        ),
        (with_(slo={"freshness_hours": 0}), "slo.freshness_hours", "greater than 0"),
        (with_(automation={"kind": "schedule"}), "automation", "cron"),
        (with_(automation={"kind": "eager", "cron": "0 1 * * *"}), "automation", "only allowed"),
        (with_(surprise=1), "surprise", "Extra inputs"),
        (
            with_(output_ports=[GOOD["output_ports"][0], GOOD["output_ports"][0]]),
            "output_ports",
            "unique",
        ),
    ],
)
def test_bad_descriptor_names_file_and_field(tmp_path, data, field, reason):
    path = write(tmp_path, data)
    with pytest.raises(DescriptorError) as err:
        load_descriptor(path, expected_domain="shop")
    message = str(err.value)
    assert str(path) in message
    assert f"`{field}" in message
    assert reason.lower() in message.lower()


def test_missing_owner_description_and_slo_load_for_governance_to_report(tmp_path):
    """Completeness is a governance policy, not a load failure: the product must still show."""
    product = load_descriptor(
        write(tmp_path, with_(owner=None, description=None, slo=None)), expected_domain="shop"
    )
    assert (product.owner, product.description, product.slo) == (None, "", None)


def test_domain_mismatch_is_rejected(tmp_path):
    path = write(tmp_path, with_(domain="other"))
    with pytest.raises(DescriptorError, match="field `domain` is 'other'"):
        load_descriptor(path, expected_domain="shop")


def test_file_name_must_match_product_name(tmp_path):
    path = write(tmp_path, GOOD, name="widgets")
    with pytest.raises(DescriptorError, match="name the file daily_widgets.yaml"):
        load_descriptor(path, expected_domain="shop")


def test_invalid_yaml_is_reported(tmp_path):
    path = write(tmp_path, GOOD)
    path.write_text("name: [unclosed")
    with pytest.raises(DescriptorError, match="not valid YAML"):
        load_descriptor(path)


def test_port_names_unique_within_domain(tmp_path):
    write(tmp_path, GOOD)
    other = with_(name="more_widgets")
    write(tmp_path, other, name="more_widgets")
    with pytest.raises(DescriptorError, match="declared by both"):
        load_domain_descriptors(tmp_path / "shop")


def test_every_daff_descriptor_is_valid():
    domains = load_all_domains(REPO / "domains")
    assert {d.name for d in domains} >= {"listeners", "playback", "artists", "podcasts"}
    assert sum(len(d.products) for d in domains) >= 12


def test_eager_product_needs_an_upstream_port(tmp_path):
    data = with_(input_ports=[{"kind": "database", "source": "shop_db.orders"}])
    with pytest.raises(DescriptorError, match="use `kind: schedule`"):
        load_descriptor(write(tmp_path, data), expected_domain="shop")
