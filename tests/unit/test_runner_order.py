"""Domains run upstream first; independent domains may run side by side."""

from __future__ import annotations

import pytest

from mesh_platform.core.domain import load_all_domains
from mesh_platform.run.runner import domain_order, domain_upstreams

from ..conftest import REPO


@pytest.fixture(scope="module")
def domains():
    return load_all_domains(REPO / "domains")


def test_every_domain_runs_after_the_domains_it_reads(domains):
    order = [d.name for d in domain_order(domains)]
    for domain, ups in domain_upstreams(domains).items():
        for up in ups:
            assert order.index(up) < order.index(domain), (up, domain, order)


def test_upstreams_follow_the_descriptors(domains):
    ups = domain_upstreams(domains)
    assert ups["recommendations"] == {"playback", "artists"}
    assert ups["playback"] == set()


def test_subset_ignores_domains_not_selected(domains):
    subset = [d for d in domains if d.name in {"artists", "recommendations"}]
    assert domain_upstreams(subset)["recommendations"] == {"artists"}


def test_the_coordinating_process_does_not_import_dagster():
    """`mesh materialize` plans in its own process while the workers import Dagster (≈ 6 s):
    if the coordinator imported it too, every run would wait for it first."""
    import subprocess
    import sys

    code = (
        "import sys, mesh_platform.cli.materialize, mesh_platform.run.increment, "
        "mesh_platform.run.runner, mesh_platform.run.summary; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dagster', 'dbt')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout
