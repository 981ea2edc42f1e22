"""Catalog search latency and portal page times with N generated products (goals at 1,000:
search p95 ≤ 50 ms; a product page under 500 ms warm and 2 s cold).

    python -m bench.catalog_search --products 1000 [--queries 500] [--pages 200] [--out bench/results]

A temporary copy of the repository gets a synthetic domain of N products (``bench.synthetic``)
whose descriptions, tags and column docs are drawn from the real Daff catalog's own words, so
queries hit many products the way real ones do. Measured in this process, after one untimed
warm-up: building the catalog from the files, building the search index, and each query of a
fixed, seeded mix of one-, two- and three-word queries (words of the vocabulary, prefixes of
them, and the real queries analysts type). Then the portal's pages, in a fresh interpreter (so
"cold" pays every import, reading the catalog and opening the Dagster instance, as the first
visitor after a start would): the first product page twice, once without the catalog cache
(the first start after a descriptor, contract or port changed: it builds the catalog from the
files and writes the cache) and once with the cache that start wrote (any later start), each
with its wall and CPU time (CPU time is less distorted by a busy machine); then ``--pages``
product pages of random products (warm), the home page, a search and the scorecard. Writes
``<out>/catalog_search.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from bench import synthetic

REAL_QUERIES = ["royalties", "plays per country", "listener email", "podcast episodes",
                "weekly top tracks", "subscription", "artist payments", "sessions"]  # fmt: skip


def _vocabulary(repo: Path) -> list[str]:
    from mesh_platform.catalog.build import build_catalog
    from mesh_platform.catalog.search import _WORD
    from mesh_platform.core.environment import get_environment

    os.environ["MESH_REPO_ROOT"] = str(repo)
    catalog = build_catalog(get_environment())
    words: set[str] = set()
    for product in catalog.products.values():
        words.update(_WORD.findall(product.description.lower()))
        for port in product.ports:
            for column in port.columns:
                words.update(_WORD.findall(column.description.lower()))
    return sorted(w for w in words if len(w) > 3 and w[0].isalpha())


def _vary(root: Path, products: int, vocabulary: list[str], rng: random.Random) -> None:
    """Give every synthetic product its own description, tags and column docs."""
    for i in range(1, products + 1):
        name = synthetic.product_name(i)
        descriptor = root / "domains" / synthetic.DOMAIN / "products" / f"{name}.yaml"
        raw = yaml.safe_load(descriptor.read_text())
        raw["description"] = " ".join(rng.choices(vocabulary, k=30))
        raw["tags"] = sorted(set(rng.choices(vocabulary, k=3)))
        descriptor.write_text(yaml.safe_dump(raw, sort_keys=False))
        model = root / "dbt_project" / synthetic.DOMAIN / "models" / "marts" / f"synth_{name}.yml"
        raw = yaml.safe_load(model.read_text())
        for column in raw["models"][0]["columns"]:
            column["description"] = " ".join(rng.choices(vocabulary, k=12))
        model.write_text(yaml.safe_dump(raw, sort_keys=False))


def _queries(vocabulary: list[str], count: int, rng: random.Random) -> list[str]:
    queries = []
    for n in range(count):
        kind = n % 4
        if kind == 3:
            queries.append(REAL_QUERIES[n % len(REAL_QUERIES)])
        elif kind == 2:
            queries.append(rng.choice(vocabulary)[:4])  # typing: a prefix
        else:
            queries.append(" ".join(rng.choices(vocabulary, k=kind + 2)))
    return queries


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _cold_page(repo: str, data: str, key: str) -> dict:
    """In a fresh interpreter: the portal's first product page, wall and CPU seconds."""
    os.environ["MESH_REPO_ROOT"], os.environ["MESH_DATA_DIR"] = repo, data
    started, cpu = time.perf_counter(), time.process_time()
    from fastapi.testclient import TestClient

    from mesh_platform.portal import create_app

    client = TestClient(create_app())
    client.get(f"/products/{key.replace('.', '/')}").raise_for_status()
    return {
        "product_cold_without_cache_s": round(time.perf_counter() - started, 3),
        "product_cold_without_cache_cpu_s": round(time.process_time() - cpu, 3),
    }


