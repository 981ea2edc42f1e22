"""Entry point: generate every Daff source system into one directory, atomically per system.

Layout under out_dir:
    registration.sqlite                       listener registration OLTP database
    reference/countries.csv, plans.csv        shared reference codes
    events/plays/date=YYYY-MM-DD/plays.jsonl  play events, one file per day
    artist_management/*.csv                   artists, tracks, royalty payments
    podcasts/api/page-NNNN.json               podcast catalog, as REST API pages
    manifest.json                             parameters and row counts

Only these entries (``GENERATED``) are replaced when generating again; anything else in out_dir
— another domain's onboarded source files, say — is left as it is.

Every data file is a pure function of (scale, seed, days, start); only the manifest's `seconds`
(and `out_dir`, if generated elsewhere) differs between runs. The window is live by default: its
``days`` end yesterday (UTC), so the demo's daily partitions run to today. Pin it with ``end``
(or ``start``), or with the environment variable ``DAFF_DATA_END`` (YYYY-MM-DD), which the
tests set so their data never depends on the day they run.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from operational import reference_data as ref
from operational.artists import build_catalog, write_catalog
from operational.common import Window, child_rngs
from operational.plays import build_plays, write_plays
from operational.podcasts import build_shows, write_pages
from operational.reference import write_reference
from operational.registration import build_registration, write_registration

DEFAULT_SEED = 42
DEFAULT_DAYS = 90
# the last day of the default window when set (YYYY-MM-DD); yesterday (UTC) otherwise
END_VARIABLE = "DAFF_DATA_END"
MANIFEST = "manifest.json"
# What the generator writes, relative to out_dir: each is replaced as a whole (one rename), and
# nothing else in out_dir is touched. The manifest comes last, so it names a complete output.
GENERATED = (
    "reference/countries.csv",
    "reference/plans.csv",
    "registration.sqlite",
    "artist_management",
    "events/plays",
    "podcasts/api",
    MANIFEST,
)


@dataclass(frozen=True)
class GenerationReport:
    out_dir: Path
    scale: float
    seed: int
    days: int
    start: dt.date
    counts: dict[str, int]
    seconds: float

    def to_json(self) -> dict:
        data = asdict(self)
        data["out_dir"] = str(self.out_dir)
        data["start"] = self.start.isoformat()
        return data


@dataclass(frozen=True)
class Sizes:
    listeners: int
    artists: int
    tracks: int
    play_events: int
    podcast_shows: int

    @classmethod
    def for_scale(cls, scale: float) -> Sizes:
        def sized(base: int, minimum: int) -> int:
            return max(minimum, round(base * scale))

        return cls(
            listeners=sized(50_000, 200),
            artists=sized(2_000, 40),
            tracks=sized(20_000, 400),
            play_events=sized(1_000_000, 1),
            podcast_shows=sized(500, 10),
        )


def default_end() -> dt.date:
    """The last day of the default window: ``DAFF_DATA_END`` if set, else yesterday (UTC)."""
    pinned = os.environ.get(END_VARIABLE)
    if pinned:
        try:
            return dt.date.fromisoformat(pinned)
        except ValueError:
            raise ValueError(f"{END_VARIABLE}={pinned!r} is not a date: use YYYY-MM-DD") from None
    return dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)


def window_start(
    days: int = DEFAULT_DAYS, start: dt.date | None = None, end: dt.date | None = None
) -> dt.date:
    """The first day of a window of ``days`` days: ``start``, or the day ``days - 1`` before
    ``end`` (default :func:`default_end`). Raises ValueError when both are given."""
    if start is not None and end is not None:
        raise ValueError("give the window's start or its end, not both")
    if start is not None:
        return start
    if end is None:
        end = default_end()
    if not isinstance(end, dt.date) or isinstance(end, dt.datetime):
        raise ValueError(f"end must be a datetime.date, got {end!r}")
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValueError(f"days must be an integer >= 1, got {days!r}")
    return end - dt.timedelta(days=days - 1)


def _validate(out_dir: Path, scale: float, seed: int, days: int, start: dt.date) -> None:
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not math.isfinite(scale):
        raise ValueError(f"scale must be a finite number > 0, got {scale!r}")
    if scale <= 0:
        raise ValueError(f"scale must be > 0, got {scale!r}")
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValueError(f"days must be an integer >= 1, got {days!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not isinstance(start, dt.date) or isinstance(start, dt.datetime):
        raise ValueError(f"start must be a datetime.date, got {start!r}")
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"out_dir {out_dir} exists and is not a directory")
    # Replacing deletes what is there, so only ever replace an earlier generator output.
    clashes = [rel for rel in GENERATED if (out_dir / rel).exists()]
    if clashes and not (out_dir / MANIFEST).is_file():
        raise ValueError(
            f"out_dir {out_dir} holds {', '.join(clashes)} but no {MANIFEST}; refusing to replace "
            "something this generator did not write"
        )


def _write_all(folder: Path, scale: float, seed: int, window: Window) -> dict[str, int]:
    sizes = Sizes.for_scale(scale)
    rngs = child_rngs(seed)

    write_reference(folder / "reference")

    registration = build_registration(rngs["registration"], sizes.listeners, window)
    write_registration(registration, folder / "registration.sqlite")
    counts = {
        "listeners": len(registration.listeners["listener_id"]),
        "subscriptions": len(registration.subscriptions["subscription_id"]),
        "profile_changes": len(registration.profile_changes["change_id"]),
    }
    # The written text columns are dropped: only the arrays the play simulation needs stay
    # (the columns hold ~60 MB of Python strings per scale unit, 6 GB at scale 100).
    registration = replace(registration, listeners={}, subscriptions={}, profile_changes={})

    daily_plays = sizes.play_events / window.days
    catalog = build_catalog(rngs["artists"], sizes.artists, sizes.tracks, daily_plays, window)
    write_catalog(catalog, folder / "artist_management")

    plays = build_plays(rngs["plays"], sizes.play_events, window, registration, catalog)
    write_plays(plays, catalog.track_ids, window, folder / "events" / "plays")
    counts["play_events"] = len(plays)
    del plays, registration

    shows = build_shows(rngs["podcasts"], sizes.podcast_shows, window)
    write_pages(shows, folder / "podcasts" / "api")

    return {
        **counts,
        "artists": len(catalog.artists),
        "tracks": len(catalog.tracks),
        "artist_payments": len(catalog.payments),
        "podcast_shows": len(shows),
        "podcast_episodes": sum(len(s["episodes"]) for s in shows),
        "countries": len(ref.COUNTRIES),
        "plans": len(ref.PLANS),
    }


def _replace_entry(new: Path, target: Path, aside: Path) -> None:
    """Move `new` to `target`, replacing it. POSIX cannot rename over a non-empty directory, so
    the old one is first renamed to `aside`: at every instant a complete old or new one exists."""
    target.parent.mkdir(mode=0o700, exist_ok=True)  # out_dir/events, …: owner-only like the rest
    if not target.exists() and not target.is_symlink():
        os.replace(new, target)
        return
    aside.parent.mkdir(parents=True, exist_ok=True)
    os.replace(target, aside)
    try:
        os.replace(new, target)
    except BaseException:
        os.replace(aside, target)  # put the previous one back
        raise


def _replace_generated(staging: Path, out_dir: Path) -> None:
    """Move each generated entry from `staging` into `out_dir`, leaving every other file there.

    The replaced entries go under `staging` (same file system, so each move is a rename) and are
    deleted with it."""
    replaced = staging / ".replaced"
    for rel in GENERATED:
        _replace_entry(staging / rel, out_dir / rel, replaced / rel)


def generate(
    out_dir: Path,
    scale: float = 0.05,
    seed: int = DEFAULT_SEED,
    days: int = DEFAULT_DAYS,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> GenerationReport:
    """Generate all source systems into out_dir (replacing an earlier output of this generator
    there, system by system; files of other systems in out_dir stay).

    scale 1.0 means 50,000 listeners, 20,000 tracks and ~1,000,000 play events over `days`
    days starting at `start`, or ending at `end` (default: yesterday, see :func:`default_end`).
    Raises ValueError on invalid arguments.
    """
    began = time.perf_counter()
    out_dir = Path(out_dir)
    start = window_start(days, start, end)
    _validate(out_dir, scale, seed, days, start)
    window = Window(start, days)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        # mkdtemp's folder is owner-only, and stays so: the sources hold personal data
        counts = _write_all(staging, float(scale), seed, window)
        report = GenerationReport(
            out_dir=out_dir,
            scale=scale,
            seed=seed,
            days=days,
            start=start,
            counts=counts,
            seconds=round(time.perf_counter() - began, 3),
        )
        (staging / MANIFEST).write_text(json.dumps(report.to_json(), indent=2) + "\n")
        out_dir.mkdir(mode=0o700, exist_ok=True)
        _replace_generated(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report
