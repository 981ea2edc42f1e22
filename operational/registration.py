"""The listener registration OLTP system: listeners, subscription periods, profile change log.

The three tables are generated together because they must agree: a listener's current email,
country and plan are the last values written to the change log, plan changes are exactly the
subscription switches inside the window, and `updated_at` is the latest change. Listener ids are
assigned in signup order, as an auto-increment key would be.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from operational import reference_data as ref
from operational.common import (
    S_PER_DAY,
    Window,
    concat,
    fmt_date,
    fmt_datetime,
    group_cumcount,
    group_cumsum,
    is_last_in_group,
    pick,
    text,
)

# "Still subscribed": an end time far beyond any simulated window (and safe to multiply by 1000).
NO_END_S = 2**40
# Nothing is scheduled in the last minutes of the window, so a few seconds of tie-breaking never
# push a timestamp out of it.
_WINDOW_END_MARGIN_S = 600

Columns = dict[str, np.ndarray]

_COUNTRY_CODES = tuple(c.code for c in ref.COUNTRIES)
_PLAN_IDS = tuple(p.plan_id for p in ref.PLANS)
_FIELD_ORDER = {field: i for i, field in enumerate(ref.PROFILE_FIELDS)}
_EMAIL_FIRST = tuple(n.lower().replace(" ", "") for n in ref.FIRST_NAMES)
_EMAIL_LAST = tuple(n.lower().replace(" ", "") for n in ref.LAST_NAMES)


@dataclass(frozen=True)
class Registration:
    listeners: Columns
    subscriptions: Columns
    profile_changes: Columns
    # Inputs for the play simulation, indexed by listener_id - 1.
    signup_s: np.ndarray  # ascending
    churn_s: np.ndarray  # end of the last subscription, or NO_END_S
    initial_country: np.ndarray  # country index at signup
    # Country moves: listener index, time, new country index; sorted by listener then time.
    country_moves: tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class _Changes:
    """Profile changes of one field, rows sorted by listener then time."""

    field: str
    who: np.ndarray  # listener index
    at_s: np.ndarray
    seq: np.ndarray  # 0-based position within the listener's changes of this field
    old: np.ndarray  # object arrays of text
    new: np.ndarray


def _weights(values: tuple[float, ...]) -> np.ndarray:
    w = np.asarray(values, dtype=np.float64)
    return w / w.sum()


def _signup_times(rng: np.random.Generator, n: int, window: Window) -> np.ndarray:
    """Signups over the two years before the window (growing) plus ~15% inside the window."""
    n_in = int(round(n * ref.SIGNUP_IN_WINDOW_SHARE))
    span = ref.SIGNUP_HISTORY_DAYS * S_PER_DAY
    # sqrt(u) has an increasing density, so recent dates are more likely: a growing user base.
    back = 1 + np.floor((span - 1) * (1 - np.sqrt(rng.random(n - n_in)))).astype(np.int64)
    before = window.start_s - back
    # Late-window signups keep an hour of room for their first activity.
    inside = rng.integers(window.start_s, window.end_s - 3_600, n_in)
    return np.sort(np.concatenate([before, inside]))


def _times_after(
    rng: np.random.Generator, who: np.ndarray, lo: np.ndarray, window: Window
) -> tuple[np.ndarray, np.ndarray]:
    """Random times in [lo, window end) per row, strictly increasing within each listener.

    `who` must be sorted. Returns (times, seq) re-sorted by listener then time.
    """
    hi = window.end_s - _WINDOW_END_MARGIN_S
    t = rng.integers(lo, hi, len(who)) if len(who) else np.zeros(0, dtype=np.int64)
    t = t[np.lexsort((t, who))]
    seq = group_cumcount(who)
    return t + seq, seq  # adding the position breaks ties to the second


def _previous(new: np.ndarray, initial: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """Old value of each change: the previous change's new value, or the initial value."""
    prev = np.roll(new, 1)
    return np.where(seq == 0, initial, prev)


