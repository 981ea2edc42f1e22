"""What the mesh runs for one new day: ``mesh materialize --day`` as a measured process.

The platform's verb (``mesh_platform.run.increment.materialize_day``) runs the day's partition of
every daily product, then only what is downstream of it; this wrapper writes a JSON report
of what ran, for the benchmark's logs.

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
    text = json.dumps(
        {"seconds": round(time.perf_counter() - started, 3), "runs": results}, indent=2
    )
    if args.report:
        args.report.write_text(text)
    print(text)
    sys.exit(0 if all(r["success"] for r in results) else 1)


if __name__ == "__main__":
    main()
