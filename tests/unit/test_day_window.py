"""Which days a build covers: the daily partitions, narrowed by what the sources say they hold.

A mesh whose sources are not generated (no window file) still builds: the window is then the
partitions' own, from the first daily product's start to the last complete day.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from mesh_platform.core.descriptor import OperationalInput
from mesh_platform.core.domain import load_all_domains
from mesh_platform.core.environment import get_environment
from mesh_platform.run.runner import WINDOW_FILE, day_window, require_operational_data

from ..conftest import REPO


@pytest.fixture
def domains():
    return load_all_domains(REPO / "domains")


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path / "data"))
    return get_environment()


def first_partition(domains) -> date:
    return min(p.partitioning.start for d in domains for p in d.products if p.partitioning)


def test_no_source_data_is_a_clear_error(env, domains):
    with pytest.raises(FileNotFoundError, match="no operational data in .*: run `mesh generate`"):
        require_operational_data(env, domains)


def test_a_domain_built_from_its_own_seeds_needs_no_source_data(env, domains):
    """An imported dbt project that ships its raw data as seeds builds on a fresh data dir."""
    (podcasts,) = (d for d in domains if d.name == "podcasts")
    for product in podcasts.products:
        seed = OperationalInput(kind="seed", source="seeds.raw_shows")
        object.__setattr__(product, "input_ports", [seed])
    require_operational_data(env, [podcasts])  # nothing to read in data/operational: fine
    with pytest.raises(FileNotFoundError, match="no operational data"):
        require_operational_data(env, domains)  # the others read operational systems


def test_sources_that_declare_no_window_get_the_partitions_window(env, domains):
    env.operational_dir.mkdir(parents=True)
    (env.operational_dir / "orders.csv").write_text("id\n1\n")
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    assert day_window(env, domains) == (first_partition(domains), yesterday)


def test_a_declared_window_narrows_the_partitions(env, domains):
    env.operational_dir.mkdir(parents=True)
    start = first_partition(domains) + timedelta(days=3)
    (env.operational_dir / WINDOW_FILE).write_text(
        json.dumps({"start": start.isoformat(), "days": 10})
    )
    assert day_window(env, domains) == (start, start + timedelta(days=9))