def _page_times(repo: str, data: str, keys: list[str]) -> dict:
    """In a fresh interpreter: the portal's first product page (cold), then warm pages."""
    os.environ["MESH_REPO_ROOT"], os.environ["MESH_DATA_DIR"] = repo, data
    started, cpu = time.perf_counter(), time.process_time()
    from fastapi.testclient import TestClient

    from mesh_platform.portal import create_app

    client = TestClient(create_app())

    def get(path: str) -> float:
        begun = time.perf_counter()
        response = client.get(path)
        if response.status_code != 200:
            raise SystemExit(f"{path}: HTTP {response.status_code}: {response.text[:300]}")
        return (time.perf_counter() - begun) * 1000

    first = keys[0].replace(".", "/")
    get(f"/products/{first}")
    cold, cold_cpu = time.perf_counter() - started, time.process_time() - cpu
    warm = [get(f"/products/{key.replace('.', '/')}") for key in keys[1:]]
    return {
        "product_cold_s": round(cold, 3),
        "product_cold_cpu_s": round(cold_cpu, 3),
        "product_warm_ms": {
            "p50": round(_percentile(warm, 0.5), 1),
            "p95": round(_percentile(warm, 0.95), 1),
            "max": round(max(warm), 1),
        },
        "home_ms": round(min(get("/") for _ in range(3)), 1),
        "search_page_ms": round(min(get("/search?q=listening+plays") for _ in range(3)), 1),
        "scorecard_ms": round(min(get("/scorecard") for _ in range(3)), 1),
        "pages": len(warm),
    }


def _after_warm_up(repo: str, data: str, key: str) -> dict:
    """In a fresh interpreter: the server starts (its start-up warm-up reads the catalog,
    opens the Dagster instance and reads the health); the first product page once it is done."""
    import threading

    os.environ["MESH_REPO_ROOT"], os.environ["MESH_DATA_DIR"] = repo, data
    started = time.perf_counter()
    from fastapi.testclient import TestClient

    from mesh_platform.portal import create_app

    with TestClient(create_app()) as client:  # runs the app's lifespan, as uvicorn does
        for thread in threading.enumerate():
            if thread.name == "portal-warm":
                thread.join()
        warm_up = time.perf_counter() - started
        begun = time.perf_counter()
        client.get(f"/products/{key.replace('.', '/')}").raise_for_status()
        first = time.perf_counter() - begun
    return {
        "warm_up_s": round(warm_up, 3),
        "first_product_after_warm_up_ms": round(first * 1000, 1),
    }


def run(products: int, queries: int, seed: int, work: Path, pages: int = 200) -> dict:
    from mesh_platform.catalog.build import build_catalog
    from mesh_platform.catalog.search import SearchIndex
    from mesh_platform.core.environment import get_environment

    load_at_start = round(os.getloadavg()[0], 2)  # timings mean little on a busy machine
    rng = random.Random(seed)
    repo = synthetic.make_repo(work / "repo", products)
    vocabulary = _vocabulary(repo)
    _vary(repo, products, vocabulary, rng)
    os.environ["MESH_REPO_ROOT"] = str(repo)
    os.environ["MESH_DATA_DIR"] = str(work / "data")
    env = get_environment()
    build_catalog(env)  # warm-up (imports, page cache)
    started = time.perf_counter()
    catalog = build_catalog(env)
    build_s = time.perf_counter() - started
    if catalog.problems or len(catalog.products) < products:
        raise SystemExit(f"the synthetic catalog did not load: {catalog.problems}")
    started = time.perf_counter()
    index = SearchIndex(catalog)
    index_s = time.perf_counter() - started
    mix = _queries(vocabulary, queries, rng)
    index.search(mix[0])
    latencies, hits = [], []
    for text in mix:
        started = time.perf_counter()
        found = index.search(text, limit=10)
        latencies.append((time.perf_counter() - started) * 1000)
        hits.append(len(found))
    keys = rng.sample(sorted(catalog.products), min(pages + 1, len(catalog.products)))
    from mesh_platform.build.instance import get_instance
    from mesh_platform.catalog.cache import cache_path, load_catalog

    get_instance()  # untimed: create the Dagster instance's storage, as a deployed portal has it
    cache_path(env).unlink(missing_ok=True)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        page_times = pool.apply(_cold_page, (str(repo), str(work / "data"), keys[0]))
    load_catalog(env)  # the cache that start wrote (written now if its inputs were too new)
    if not cache_path(env).exists():
        raise SystemExit(f"no catalog cache was written at {cache_path(env)}")
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        page_times |= pool.apply(_page_times, (str(repo), str(work / "data"), keys))
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        page_times |= pool.apply(_after_warm_up, (str(repo), str(work / "data"), keys[0]))
    return {
        "products": len(catalog.products),
        "portal": page_times,
        "goal_product_warm_ms": 500,
        "goal_product_cold_s": 2,
        "queries": len(mix),
        "catalog_build_s": round(build_s, 3),
        "index_build_s": round(index_s, 3),
        "search_ms": {
            "p50": round(_percentile(latencies, 0.5), 3),
            "p95": round(_percentile(latencies, 0.95), 3),
            "max": round(max(latencies), 3),
            "mean": round(statistics.fmean(latencies), 3),
        },
        "mean_hits": round(statistics.fmean(hits), 2),
        "goal_p95_ms": 50,
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_avg_1m": {"start": load_at_start, "end": round(os.getloadavg()[0], 2)},
        },
    }


