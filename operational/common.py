"""Shared helpers: the simulated time window, random streams and vectorised array utilities.

All times are integer seconds (or milliseconds for play events) since the Unix epoch, UTC, so
every computation is exact integer arithmetic and formatting is the only place dates appear.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

S_PER_DAY = 86_400
MS_PER_S = 1_000
_EPOCH = dt.date(1970, 1, 1)

# One independent random stream per source system, in a fixed order: changing how much
# randomness one system consumes never changes what another system generates.
STREAM_NAMES: tuple[str, ...] = ("registration", "artists", "plays", "podcasts")


def child_rngs(seed: int) -> dict[str, np.random.Generator]:
    children = np.random.SeedSequence(seed).spawn(len(STREAM_NAMES))
    return {
        name: np.random.default_rng(child)
        for name, child in zip(STREAM_NAMES, children, strict=True)
    }


def date_to_s(day: dt.date) -> int:
    return (day - _EPOCH).days * S_PER_DAY


@dataclass(frozen=True)
class Window:
    """The simulated period [start, start + days) in which activity happens."""

    start: dt.date
    days: int

    @property
    def start_s(self) -> int:
        return date_to_s(self.start)

    @property
    def end_s(self) -> int:
        return self.start_s + self.days * S_PER_DAY

    def dates(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=i) for i in range(self.days)]


def fmt_datetime(ts_s: np.ndarray) -> np.ndarray:
    """Epoch seconds -> 'YYYY-MM-DD HH:MM:SS' (the OLTP text format)."""
    iso = np.datetime_as_string(np.asarray(ts_s, dtype="int64").astype("datetime64[s]"), unit="s")
    return np.char.replace(iso, "T", " ")


def fmt_iso_z(ts_s: np.ndarray) -> np.ndarray:
    """Epoch seconds -> 'YYYY-MM-DDTHH:MM:SSZ' (the REST API format)."""
    iso = np.datetime_as_string(np.asarray(ts_s, dtype="int64").astype("datetime64[s]"), unit="s")
    return np.char.add(iso, "Z")


def fmt_date(ts_s: np.ndarray) -> np.ndarray:
    """Epoch seconds -> 'YYYY-MM-DD'."""
    days = np.asarray(ts_s, dtype="int64") // S_PER_DAY
    return np.datetime_as_string(days.astype("datetime64[D]"), unit="D")


def group_start_positions(groups: np.ndarray) -> np.ndarray:
    """For an array sorted by group, the index of the first row of each row's group."""
    n = len(groups)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    is_start = np.empty(n, dtype=bool)
    is_start[0] = True
    is_start[1:] = groups[1:] != groups[:-1]
    return np.maximum.accumulate(np.where(is_start, np.arange(n), 0))


def group_cumcount(groups: np.ndarray) -> np.ndarray:
    """0-based position of each row within its group (rows sorted by group)."""
    return np.arange(len(groups)) - group_start_positions(groups)


def group_cumsum(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Inclusive running sum of values within each group (rows sorted by group)."""
    if len(values) == 0:
        return values.copy()
    total = np.cumsum(values)
    first = group_start_positions(groups)
    return total - total[first] + values[first]


def is_last_in_group(groups: np.ndarray) -> np.ndarray:
    n = len(groups)
    last = np.ones(n, dtype=bool)
    if n > 1:
        last[:-1] = groups[:-1] != groups[1:]
    return last


def largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """Split an integer total proportionally to weights, summing exactly to total."""
    share = total * weights / weights.sum()
    base = np.floor(share).astype(np.int64)
    missing = total - int(base.sum())
    # Stable sort on the remainders keeps ties resolved by position, i.e. deterministically.
    order = np.argsort(-(share - base), kind="stable")
    base[order[:missing]] += 1
    return base


def text(values: np.ndarray | pa.Array) -> pa.Array:
    """Any array (ints, numpy strings) as an Arrow string array for concatenation."""
    arr = values if isinstance(values, pa.Array) else pa.array(values)
    if isinstance(arr, pa.ChunkedArray):  # numpy strings of 1M+ rows (a day at scale 100)
        arr = arr.combine_chunks()
    return arr if pa.types.is_string(arr.type) else pc.cast(arr, pa.string())


def concat(*parts: str | np.ndarray | pa.Array) -> pa.Array:
    """Element-wise string concatenation of arrays and literal strings (vectorised)."""
    args = [p if isinstance(p, str) else text(p) for p in parts]
    return pc.binary_join_element_wise(*args, "")


def pick(vocabulary: tuple[str, ...], idx: np.ndarray) -> pa.Array:
    """Vocabulary words for an index array."""
    return pa.array(vocabulary, type=pa.string()).take(pa.array(idx))


def zero_pad(ids: np.ndarray, width: int) -> pa.Array:
    return pc.utf8_lpad(text(ids), width=width, padding="0")
