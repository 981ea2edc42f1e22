"""Soda contract verification (and Parquet publishing) timed on their own, per output port.

Run right after a full mesh build on its data dir: for each domain, open its DuckDB file once
(as the build step does), verify every port's contract with the platform's own
``verify_contract`` and publish a snapshot with ``publish_snapshot`` into a scratch ports dir
(the real ports are left alone). Importing Soda is timed separately: a build step's worker
process pays it once, on its first port.

    python -m bench.soda_share --data-dir DIR --report out.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path


def measure(data_dir: Path) -> dict:
    started = time.perf_counter()
    from soda_core.contracts import verify_contract_locally  # noqa: F401
    from soda_duckdb.common.data_sources.duckdb_data_source import (  # noqa: F401
        DuckDBDataSourceImpl,
    )

    import_s = time.perf_counter() - started

    import duckdb

    from mesh_platform.build.verification import verify_contract
    from mesh_platform.core.bindings import bind_domain
    from mesh_platform.core.domain import load_all_domains
    from mesh_platform.core.environment import apply_tool_env
    from mesh_platform.core.manifest import load_mesh_manifest
    from mesh_platform.ports.publish import publish_snapshot
    from mesh_platform.ports.store import DayPartitions

    env = apply_tool_env()
    manifest = load_mesh_manifest(env)
    scratch = data_dir / "bench-scratch-ports"
    ports = []
    try:
        for domain in load_all_domains(env.domains_dir):
            bindings = bind_domain(domain, manifest)
            con = duckdb.connect(str(env.domain_database(domain.name)))
            try:
                for binding in bindings.ports.values():
                    t = time.perf_counter()
                    verification = verify_contract(con, binding.contract, data_source=domain.name)
                    verify_s = time.perf_counter() - t
                    t = time.perf_counter()
                    part = binding.product.partitioning
                    published = publish_snapshot(
                        con,
                        binding.relation,
                        scratch,
                        domain.name,
                        binding.port.name,
                        1,
                        # as the full build publishes it: per day when the product says so
                        partitions=DayPartitions(part.column) if part and part.column else None,
                    )
                    publish_s = time.perf_counter() - t
                    ports.append(
                        {
                            "address": binding.address,
                            "checks": len(verification.outcomes),
                            "passed": verification.passed,
                            "rows": published.rows,
                            "verify_s": round(verify_s, 3),
                            "publish_s": round(publish_s, 3),
                        }
                    )
            finally:
                con.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {
        "soda_import_s": round(import_s, 3),
        "verify_s": round(sum(p["verify_s"] for p in ports), 3),
        "publish_s": round(sum(p["publish_s"] for p in ports), 3),
        "checks": sum(p["checks"] for p in ports),
        "ports": ports,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.soda_share")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--report", type=Path)
    args = parser.parse_args(argv)
    result = measure(args.data_dir.resolve())
    text = json.dumps(result, indent=2)
    if args.report:
        args.report.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
