"""The play event stream: one JSON-Lines file per day, as the clients' event collector lands it.

Plays are simulated as listening sessions: a session starts at a time drawn from a weekly and
daily rhythm, belongs to a listener who had signed up (and not unsubscribed) by then, picked with
a heavily skewed activity weight, and chains several plays back to back. Tracks follow the
catalog's Zipf popularity. Everything is whole-array numpy; the only Python loops run over days
and over a few redraw rounds, never over events.

Memory: scale 100 means ~100 M events, so each int64 array over them is 800 MB. The event arrays
therefore use the smallest dtype that holds their values exactly (int32 indices and durations,
int8 codes, bool), intermediates are deleted or overwritten in place as soon as they are used, and
columns are filtered and sorted one at a time. The values, every random draw and its order are
those of the plain version, so the files stay byte-identical.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from operational import reference_data as ref
from operational.artists import Catalog
from operational.common import (
    MS_PER_S,
    S_PER_DAY,
    Window,
    concat,
    group_cumcount,
    group_cumsum,
    group_start_positions,
    largest_remainder,
    text,
    zero_pad,
)
from operational.registration import Registration

MEAN_SESSION_PLAYS = 8
MAX_SESSION_PLAYS = 60
WEEKEND_BOOST = 1.2
LISTENER_ACTIVITY_SIGMA = 1.3  # log-normal spread: a minority of listeners plays most
PRIMARY_DEVICE_SHARE = 0.85
TRAVEL_SHARE = 0.03
COMPLETION_SHARE = 0.62
EVENT_ID_WIDTH = 10
_MS_PER_HOUR = 3_600_000
_MAX_REDRAWS = 25


@dataclass(frozen=True)
class Plays:
    """Play events sorted by played_at; the event id is the 1-based row number.

    Only played_at_ms needs int64; the other columns are int32, int8 or bool (memory at scale 100).
    """

    listener_id: np.ndarray
    track_idx: np.ndarray
    session_no: np.ndarray  # per listener, 1-based in order of session start
    played_at_ms: np.ndarray
    ms_played: np.ndarray
    device_idx: np.ndarray
    country_idx: np.ndarray
    completed: np.ndarray

    def __len__(self) -> int:
        return len(self.listener_id)


def _weights(values) -> np.ndarray:
    w = np.asarray(values, dtype=np.float64)
    return w / w.sum()


def _daily_targets(rng: np.random.Generator, n_events: int, window: Window) -> np.ndarray:
    weekday = (window.start.weekday() + np.arange(window.days)) % 7
    jitter = np.clip(rng.normal(1.0, 0.04, window.days), 0.88, 1.12)
    weights = np.where(weekday >= 5, WEEKEND_BOOST, 1.0) * jitter
    # One play per day up front (when there are enough) so no day's file is empty: DuckDB cannot
    # infer a schema from an empty JSON file when a single day is read.
    floor = 1 if n_events >= window.days else 0
    return floor + largest_remainder(n_events - floor * window.days, weights)


def _sessions(rng: np.random.Generator, target: np.ndarray, window: Window):
    """Session days, start times and lengths whose lengths add up to each day's target."""
    candidates = np.ceil(target / MEAN_SESSION_PLAYS * 1.5).astype(np.int64) + 4 * (target > 0)
    day = np.repeat(np.arange(window.days), candidates)
    length = np.minimum(rng.geometric(1 / MEAN_SESSION_PLAYS, len(day)), MAX_SESSION_PLAYS)
    before = group_cumsum(length, day) - length
    keep = before < target[day]
    day, length = day[keep], np.minimum(length, target[day] - before)[keep]

    hour = rng.choice(24, size=len(day), p=_weights(ref.HOURLY_ACTIVITY))
    start_ms = (
        (window.start_s + day * S_PER_DAY) * MS_PER_S
        + hour * _MS_PER_HOUR
        + rng.integers(0, _MS_PER_HOUR, len(day))
    )
    return start_ms, length


