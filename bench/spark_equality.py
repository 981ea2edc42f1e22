"""The same models on Spark give the same port rows as on DuckDB: one domain at a time.

Given a data directory where the DuckDB mesh was built (``mesh generate`` + ``mesh
materialize``), each domain is built on Spark by the harness (``python -m
mesh_platform.production.spark DOMAIN --master local[2]``, its own process: one JVM per
domain), reading the operational sources and the DuckDB build's published upstream ports; then
every port model's table files are compared with the DuckDB warehouse's ``marts.<model>``
(:func:`mesh_platform.production.spark.compare_with_duckdb`: both sides cast to the contract's
types, ``except all`` both ways, floats to 6 decimals, the columns that differ named).

    MESH_DATA_DIR=/tmp/d mesh generate --scale 0.02 && MESH_DATA_DIR=/tmp/d mesh materialize
    python -m bench.spark_equality --data /tmp/d [--domains playback,podcasts] \\
        [--master local[2]] [--full-refresh] [--out bench/results] [--name spark-equality]

Writes ``<out>/<name>.json`` and ``<out>/<name>.md``; exits 1 when a domain failed to build or
a port differs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

from mesh_platform.core.domain import load_domain
from mesh_platform.core.environment import get_environment
from mesh_platform.production.spark import compare_with_duckdb

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable
# upstream domains first (the order of the mesh's runs; on Spark each reads DuckDB's ports)
DOMAINS = ("playback", "podcasts", "artists", "listeners", "recommendations")


def port_models(env, domain: str) -> list[str]:
    found = load_domain(env.domains_dir / domain)
    return sorted({port.model for product in found.products for port in product.output_ports})


def spark_build(data: Path, domain: str, master: str, full_refresh: bool) -> dict:
    outcome = data / "spark" / f"{domain}-build.json"
    outcome.parent.mkdir(parents=True, exist_ok=True)
    outcome.unlink(missing_ok=True)
    argv = [PY, "-m", "mesh_platform.production.spark", domain, "--master", master]
    argv += ["--json", str(outcome), *(["--full-refresh"] if full_refresh else [])]
    log = data / "spark" / f"{domain}-build.log"
    started = time.monotonic()
    with log.open("w") as out:
        subprocess.run(  # noqa: S603 - this interpreter, the harness module, fixed flags
            argv, cwd=REPO, env={**os.environ, "MESH_DATA_DIR": str(data)},
            stdout=out, stderr=subprocess.STDOUT, check=False,
        )  # fmt: skip
    seconds = time.monotonic() - started
    if not outcome.exists():
        return {"domain": domain, "success": False, "message": f"no outcome; see {log}",
                "wall_seconds": seconds, "tables": {}}  # fmt: skip
    return {**json.loads(outcome.read_text()), "wall_seconds": seconds}


def markdown(results: list[dict], data: Path, master: str) -> str:
    generated = data / "operational" / "manifest.json"
    scale = json.loads(generated.read_text()).get("scale") if generated.exists() else "?"
    lines = [
        "# Spark vs DuckDB: port rows",
        "",
        f"Scale {scale}; Spark master {master}, one domain at a time, each in its own process "
        "(`python -m bench.spark_equality`); upstream ports are the DuckDB build's. Wall seconds "
        "include the JVM start.",
        "",
        "| domain | port model | rows DuckDB | rows Spark | equal | differing columns |",
        "|---|---|---:|---:|---|---|",
    ]
    for result in results:
        for c in result["ports"]:
            verdict = "exact" if c["exact"] else ("to 1e-6" if c["equal"] else "**no**")
            differs = ", ".join(c["differing_columns"]) or c["missing"]
            if not c["equal"] and not differs:
                differs = f"{c['only_duckdb']} rows only in DuckDB, {c['only_spark']} only in Spark"
            lines.append(
                f"| {result['domain']} | {c['model']} | {c['duckdb_rows']:,} | "
                f"{c['spark_rows']:,} | {verdict} | {differs} |"
            )
    lines += ["", "| domain | built | wall s | harness phases (s) |", "|---|---|---:|---|"]
    for result in results:
        phases = ", ".join(f"{k} {v:.1f}" for k, v in (result.get("seconds") or {}).items())
        ok = "yes" if result["success"] else f"**no**: {result.get('message', '')[:300]}"
        lines.append(f"| {result['domain']} | {ok} | {result['wall_seconds']:.1f} | {phases} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="where the DuckDB mesh was built")
    parser.add_argument("--domains", default=",".join(DOMAINS))
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--full-refresh", action="store_true")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--name", default="spark-equality")
    args = parser.parse_args(argv)
    data = args.data.resolve()
    os.environ["MESH_DATA_DIR"] = str(data)
    env = get_environment()
    results = []
    for domain in [d.strip() for d in args.domains.split(",") if d.strip()]:
        build = spark_build(data, domain, args.master, args.full_refresh)
        models = port_models(env, domain)
        ports = compare_with_duckdb(env, domain, build.get("tables") or {}, models)
        results.append({**build, "ports": [asdict(p) for p in ports]})
        for p in ports:
            print(
                f"{domain}.{p.model}: DuckDB {p.duckdb_rows} rows, Spark {p.spark_rows}, "
                f"{'equal' if p.equal else 'DIFFERENT ' + str(p.differing_columns)}"
                f"{'' if p.exact or not p.equal else ' (floats to 1e-6)'}",
                flush=True,
            )
        print(f"{domain}: built={build['success']} in {build['wall_seconds']:.1f}s", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(results, indent=2, default=str))
    (args.out / f"{args.name}.md").write_text(markdown(results, data, args.master))
    ok = all(r["success"] and all(p["equal"] for p in r["ports"]) for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
