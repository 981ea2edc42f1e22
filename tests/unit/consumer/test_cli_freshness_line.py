"""`mesh catalog show` says what a freshness status is measured from (the data, its inputs, or
only the publish), so "stale" next to "published 0.1 h ago" is not a contradiction."""

from mesh_platform.cli.catalog import _freshness_facts


def test_data_based_freshness_names_the_newest_day_the_range_and_the_publish():
    line = _freshness_facts(
        {"status": "stale", "age_hours": 250.0, "slo_hours": 26, "basis": "data",
         "data_from": "2026-01-01", "data_to": "2026-03-31", "publish_age_hours": 0.1}
    )  # fmt: skip
    assert line == (
        "newest data 2026-03-31, 250.0 h ago; data 2026-01-01 to 2026-03-31; "
        "published 0.1 h ago; SLO 26 h"
    )


def test_a_product_without_a_time_column_is_bounded_by_its_inputs():
    line = _freshness_facts(
        {"status": "stale", "age_hours": 30.0, "slo_hours": None, "basis": "inputs",
         "data_to": "2026-03-31", "publish_age_hours": 2.0}
    )  # fmt: skip
    assert (
        line == "data no newer than its inputs' 2026-03-31, 30.0 h ago; published 2.0 h ago; no SLO"
    )


def test_publish_only_freshness_says_the_data_time_is_unknown():
    line = _freshness_facts(
        {"status": "fresh", "age_hours": 1.0, "slo_hours": 24, "basis": "publish",
         "publish_age_hours": 1.0}
    )  # fmt: skip
    assert line == "data time unknown; published 1.0 h ago; SLO 24 h"
    never = _freshness_facts({"status": "never published", "age_hours": None, "slo_hours": 24})
    assert never == "data time unknown; not published yet; SLO 24 h"