def _pick_listeners(
    rng: np.random.Generator, start_ms: np.ndarray, reg: Registration
) -> np.ndarray:
    """A listener index per session (-1 if none could be found).

    Listener ids follow signup order, so the listeners signed up before a time are a prefix:
    a weighted draw from that prefix is one searchsorted on cumulative weights. Sessions that
    land on a listener who had already unsubscribed are redrawn.
    """
    signup_ms = reg.signup_s * MS_PER_S
    churn_ms = reg.churn_s * MS_PER_S
    cum_weight = np.cumsum(rng.lognormal(0.0, LISTENER_ACTIVITY_SIGMA, len(signup_ms)))
    eligible = np.searchsorted(signup_ms, start_ms, side="left")
    listener = np.full(len(start_ms), -1, dtype=np.int64)
    todo = np.flatnonzero(eligible > 0)
    for _ in range(_MAX_REDRAWS):
        if todo.size == 0:
            break
        limit = eligible[todo] - 1
        u = rng.random(todo.size) * cum_weight[limit]
        chosen = np.minimum(np.searchsorted(cum_weight, u, side="right"), limit)
        listener[todo] = chosen
        todo = todo[churn_ms[chosen] <= start_ms[todo]]
    listener[todo] = -1
    return listener


def _home_country(listener: np.ndarray, start_ms: np.ndarray, reg: Registration) -> np.ndarray:
    """Each session's listener's registered country at session start (as-of join, vectorised)."""
    move_who, move_s, move_country = reg.country_moves
    n_moves = len(move_who)
    who = np.concatenate([move_who, listener])
    at = np.concatenate([move_s * MS_PER_S, start_ms])
    is_session = np.concatenate([np.zeros(n_moves, bool), np.ones(len(listener), bool)])
    order = np.lexsort((is_session, at, who))  # a move at the same instant counts already
    who, is_session = who[order], is_session[order]
    rows = np.arange(len(order))
    last_move = np.maximum.accumulate(np.where(~is_session, rows, -1))
    moved = last_move >= group_start_positions(who)
    value = np.concatenate([move_country, reg.initial_country[listener]])[order]
    country_sorted = np.where(moved, value[np.maximum(last_move, 0)], value)
    country = np.empty(len(listener), dtype=np.int64)
    country[order[is_session] - n_moves] = country_sorted[is_session]
    return country


def build_plays(
    rng: np.random.Generator, n_events: int, window: Window, reg: Registration, catalog: Catalog
) -> Plays:
    start_ms, length = _sessions(rng, _daily_targets(rng, n_events, window), window)
    listener = _pick_listeners(rng, start_ms, reg)
    found = listener >= 0
    start_ms, length, listener = start_ms[found], length[found], listener[found]
    del found
    n_sessions = len(listener)

    by_listener = np.lexsort((start_ms, listener))
    session_no = np.empty(n_sessions, dtype=np.int32)
    session_no[by_listener] = group_cumcount(listener[by_listener]) + 1
    del by_listener

    n_devices = len(ref.DEVICES)
    primary = rng.choice(n_devices, size=len(reg.signup_s), p=_weights(ref.DEVICE_WEIGHTS))
    device = np.where(
        rng.random(n_sessions) < PRIMARY_DEVICE_SHARE,
        primary[listener],
        rng.integers(0, n_devices, n_sessions),
    ).astype(np.int8)
    del primary
    n_countries = len(ref.COUNTRIES)
    country = _home_country(listener, start_ms, reg)
    abroad = rng.random(n_sessions) < TRAVEL_SHARE
    elsewhere = (country + rng.integers(1, n_countries, n_sessions)) % n_countries
    country = np.where(abroad, elsewhere, country).astype(np.int8)
    del abroad, elsewhere
    # A session's plays are the rows offset .. offset + length - 1 (every length is >= 1).
    offset = np.cumsum(length) - length
    # Plays end by the window's end and by the listener's churn, whichever comes first.
    end_ms = np.minimum(window.end_s * MS_PER_S, reg.churn_s[listener] * MS_PER_S)

    n = int(length.sum())
    track = rng.choice(len(catalog.popularity), size=n, p=catalog.popularity).astype(np.int32)
    duration = catalog.duration_ms.astype(np.int32)[track]  # <= 900,000 ms
    # Completed plays stop within the last 4% of the track; skips happen early more often.
    # (`r` is one float buffer reused in place; same operations, same order as plain numpy.)
    r = rng.random(n)
    r *= 0.04
    r *= duration
    ms_played = duration - np.floor(r, out=r).astype(np.int32)  # the finished plays for now
    skip_span = np.ceil(np.multiply(0.95, duration, out=r)).astype(np.int32)
    skip_span -= 1 + 1_000  # skip_max - 1_000, skip_max = ceil(0.95 * duration) - 1
    r = rng.random(n)
    r **= 2
    r *= skip_span
    del skip_span
    skipped = np.floor(r, out=r).astype(np.int32)
    del r
    skipped += 1_000
    skip = rng.random(n) >= COMPLETION_SHARE
    np.copyto(ms_played, skipped, where=skip)
    del skipped, skip
    completed = ms_played * 100 >= duration * 95  # exact in int32: 900,000 * 100 < 2**31
    del duration

    # A play starts after the steps (its play plus a short gap) of its session's earlier plays:
    # an exclusive running sum of the steps, restarted at each session's first row.
    step = rng.integers(0, 4_000, n)
    step += ms_played
    played_at = np.cumsum(step)
    played_at -= step
    del step
    played_at += np.repeat(start_ms - played_at[offset], length)
    del start_ms
    keep = played_at < np.repeat(end_ms, length)
    del end_ms

    position = np.arange(n, dtype=np.int32)  # within the session: < MAX_SESSION_PLAYS
    position -= np.repeat(offset.astype(np.int32), length)
    position = position[keep].astype(np.int8)
    session = np.repeat(np.arange(n_sessions, dtype=np.int32), length)[keep]
    del offset, length
    # One column at a time, each replacing its source: at most one exists twice at any moment.
    played_at = played_at[keep]
    track = track[keep]
    ms_played = ms_played[keep]
    completed = completed[keep]
    del keep
    who = listener.astype(np.int32)[session]
    del listener
    session_no = session_no[session]
    device = device[session]
    country = country[session]
    del session
    order = np.lexsort((position, session_no, who, played_at))
    del position
    who = who[order]
    who += 1
    track = track[order]
    session_no = session_no[order]
    played_at = played_at[order]
    ms_played = ms_played[order]
    device = device[order]
    country = country[order]
    completed = completed[order]
    del order
    return Plays(
        listener_id=who,
        track_idx=track,
        session_no=session_no,
        played_at_ms=played_at,
        ms_played=ms_played,
        device_idx=device,
        country_idx=country,
        completed=completed,
    )


