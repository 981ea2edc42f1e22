"""Append one new day of play events to generated operational data: the daily increment.

The event collector lands one more ``events/plays/date=YYYY-MM-DD/plays.jsonl`` file, for the
day after the last existing day folder, in exactly the format ``operational.plays`` writes.
Plays are simulated by the same session model, by listeners of the registration database and
of tracks of the catalog that the generator wrote: both are rebuilt from the manifest's
(scale, seed, start, days), which is cheap and exact because every source system draws from
its own random stream. Nothing else changes except ``manifest.json`` (``days``,
``counts.play_events`` and the list of ``appended_days``), which is replaced atomically.

Deterministic: the new day is a pure function of the manifest and the seed. Event ids continue
after the last generated one. Session numbers continue in a block per day
(``day index × 1,000,000 + n``), so a session never merges with an earlier one and no history
has to be re-read.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from operational import reference_data as ref
from operational.artists import build_catalog
from operational.common import Window, child_rngs, concat, text, zero_pad
from operational.generate import MANIFEST, Sizes
from operational.plays import EVENT_ID_WIDTH, Plays, _utf8_bytes, build_plays
from operational.registration import build_registration

SESSION_BLOCK = 1_000_000
PLAYS_DIR = Path("events") / "plays"


def existing_days(out_dir: Path) -> list[dt.date]:
    """The day folders of the play event stream, sorted."""
    folders = (Path(out_dir) / PLAYS_DIR).glob("date=*")
    return sorted(dt.date.fromisoformat(p.name.removeprefix("date=")) for p in folders)


def _lines(plays: Plays, first_id: int, track_ids: pa.Array) -> bytes | memoryview:
    """JSON-Lines of ``plays`` with event ids from ``first_id``; same keys as the generator."""
    n = len(plays)
    listener = text(plays.listener_id)
    played_at = np.datetime_as_string(plays.played_at_ms.astype("datetime64[ms]"), unit="ms")
    lines = concat(
        '{"event_id":"pe_', zero_pad(np.arange(first_id, first_id + n), EVENT_ID_WIDTH),
        '","listener_id":', listener,
        ',"track_id":"', track_ids.take(pa.array(plays.track_idx)),
        '","session_id":"s_', listener, "_", text(plays.session_no),
        '","played_at":"', played_at,
        'Z","ms_played":', text(plays.ms_played),
        ',"device":"', pa.array(ref.DEVICES).take(pa.array(plays.device_idx)),
        '","country_code":"',
        pa.array([c.code for c in ref.COUNTRIES]).take(pa.array(plays.country_idx)),
        '","completed":', pc.if_else(pa.array(plays.completed), "true", "false"),
        "}\n",
    )  # fmt: skip
    return _utf8_bytes(lines)


def _write_atomic(path: Path, data: bytes | memoryview | str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    if isinstance(data, str):
        tmp.write_text(data)
    else:
        tmp.write_bytes(data)
    os.replace(tmp, path)  # a new inode: files hard-linked elsewhere keep their content


def append_day(out_dir: Path, seed: int | None = None) -> dt.date:
    """Write the play events of the day after the last day folder; return that day.

    ``seed`` defaults to the generator's seed from the manifest. Raises FileNotFoundError when
    ``out_dir`` holds no generated data.
    """
    out_dir = Path(out_dir)
    manifest_file = out_dir / MANIFEST
    if not manifest_file.is_file():
        raise FileNotFoundError(f"no generated operational data in {out_dir} ({MANIFEST})")
    meta = json.loads(manifest_file.read_text())
    seed = int(meta["seed"] if seed is None else seed)
    start = dt.date.fromisoformat(meta["start"])
    appended = list(meta.get("appended_days", []))
    base = Window(start, int(meta["days"]) - len(appended))  # the generator's own window
    days = existing_days(out_dir)
    day = (days[-1] if days else start + dt.timedelta(days=base.days - 1)) + dt.timedelta(days=1)

    sizes = Sizes.for_scale(float(meta["scale"]))
    rngs = child_rngs(int(meta["seed"]))  # the streams the generator used: same listeners/tracks
    registration = build_registration(rngs["registration"], sizes.listeners, base)
    catalog = build_catalog(
        rngs["artists"], sizes.artists, sizes.tracks, sizes.play_events / base.days, base
    )
    day_rng = np.random.default_rng([seed, day.toordinal()])
    per_day = max(1, round(sizes.play_events / base.days))
    plays = build_plays(day_rng, per_day, Window(day, 1), registration, catalog)
    day_index = (day - start).days
    plays = replace(plays, session_no=plays.session_no + day_index * SESSION_BLOCK)

    first_id = int(meta["counts"]["play_events"]) + 1
    folder = out_dir / PLAYS_DIR / f"date={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    _write_atomic(folder / "plays.jsonl", _lines(plays, first_id, catalog.track_ids))

    meta["days"] = int(meta["days"]) + 1
    meta["counts"]["play_events"] = int(meta["counts"]["play_events"]) + len(plays)
    meta["appended_days"] = [*appended, day.isoformat()]
    _write_atomic(manifest_file, json.dumps(meta, indent=2) + "\n")
    return day


def main(argv: list[str] | None = None) -> None:
    """``python -m operational.increment [--out DIR]``: land the next day of play events."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m operational.increment",
        description="Append the next day of play events to generated operational data.",
    )
    default = Path(os.environ.get("MESH_DATA_DIR", "data")) / "operational"
    parser.add_argument("--out", type=Path, default=default, help=f"(default {default})")
    args = parser.parse_args(argv)
    if not (args.out / MANIFEST).exists():
        parser.exit(2, f"error: no generated data in {args.out}; run `mesh generate` first\n")
    day = append_day(args.out)
    print(f"appended {day.isoformat()} to {args.out}; run: mesh materialize --day {day}")


if __name__ == "__main__":
    main()