def _subscriptions(rng: np.random.Generator, signup: np.ndarray, window: Window):
    """1-3 consecutive plan periods per listener; the last one open unless unsubscribed."""
    n = len(signup)
    k = rng.choice(ref.PERIODS_PER_LISTENER, size=n, p=_weights(ref.PERIODS_WEIGHTS))
    who = np.repeat(np.arange(n), k)
    seq = group_cumcount(who)
    switch = seq > 0

    start = np.empty(len(who), dtype=np.int64)
    start[~switch] = signup
    start[switch], _ = _times_after(rng, who[switch], signup[who[switch]] + 1, window)

    # Every period draws from the plan mix; a new period always changes plan, so a draw equal to
    # the previous plan moves on to another one. Loops over period numbers (at most 3), not rows.
    n_plans = len(ref.PLANS)
    plan = rng.choice(n_plans, size=len(who), p=_weights(tuple(p.weight for p in ref.PLANS)))
    other = (plan + rng.integers(1, n_plans, size=len(who))) % n_plans
    for number in range(1, max(ref.PERIODS_PER_LISTENER)):
        rows = np.flatnonzero(seq == number)
        plan[rows] = np.where(plan[rows] == plan[rows - 1], other[rows], plan[rows])

    last = is_last_in_group(who)
    end = np.where(last, NO_END_S, np.roll(start, -1))
    last_start = start[last]
    room = window.end_s - 1 - last_start
    churned = (rng.random(n) < ref.UNSUBSCRIBE_SHARE) & (room > 3_600)
    churn_at = rng.integers(last_start + 1, np.maximum(last_start + 2, window.end_s - 1))
    churn_s = np.where(churned, churn_at, NO_END_S)
    end[last] = churn_s

    order = np.lexsort((who, start))  # auto-increment ids follow insertion time
    plan_ids = np.asarray(_PLAN_IDS, dtype=object)
    subscriptions = {
        "subscription_id": np.arange(1, len(who) + 1),
        "listener_id": who[order] + 1,
        "plan_id": plan_ids[plan[order]],
        "started_at": fmt_datetime(start[order]).astype(object),
        "ended_at": np.where(
            end[order] == NO_END_S, None, fmt_datetime(np.minimum(end[order], NO_END_S - 1))
        ).astype(object),
    }

    in_window = switch & (start >= window.start_s)
    idx = np.flatnonzero(in_window)
    plan_changes = _Changes(
        field="plan_id",
        who=who[idx],
        at_s=start[idx],
        seq=seq[idx],
        old=plan_ids[plan[idx - 1]],
        new=plan_ids[plan[idx]],
    )
    return subscriptions, plan_changes, churn_s, plan_ids[plan[last]]


def _poisson_changes(
    rng: np.random.Generator, rate: float, signup: np.ndarray, window: Window
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    who = np.repeat(np.arange(len(signup)), rng.poisson(rate, len(signup)))
    lo = np.maximum(signup[who], window.start_s) + 1
    at_s, seq = _times_after(rng, who, lo, window)
    return who, at_s, seq


def _cycled(
    rng: np.random.Generator, who: np.ndarray, initial: np.ndarray, n_values: int
) -> np.ndarray:
    """New value indices for successive changes, each different from the one before."""
    step = rng.integers(1, n_values, size=len(who))
    return (initial[who] + group_cumsum(step, who)) % n_values


def _email(first: np.ndarray, last: np.ndarray, number: np.ndarray, version: np.ndarray):
    """Version 0 is the signup address; later versions are unique because `number` is."""
    local = concat(pick(_EMAIL_FIRST, first), ".", pick(_EMAIL_LAST, last), text(number))
    original = concat(local, "@", ref.EMAIL_DOMAIN)
    changed = concat(local, ".", text(version), "@", ref.CHANGED_EMAIL_DOMAIN)
    return np.where(version == 0, _obj(original), _obj(changed))


def _obj(arr) -> np.ndarray:
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=object)


def _full_name(first: np.ndarray, last: np.ndarray) -> np.ndarray:
    return _obj(concat(pick(ref.FIRST_NAMES, first), " ", pick(ref.LAST_NAMES, last)))


