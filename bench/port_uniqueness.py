"""The port-level uniqueness check of a daily build, timed on its own.

``mesh materialize --day`` verifies a day's ``duplicate`` checks against the keys the port
already publishes for every other day (``mesh_platform/build/port_uniqueness.py``). This times
that check alone on a play_events port of generated data at a given scale:

1. setup (untimed): the generated play event files are loaded into ``marts.play_events`` of a
   scratch DuckDB file (the port's columns, in the order the files hold them), and every day
   but the last is published per day with the platform's ``publish_snapshot``, as a build of
   those days would leave the port;
2. the last day is "the day built", checked against the published snapshot's 89 other days:
   ``clean`` as generated, ``reuse_previous_day`` with 5 event ids of the day before, and
   ``reuse_first_day`` with 5 ids of the first day (the worst case for DuckDB's row-group
   pruning: the keys then span the whole history, so every day file's key column is read);
3. for comparison, what the check replaces: counting duplicates over the whole port
   (``count(*) - count(distinct event_id)`` in DuckDB; Soda's own query is slower).

    python -m bench.port_uniqueness --operational DIR [--repeat 5] [--work DIR] \\
        [--out bench/results] [--name port-uniqueness]

The increment variant of ``python -m bench`` records the same check's time inside the build
(``mesh/port_check_seconds`` of the day's asset checks: ``port_uniqueness`` in its results).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from mesh_platform.core.contracts import load_contract

REPO = Path(__file__).resolve().parent.parent
CONTRACT = REPO / "domains" / "playback" / "contracts" / "play_events.yaml"
RELATION = "marts.play_events"
COLUMNS = (
    "event_id varchar, listener_id bigint, track_id varchar, session_id varchar, "
    "played_at timestamp, ms_played bigint, device varchar, country_code varchar, "
    "completed boolean"
)


def _load(con, operational: Path) -> None:
    files = str(operational / "events" / "plays" / "date=*" / "plays.jsonl")
    cols = ", ".join(f"'{c.split()[0]}': '{c.split()[1]}'" for c in COLUMNS.split(", "))
    con.execute("create schema if not exists marts")
    con.execute(
        f"create or replace table {RELATION} as select event_id, listener_id, track_id, "
        'session_id, played_at, cast("date" as date) as event_date, ms_played, device, '
        f"country_code, completed from read_json('{files}', format='newline_delimited', "
        f"hive_partitioning=true, columns={{{cols}}})"
    )


def _timed(fn, repeat: int) -> tuple[list[float], object]:
    samples, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - started)
    return samples, result


def _stats(samples: list[float]) -> dict:
    return {
        "median_s": round(statistics.median(samples), 4),
        "min_s": round(min(samples), 4),
        "max_s": round(max(samples), 4),
        "samples_s": [round(s, 4) for s in samples],
    }


def measure(operational: Path, work: Path, repeat: int) -> dict:
    import duckdb

    from mesh_platform.build.port_uniqueness import published_elsewhere
    from mesh_platform.core.environment import duckdb_memory_limit
    from mesh_platform.ports.publish import publish_snapshot
    from mesh_platform.ports.store import DayPartitions, current_snapshot

    work.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(
        str(work / "playback.duckdb"), config={"memory_limit": duckdb_memory_limit()}
    )
    started = time.perf_counter()
    _load(con, operational)
    load_s = time.perf_counter() - started
    days = [
        r[0]
        for r in con.execute(f"select distinct event_date from {RELATION} order by 1").fetchall()
    ]
    rows = con.execute(f"select count(*) from {RELATION}").fetchone()[0]
    last: date = days[-1]
    ports = work / "ports"
    shutil.rmtree(ports, ignore_errors=True)
    con.execute(
        f"create or replace table marts.published as select * from {RELATION} where event_date < ?",
        [last],
    )
    started = time.perf_counter()
    publish_snapshot(
        con, "marts.published", ports, "playback", "play_events", 1,
        partitions=DayPartitions("event_date"),
    )  # fmt: skip
    publish_s = time.perf_counter() - started
    con.execute("drop table marts.published")
    current = current_snapshot(ports, "playback", "play_events", 1)
    spec = load_contract(CONTRACT, "playback/marts/play_events")
    checks = tuple(c for c in spec.checks if c.check_type == "duplicate")
    part = DayPartitions("event_date", (last,))
    where = f"event_date >= '{last}'::date and event_date <= '{last}'::date"
    day_rows = con.execute(f"select count(*) from {RELATION} where {where}").fetchone()[0]

    def check():
        return published_elsewhere(con, RELATION, checks, part, where, current)

    def reuse(donor: date) -> None:
        ids = [r[0] for r in con.execute(
            f"select event_id from {RELATION} where event_date = ? order by event_id limit 5",
            [donor],
        ).fetchall()]  # fmt: skip
        targets = [r[0] for r in con.execute(
            f"select rowid from {RELATION} where {where} order by rowid limit 5"
        ).fetchall()]  # fmt: skip
        originals.update(dict(zip(targets, con.execute(
            f"select event_id from {RELATION} where rowid in ({', '.join(map(str, targets))}) "
            "order by rowid").fetchall(), strict=True)))  # fmt: skip
        for rowid, event_id in zip(targets, ids, strict=True):
            con.execute(f"update {RELATION} set event_id = ? where rowid = ?", [event_id, rowid])

    def restore() -> None:
        for rowid, (event_id,) in originals.items():
            con.execute(f"update {RELATION} set event_id = ? where rowid = ?", [event_id, rowid])
        originals.clear()

    originals: dict = {}
    scenarios = {}
    check()  # warm: DuckDB's first read of the Parquet metadata and the page cache
    for name, donor in (
        ("clean", None),
        ("reuse_previous_day", days[-2]),
        ("reuse_first_day", days[0]),
    ):
        if donor is not None:
            reuse(donor)
        samples, found = _timed(check, repeat)
        (result,) = found
        scenarios[name] = {
            **_stats(samples),
            "rows_found": result.rows,
            "keys_found": result.keys,
            "already_published_on": result.days,
            "compared_with": result.compared_with,
        }
        restore()
    samples, _ = _timed(
        lambda: con.execute(
            f"select count(*) - count(distinct event_id) from {RELATION}"
        ).fetchone(),
        repeat,
    )
    scenarios["whole_port_rescan"] = _stats(samples)
    con.close()
    return {
        "rows": rows,
        "days": len(days),
        "day_built": last.isoformat(),
        "day_rows": day_rows,
        "published_days": len(current.partitions or {}),
        "snapshot_bytes": sum(Path(f).stat().st_size for f in current.files),
        "setup": {"load_s": round(load_s, 1), "publish_s": round(publish_s, 1)},
        "repeat": repeat,
        "scenarios": scenarios,
        "load_average": os.getloadavg(),
        "cpus": os.cpu_count(),
    }


def markdown(result: dict, scale: str) -> str:
    lines = [
        f"## Scale {scale}: {result['rows']:,} play events, {result['days']} days",
        "",
        f"Day built: {result['day_built']} ({result['day_rows']:,} rows), checked against the "
        f"{result['published_days']} other days of the published snapshot "
        f"({result['snapshot_bytes'] / 2**20:.0f} MiB of Parquet). {result['repeat']} runs each; "
        f"load average after: {', '.join(f'{x:.1f}' for x in result['load_average'])} on "
        f"{result['cpus']} cores.",
        "",
        "| scenario | median s | min s | max s | rows found | published on |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, s in result["scenarios"].items():
        found = s.get("rows_found", "")
        days = ", ".join(s.get("already_published_on", [])) or ("—" if "rows_found" in s else "")
        lines.append(
            f"| {name} | {s['median_s']:.3f} | {s['min_s']:.3f} | {s['max_s']:.3f} | {found} | {days} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.port_uniqueness")
    parser.add_argument("--operational", type=Path, required=True, help="generated data dir")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--work", type=Path, help="scratch dir (default: a temporary one)")
    parser.add_argument("--report", type=Path, help="write the result as JSON here")
    args = parser.parse_args(argv)
    manifest = json.loads((args.operational / "manifest.json").read_text())
    scratch = args.work or Path(tempfile.mkdtemp(prefix="mesh-bench-unique-"))
    try:
        result = {"scale": manifest["scale"], **measure(args.operational, scratch, args.repeat)}
    finally:
        if args.work is None:
            shutil.rmtree(scratch, ignore_errors=True)
    text = json.dumps(result, indent=2, default=str)
    if args.report:
        args.report.write_text(text)
    print(text)
    print(markdown(result, str(manifest["scale"])))


if __name__ == "__main__":
    main()
