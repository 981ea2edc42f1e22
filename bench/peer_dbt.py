"""The peer: plain ``dbt build`` of each domain's project, one invocation per domain, in mesh order.

What a team would run without the mesh: the .venv's ``dbt`` executable (a new process per
domain, as on the command line) in the domain's own dbt project, with ``MESH_DOMAIN`` set so
the profile writes the domain's own DuckDB file, its own ``--target-path`` per domain (the
profile differs per domain, so one shared target would defeat partial parsing). Sequential:
a user runs one command after the other. Upstream ports must already be in the data dir's
``ports/`` (the harness copies them from the mesh run on the same data).

    python -m bench.peer_dbt --data-dir DIR --domains playback,podcasts,... --report out.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROJECT = REPO / "dbt_project"
TELEMETRY_OFF = {
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "DO_NOT_TRACK": "1",
    "DBT_VERSION_CHECK": "false",
}


def dbt_env(data_dir: Path, domain: str) -> dict[str, str]:
    return {
        **os.environ,
        **TELEMETRY_OFF,
        "MESH_DOMAIN": domain,
        "MESH_DATA_DIR": str(data_dir),
        "MESH_OPERATIONAL_DIR": str(data_dir / "operational"),
        "MESH_PORTS_DIR": str(data_dir / "ports"),
        "MESH_WAREHOUSE_DIR": str(data_dir / "warehouse"),
    }


def dbt_build_cmd(data_dir: Path, domain: str, extra: list[str] | None = None) -> list[str]:
    return [
        str(Path(sys.executable).parent / "dbt"),
        "build",
        "--project-dir",
        str(PROJECT / domain),  # each domain's own dbt project
        "--profiles-dir",
        str(PROJECT),
        "--target-path",
        str(data_dir / "dbt" / domain),
        "--log-path",
        str(data_dir / "logs"),
        "--no-version-check",
        *(extra or []),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.peer_dbt")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--domains", required=True, help="comma-separated, upstream first")
    parser.add_argument("--report", type=Path)
    args = parser.parse_args(argv)
    data_dir = args.data_dir.resolve()
    (data_dir / "warehouse").mkdir(parents=True, exist_ok=True)
    results, failed = [], False
    for domain in args.domains.split(","):
        started = time.perf_counter()
        proc = subprocess.run(dbt_build_cmd(data_dir, domain), env=dbt_env(data_dir, domain))
        results.append(
            {
                "domain": domain,
                "seconds": round(time.perf_counter() - started, 3),
                "returncode": proc.returncode,
            }
        )
        failed |= proc.returncode != 0
    text = json.dumps(results, indent=2)
    if args.report:
        args.report.write_text(text)
    print(text)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
