"""The catalog benchmark times the portal's pages too (a smoke test at a tiny size: it checks
the harness works and reports every page, not how fast they are)."""

from __future__ import annotations

import pytest

from bench import catalog_search

from ..conftest import REPO

pytestmark = pytest.mark.bench


def test_catalog_bench_reports_page_times(tmp_path, monkeypatch):
    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path / "data"))
    # run() points MESH_REPO_ROOT at its copy; set here so the test's end undoes that (delenv
    # of an unset variable records nothing to undo: later tests saw the copy's synthetic domain)
    monkeypatch.setenv("MESH_REPO_ROOT", str(REPO))
    result = catalog_search.run(products=5, queries=5, seed=1, work=tmp_path, pages=3)
    portal = result["portal"]
    assert portal["pages"] == 3 and portal["product_cold_s"] > 0
    # cold twice: without the catalog cache (it builds and writes it), then with it
    assert portal["product_cold_without_cache_s"] > 0 and portal["product_cold_cpu_s"] > 0
    assert (tmp_path / "data" / "cache" / "catalog.json").exists()
    assert set(portal["product_warm_ms"]) == {"p50", "p95", "max"}
    assert portal["first_product_after_warm_up_ms"] > 0 and portal["warm_up_s"] > 0
    for page in ("home_ms", "search_page_ms", "scorecard_ms"):
        assert portal[page] > 0
    markdown = catalog_search._markdown(result)
    assert "## Portal pages at" in markdown and "product page, warm p50 / p95" in markdown
    assert "catalog cache valid" in markdown and "no catalog cache" in markdown
