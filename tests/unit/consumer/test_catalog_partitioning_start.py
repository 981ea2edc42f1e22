"""The catalog says where a product's partitions really start: at the operational data's first
day when that is later than the descriptor's `partitioning.start` (as Dagster's partitions do)."""

import json
from datetime import date
from types import SimpleNamespace

from mesh_platform.catalog.build import _partitioning


def _product(start: date):
    return SimpleNamespace(partitioning=SimpleNamespace(kind="daily", start=start))


def test_partitions_start_at_the_later_of_the_descriptor_and_the_data(tmp_path):
    env = SimpleNamespace(operational_dir=tmp_path)
    assert _partitioning(env, _product(date(2026, 1, 1))) == "daily from 2026-01-01"  # no window
    (tmp_path / "manifest.json").write_text(json.dumps({"start": "2026-09-07", "days": 90}))
    assert _partitioning(env, _product(date(2026, 1, 1))) == "daily from 2026-09-07"
    assert _partitioning(env, _product(date(2026, 10, 1))) == "daily from 2026-10-01"
    assert _partitioning(env, SimpleNamespace(partitioning=None)) is None
