"""The coordinator that runs domains in spawned worker processes (``run_in_domain_order``): a
consumer starts as soon as its producer finishes, before the producer's report is printed, and
what a worker wrote is all there after the pool ends it.

Real spawned workers (they import Dagster and open a throwaway instance, as in a build); the
domains' work is a small function of this module instead of a Dagster run."""

from __future__ import annotations

import sys
import time
from types import SimpleNamespace

from mesh_platform.run.runner import run_in_domain_order


def _domain(name: str, reads: list[str]) -> SimpleNamespace:
    product = SimpleNamespace(upstream_ports=[f"{d}.{d}_port" for d in reads])
    return SimpleNamespace(name=name, products=[product], engine="duckdb")


def _work(name: str) -> SimpleNamespace:
    # no newline and no flush: the text is still in the worker's buffer when its pool ends it
    sys.stdout.write(f"[{name} wrote this]")
    return SimpleNamespace(domain=name)


def test_consumer_starts_before_its_producer_is_reported_and_workers_lose_no_output(
    tmp_path, monkeypatch, capfd
):
    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path / "data"))
    domains = [_domain("producer", []), _domain("consumer", ["producer"])]
    events: list[str] = []

    def on_done(run) -> None:
        events.append(f"done {run.domain}")
        if run.domain == "producer":
            time.sleep(1)  # a slow report (the CLI's first read of the published ports)

    runs = run_in_domain_order(
        domains,
        lambda domain, finished: (_work, domain.name),
        workers=2,
        on_start=lambda name: events.append(f"start {name}"),
        on_done=on_done,
    )

    assert [r.domain for r in runs] == ["producer", "consumer"]
    assert events == ["start producer", "start consumer", "done producer", "done consumer"]
    written = capfd.readouterr().out
    assert "[producer wrote this]" in written and "[consumer wrote this]" in written