def _utf8_bytes(lines: pa.Array) -> bytes | memoryview:
    """The contiguous UTF-8 payload of a string array (all lines, already newline-terminated)."""
    if len(lines) == 0:
        return b""
    width = np.int64 if pa.types.is_large_string(lines.type) else np.int32
    offsets = np.frombuffer(lines.buffers()[1], dtype=width)[lines.offset :]
    return memoryview(lines.buffers()[2])[offsets[0] : offsets[len(lines)]]


def _jsonl(plays: Plays, lo: int, hi: int, track_ids: pa.Array) -> bytes | memoryview:
    rows = slice(lo, hi)
    listener = text(plays.listener_id[rows])
    played_at = np.datetime_as_string(plays.played_at_ms[rows].astype("datetime64[ms]"), unit="ms")
    lines = concat(
        '{"event_id":"pe_', zero_pad(np.arange(lo + 1, hi + 1), EVENT_ID_WIDTH),
        '","listener_id":', listener,
        ',"track_id":"', track_ids.take(pa.array(plays.track_idx[rows])),
        '","session_id":"s_', listener, "_", text(plays.session_no[rows]),
        '","played_at":"', played_at,
        'Z","ms_played":', text(plays.ms_played[rows]),
        ',"device":"', pa.array(ref.DEVICES).take(pa.array(plays.device_idx[rows])),
        '","country_code":"',
        pa.array([c.code for c in ref.COUNTRIES]).take(pa.array(plays.country_idx[rows])),
        '","completed":', pc.if_else(pa.array(plays.completed[rows]), "true", "false"),
        "}\n",
    )  # fmt: skip
    return _utf8_bytes(lines)


def write_plays(plays: Plays, track_ids: pa.Array, window: Window, folder: Path) -> None:
    """One file per day of the window (empty if nobody played), in hive-style date folders."""
    # Plays are sorted by time: day i starts at the first play at or after its midnight.
    midnights_ms = (window.start_s + np.arange(window.days + 1) * S_PER_DAY) * MS_PER_S
    bounds = np.searchsorted(plays.played_at_ms, midnights_ms, side="left")
    for i, date in enumerate(window.dates()):
        partition = folder / f"date={date.isoformat()}"
        partition.mkdir(parents=True, exist_ok=True)
        (partition / "plays.jsonl").write_bytes(
            _jsonl(plays, int(bounds[i]), int(bounds[i + 1]), track_ids)
        )