def build_registration(rng: np.random.Generator, n: int, window: Window) -> Registration:
    signup = _signup_times(rng, n, window)
    first = rng.integers(0, len(ref.FIRST_NAMES), n)
    last = rng.integers(0, len(ref.LAST_NAMES), n)
    email_no = rng.permutation(n) + 1
    country = rng.choice(len(ref.COUNTRIES), size=n, p=_weights([c.weight for c in ref.COUNTRIES]))
    age_days = np.floor(np.minimum(16 + rng.gamma(2.0, 7.0, n), 85) * 365.25).astype(np.int64)
    birth = fmt_date(signup - age_days * S_PER_DAY).astype(object)
    birth[rng.random(n) < 0.03] = None  # optional field some listeners never filled in

    subscriptions, plan_changes, churn_s, current_plan = _subscriptions(rng, signup, window)

    rates = dict(ref.PROFILE_CHANGE_RATES)
    who, at_s, seq = _poisson_changes(rng, rates["email"], signup, window)
    email_changes = _Changes(
        "email",
        who,
        at_s,
        seq,
        old=_email(first[who], last[who], email_no[who], seq),
        new=_email(first[who], last[who], email_no[who], seq + 1),
    )

    who, at_s, seq = _poisson_changes(rng, rates["country_code"], signup, window)
    new_country = _cycled(rng, who, country, len(ref.COUNTRIES))
    old_country = _previous(new_country, country[who], seq)
    codes = np.asarray(_COUNTRY_CODES, dtype=object)
    country_changes = _Changes(
        "country_code", who, at_s, seq, old=codes[old_country], new=codes[new_country]
    )
    country_moves = (who, at_s, new_country)

    who, at_s, seq = _poisson_changes(rng, rates["full_name"], signup, window)
    new_last = _cycled(rng, who, last, len(ref.LAST_NAMES))
    old_last = _previous(new_last, last[who], seq)
    name_changes = _Changes(
        "full_name",
        who,
        at_s,
        seq,
        old=_full_name(first[who], old_last),
        new=_full_name(first[who], new_last),
    )

    all_changes = (email_changes, country_changes, name_changes, plan_changes)
    current = {
        "email": _email(first, last, email_no, np.zeros(n, dtype=np.int64)),
        "country_code": codes[country],
        "full_name": _full_name(first, last),
        "plan_id": current_plan,  # the plan of the last period, whatever its date
    }
    updated = signup.copy()
    for ch in all_changes:
        final = is_last_in_group(ch.who)
        current[ch.field][ch.who[final]] = ch.new[final]
        np.maximum.at(updated, ch.who, ch.at_s)

    listeners = {
        "listener_id": np.arange(1, n + 1),
        "email": current["email"],
        "full_name": current["full_name"],
        "birth_date": birth,
        "country_code": current["country_code"],
        "plan_id": current["plan_id"],
        "signed_up_at": fmt_datetime(signup).astype(object),
        "updated_at": fmt_datetime(updated).astype(object),
    }
    return Registration(
        listeners=listeners,
        subscriptions=subscriptions,
        profile_changes=_change_log(all_changes),
        signup_s=signup,
        churn_s=churn_s,
        initial_country=country,
        country_moves=country_moves,
    )


def _change_log(changes: tuple[_Changes, ...]) -> Columns:
    who = np.concatenate([c.who for c in changes])
    at_s = np.concatenate([c.at_s for c in changes])
    field = np.concatenate([np.full(len(c.who), _FIELD_ORDER[c.field]) for c in changes])
    seq = np.concatenate([c.seq for c in changes])
    order = np.lexsort((seq, field, who, at_s))
    fields = np.asarray(ref.PROFILE_FIELDS, dtype=object)
    return {
        "change_id": np.arange(1, len(who) + 1),
        "listener_id": who[order] + 1,
        "changed_at": fmt_datetime(at_s[order]).astype(object),
        "field": fields[field[order]],
        "old_value": np.concatenate([c.old for c in changes])[order],
        "new_value": np.concatenate([c.new for c in changes])[order],
    }


_DDL = """
CREATE TABLE listeners (
    listener_id INTEGER PRIMARY KEY,
    email TEXT NOT NULL,
    full_name TEXT NOT NULL,
    birth_date TEXT,
    country_code TEXT NOT NULL,
    plan_id TEXT NOT NULL,
    signed_up_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE subscriptions (
    subscription_id INTEGER PRIMARY KEY,
    listener_id INTEGER NOT NULL,
    plan_id TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT NULL
);
CREATE TABLE profile_changes (
    change_id INTEGER PRIMARY KEY,
    listener_id INTEGER NOT NULL,
    changed_at TEXT NOT NULL,
    field TEXT NOT NULL,
    old_value TEXT,
    new_value TEXT
);
"""

_INDEXES = """
CREATE UNIQUE INDEX ux_listeners_email ON listeners (email);
CREATE INDEX ix_subscriptions_listener ON subscriptions (listener_id);
CREATE INDEX ix_profile_changes_listener ON profile_changes (listener_id);
"""


def _insert(con: sqlite3.Connection, table: str, columns: Columns) -> None:
    names = list(columns)
    placeholders = ", ".join("?" for _ in names)
    rows = zip(*(columns[c].tolist() for c in names), strict=True)
    con.executemany(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({placeholders})", rows)


def write_registration(reg: Registration, path: Path) -> None:
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode = OFF")  # a fresh file: nothing to roll back to
        con.executescript(_DDL)
        con.execute("BEGIN")
        _insert(con, "listeners", reg.listeners)
        _insert(con, "subscriptions", reg.subscriptions)
        _insert(con, "profile_changes", reg.profile_changes)
        con.execute("COMMIT")
        con.executescript(_INDEXES)
    finally:
        con.close()