def _markdown(result: dict) -> str:
    s = result["search_ms"]
    verdict = "meets" if s["p95"] <= result["goal_p95_ms"] else "MISSES"
    return (
        f"# Catalog search at {result['products']:,} products\n\n"
        f"| measure | value |\n|---|---|\n"
        f"| catalog build (files → catalog) | {result['catalog_build_s']} s |\n"
        f"| search index build | {result['index_build_s']} s |\n"
        f"| search p50 | {s['p50']} ms |\n| search p95 | {s['p95']} ms |\n"
        f"| search max | {s['max']} ms |\n| queries | {result['queries']} (mean {result['mean_hits']} hits) |\n\n"
        f"p95 {verdict} the goal of ≤ {result['goal_p95_ms']} ms.\n\n"
        + _portal_markdown(result)
        + f"\nMachine: {result['machine']}.\n"
    )


def _portal_markdown(result: dict) -> str:
    page = result["portal"]
    warm, cold = page["product_warm_ms"], page["product_cold_s"]
    warm_verdict = "meets" if warm["p95"] <= result["goal_product_warm_ms"] else "MISSES"
    cold_verdict = "meets" if cold <= result["goal_product_cold_s"] else "MISSES"
    return (
        f"## Portal pages at {result['products']:,} products\n\n"
        f"| page | time |\n|---|---|\n"
        f"| first product page after start, catalog cache valid (cold: imports, catalog, Dagster "
        f"instance) | {cold} s ({page['product_cold_cpu_s']} s CPU) |\n"
        f"| first product page after start, no catalog cache (built from the files, then "
        f"cached) | {page['product_cold_without_cache_s']} s "
        f"({page['product_cold_without_cache_cpu_s']} s CPU) |\n"
        f"| start-up warm-up (in a thread as the server starts) | "
        f"{page['warm_up_s']} s |\n"
        f"| first product page once the warm-up is done | "
        f"{page['first_product_after_warm_up_ms']} ms |\n"
        f"| product page, warm p50 / p95 / max ({page['pages']} pages) | "
        f"{warm['p50']} / {warm['p95']} / {warm['max']} ms |\n"
        f"| home page (every product with its health) | {page['home_ms']} ms |\n"
        f"| search page | {page['search_page_ms']} ms |\n| scorecard | {page['scorecard_ms']} ms |\n\n"
        f"The product page warm {warm_verdict} the goal (p95 ≤ "
        f"{result['goal_product_warm_ms']} ms); cold with the catalog cache it {cold_verdict} "
        f"the goal (≤ {result['goal_product_cold_s']} s).\n"
    )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="python -m bench.catalog_search", description=__doc__.splitlines()[0]
    )
    p.add_argument("--products", type=int, default=1000)
    p.add_argument("--queries", type=int, default=500)
    p.add_argument("--pages", type=int, default=200, help="warm product pages to time")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mesh-catalog-bench-") as tmp:
        result = run(args.products, args.queries, args.seed, Path(tmp), args.pages)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "catalog_search.json").write_text(json.dumps(result, indent=2))
    (args.out / "catalog_search.md").write_text(_markdown(result))
    print(_markdown(result))


if __name__ == "__main__":
    main()
