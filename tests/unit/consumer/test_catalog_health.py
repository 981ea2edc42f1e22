"""Honest health (issue 25, item 5): freshness is the age of the newest data, not of the last
publish; a blocked build says what is still served; health sums up checks and compliance."""

from __future__ import annotations

from datetime import UTC, datetime

from mesh_platform.catalog.catalog import Catalog
from mesh_platform.catalog.entries import ColumnEntry, InputEntry, PortEntry, ProductEntry
from mesh_platform.catalog.health import mesh_health
from mesh_platform.catalog.history import (
    PortHistory,
    RunRecord,
    build_state,
    data_times,
    freshness,
)
from mesh_platform.ports.store import PublishedPort

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC).timestamp()
PUBLISHED = "2026-12-06T11:00:00+00:00"  # one hour before NOW


def _port(domain: str, name: str, days: list[str] | None) -> PortEntry:
    published = PublishedPort(
        address=f"{domain}.{name}",
        version=1,
        snapshot_id="42",
        path="/x",
        rows=10,
        published_at=PUBLISHED,
        run_id="good-run",
        partition_column="day" if days else None,
        partitions={d: "5:ab" for d in days} if days else None,
    )
    return PortEntry(
        address=f"{domain}.{name}",
        name=name,
        version=1,
        model=name,
        description="",
        columns=(ColumnEntry("day", "date", "The day.", False), ColumnEntry("n", "int", "", True)),
        example="",
        owner_team="team",
        owner_contact=None,
        check_names=("contract__n__missing", "governance"),
        contract_file="c.yaml",
        published=published,
        governance={"passed": True, "findings": []},
    )


def _product(name: str, days: list[str] | None, inputs=(), slo: float | None = 26) -> ProductEntry:
    return ProductEntry(
        domain="shop",
        name=name,
        description=f"The {name}.",
        owner_team="team",
        owner_contact=None,
        tier="aggregate",
        classification="internal",
        tags=(),
        slo_freshness_hours=slo,
        automation="eager",
        partitioning=None,
        inputs=tuple(inputs),
        ports=(_port("shop", name, days),),
        descriptor_file="d.yaml",
    )


def _mesh() -> Catalog:
    events = _product("events", ["2026-03-01", "2026-03-31", "null"])
    read = InputEntry("output_port", "shop.events", "", upstream_product="shop.events")
    daily = _product("daily", None, [read])
    orders = _product("orders", None, [InputEntry("operational_system", "erp.orders", "")])
    return Catalog(
        products={p.key: p for p in (events, daily, orders)},
        domains={},
    )


def test_a_fresh_publish_of_old_data_is_stale_and_shows_its_range():
    catalog = _mesh()
    times = data_times(catalog)
    fresh = freshness(catalog.products["shop.events"], times["shop.events"], NOW)
    assert (fresh.status, fresh.basis) == ("stale", "data")
    assert (fresh.data_from, fresh.data_to) == ("2026-03-01", "2026-03-31")
    assert fresh.newest_data_at == "2026-04-01T00:00:00+00:00"  # the end of the last day
    assert fresh.age_hours > 24 * 240
    assert fresh.publish_age_hours == 1.0  # the publish time is shown too
    # without its own time column, a product is no fresher than what it reads
    daily = freshness(catalog.products["shop.daily"], times["shop.daily"], NOW)
    assert (daily.status, daily.basis, daily.data_to) == ("stale", "inputs", "2026-03-31")
    # reading an operational system without a time column: only the publish time is known
    orders = freshness(catalog.products["shop.orders"], times["shop.orders"], NOW)
    assert (orders.status, orders.basis, orders.age_hours) == ("fresh", "publish", 1.0)


def test_never_published_and_no_slo():
    catalog = _mesh()
    product = catalog.products["shop.orders"]
    assert freshness(product, None, NOW).status == "never published"
    product.slo_freshness_hours = None
    assert freshness(product, data_times(catalog)["shop.orders"], NOW).status == "no SLO"


def test_a_blocked_build_names_the_check_and_the_snapshot_still_served():
    port = _port("shop", "events", None)
    history = PortHistory(
        port.label,
        runs=[
            RunRecord(
                "bad-run",
                NOW,
                published=False,
                checks_failed=1,
                failed_checks=["contract__n__missing"],
            ),  # fmt: skip
            RunRecord("good-run", NOW - 3600, published=True, checks_passed=2),
        ],
        latest_checks={"contract__n__missing": "failed", "governance": "passed"},
        last_published_at=NOW - 3600,
    )
    state = build_state(port, history)
    assert state.blocked and state.failed_checks == ("contract__n__missing",)
    assert (state.serving_snapshot, state.serving_passed) == ("42", True)
    assert state.serving_published_at == "2026-12-06T11:00:00Z"
    history.runs.pop(0)
    assert not build_state(port, history).blocked
    assert build_state(port, PortHistory(port.label, [], {}, None)) is None


def test_health_sums_up_checks_compliance_freshness_and_docs():
    catalog = _mesh()
    statuses = {
        ("shop/events", "contract__n__missing"): "FAILED",
        ("shop/events", "governance"): "SUCCEEDED",
        ("shop/orders", "contract__n__missing"): "SUCCEEDED",
        ("shop/orders", "governance"): "WARNED",
    }
    catalog.products["shop.orders"].ports[0].governance["findings"] = [{"severity": "error"}]
    health = mesh_health(catalog, statuses, NOW)
    events = health["shop.events"]
    assert (events.checks, events.checks_passed, events.checks_total) == ("failed", 1, 2)
    assert events.failing_checks == ("shop.events v1: contract__n__missing",)
    assert events.status == "failing checks"
    assert health["shop.orders"].checks == "passed"  # a warning does not fail
    assert health["shop.orders"].status == "not compliant"
    assert health["shop.daily"].checks == "no results"
    assert health["shop.daily"].status == "stale"
    assert events.documentation == 67  # description and 1 of 2 columns documented
