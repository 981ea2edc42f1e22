"""`python -m operational --scale 0.05 --seed 42 --out data/operational`."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from operational.faults import inject
from operational.generate import DEFAULT_DAYS, DEFAULT_SEED, generate


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m operational",
        description="Generate Daff's simulated operational source systems.",
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=0.05,
        help="1.0 = 50k listeners and 1M play events (default: 0.05)",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--days", type=int, default=DEFAULT_DAYS)
    parser.add_argument(
        "--start",
        type=dt.date.fromisoformat,
        default=None,
        help="first day of the simulated window, YYYY-MM-DD (instead of --end)",
    )
    parser.add_argument(
        "--end",
        type=dt.date.fromisoformat,
        default=None,
        help="last day of the simulated window, YYYY-MM-DD (default: yesterday, UTC)",
    )
    parser.add_argument("--out", type=Path, default=Path("data/operational"))
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="KIND",
        help="corrupt the generated data with this fault kind (repeatable; "
        "`python -m operational.faults --list` lists them)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = _parse_args(argv)
    try:
        report = generate(
            args.out,
            scale=args.scale,
            seed=args.seed,
            days=args.days,
            start=args.start,
            end=args.end,
        )
        faults = inject(args.out, args.fault)
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from exc
    for fault in faults:
        print(f"injected {fault.kind}: {fault.detail} ({fault.source})")
    counts = " ".join(f"{name}={n}" for name, n in report.counts.items())
    rate = report.counts["play_events"] / max(report.seconds, 1e-9)
    print(f"generated {report.out_dir} in {report.seconds:.2f}s ({rate:,.0f} events/s): {counts}")


if __name__ == "__main__":
    main()
