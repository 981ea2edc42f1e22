"""What the mesh ran for one new day, as a JSON report for the benchmark's logs: the runs, and
the time the day's port-level uniqueness checks took inside the build (``port_uniqueness``).

The benchmark measures the command a user runs, ``mesh materialize --day``, and then reports
on the runs it made, untimed (``--since``: the runs created after that epoch time). ``--day``
runs the platform's verb (``mesh_platform.run.increment.materialize_day``) here and reports on
it, in one process (``bench/ports_ab.py``).

    MESH_DATA_DIR=DIR python -m bench.increment_run --since 1796628190.2 --report out.json
    MESH_DATA_DIR=DIR python -m bench.increment_run --day 2026-04-01 --report out.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from mesh_platform.run.increment import materialize_day


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.increment_run")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--day", help="run the new partition, YYYY-MM-DD, and report on it")
    what.add_argument("--since", type=float, help="report on the runs created since (epoch s)")
    parser.add_argument("--report", type=Path)
    args = parser.parse_args(argv)
    if args.since is not None:
        _write(_report_since(args.since), args.report)
        return
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
    _write(report, args.report)
    sys.exit(0 if all(r["success"] for r in results) else 1)


def _write(report: dict, path: Path | None) -> None:
    text = json.dumps(report, indent=2)
    if path:
        path.write_text(text)
    print(text)


def _report_since(since: float) -> dict:
    """The runs the instance holds that were created after ``since``, one entry per domain."""
    from datetime import UTC, datetime

    import dagster as dg

    from mesh_platform.build.instance import get_instance

    records = get_instance().get_run_records(
        filters=dg.RunsFilter(created_after=datetime.fromtimestamp(since, UTC))
    )
    by_domain: dict[str, SimpleNamespace] = {}
    for record in sorted(records, key=lambda r: r.create_timestamp):
        run = record.dagster_run
        # each domain's runs are its code location's (build/job_run.py)
        domain = run.remote_job_origin.location_name if run.remote_job_origin else run.job_name
        entry = by_domain.setdefault(domain, SimpleNamespace(domain=domain, run_ids=[], ok=True))
        entry.run_ids.append(run.run_id)
        entry.ok = entry.ok and run.status == dg.DagsterRunStatus.SUCCESS
    runs = list(by_domain.values())
    return {
        "runs": [{"domain": r.domain, "run_ids": r.run_ids, "success": r.ok} for r in runs],
        "port_uniqueness": port_uniqueness(runs),
    }


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
