"""What the mesh runs for one new day: ``mesh materialize --day`` as a measured process.

The platform's verb (``mesh_platform.run.increment.materialize_day``) runs the day's partition of
every daily product, then only what is downstream of it; this wrapper writes a JSON report
of what ran, for the benchmark's logs, with the time the day's port-level uniqueness checks
took inside the build (``port_uniqueness``).

    MESH_DATA_DIR=DIR python -m bench.increment_run --day 2026-04-01 --report out.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from mesh_platform.run.increment import materialize_day


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.increment_run")
    parser.add_argument("--day", required=True, help="the new partition, YYYY-MM-DD")
    parser.add_argument("--report", type=Path)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    runs = materialize_day(args.day)
    results = [
        {
            "domain": run.domain,
            "materialized": sorted(run.materialized),
            "run_ids": run.run_ids,
            "success": run.success,
            "errors": run.errors,
        }
        for run in runs
    ]
    seconds = round(time.perf_counter() - started, 3)
    report = {"seconds": seconds, "runs": results, "port_uniqueness": port_uniqueness(runs)}
    text = json.dumps(report, indent=2)
    if args.report:
        args.report.write_text(text)
    print(text)
    sys.exit(0 if all(r["success"] for r in results) else 1)


def port_uniqueness(runs) -> list[dict]:
    """The day's ``duplicate`` checks verified against the port's other published days: how
    long each took inside the build (mesh_platform/build/port_uniqueness.py), from the checks'
    metadata in the run history."""
    import dagster as dg

    from mesh_platform.build.instance import get_instance

    found = []
    instance = get_instance()
    for run in runs:
        for run_id in run.run_ids:
            records = instance.get_records_for_run(
                run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
            ).records
            for record in records:
                evaluation = record.event_log_entry.dagster_event.event_specific_data
                meta = evaluation.metadata
                if "mesh/port_check_seconds" not in meta:
                    continue
                found.append(
                    {
                        "asset": evaluation.asset_key.to_user_string(),
                        "check": evaluation.check_name,
                        "seconds": meta["mesh/port_check_seconds"].value,
                        "rows_found": meta["mesh/duplicate_count_across_days"].value,
                        "compared_with": meta["mesh/compared_with"].value,
                    }
                )
    return found


if __name__ == "__main__":
    main()
