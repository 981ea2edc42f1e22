"""The artist management system: artists, their tracks and the royalty payments already made.

Track popularity (a Zipf-like law over a random ranking) is decided here, because royalty amounts
follow it; the play simulation samples tracks with the same weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from operational import reference_data as ref
from operational.common import S_PER_DAY, Window, concat, fmt_datetime, pick, text, zero_pad

# Zipf-Mandelbrot popularity 1 / (rank + 1 + offset) ** exponent: the top 1% of tracks get well
# over half of the plays at full scale, while the single top track stays below ~10%.
ZIPF_EXPONENT = 1.1
ZIPF_OFFSET = 1.5
PAYING_ARTIST_SHARE = 0.6
PAID_MONTHS = 12
ROYALTY_EUR_PER_PLAY = 0.0038


@dataclass(frozen=True)
class Catalog:
    artists: pd.DataFrame
    tracks: pd.DataFrame
    payments: pd.DataFrame
    track_ids: pa.Array  # aligned with the rows of `tracks`
    duration_ms: np.ndarray
    popularity: np.ndarray  # play probability per track, sums to 1


def _weights(values) -> np.ndarray:
    w = np.asarray(values, dtype=np.float64)
    return w / w.sum()


def _ids(prefix: str, n: int, width: int) -> pa.Array:
    return concat(prefix, zero_pad(np.arange(1, n + 1), max(width, len(str(n)))))


def _choose(rng: np.random.Generator, shares: tuple[float, ...], options: list[pa.Array]):
    """Per row, one of several equally long text arrays, picked with the given shares."""
    which = rng.choice(len(options), size=len(options[0]), p=_weights(shares))
    stacked = np.stack([_objects(o) for o in options])
    return stacked[which, np.arange(len(which))]


def _objects(arr: pa.Array) -> np.ndarray:
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=object)


def _words(rng: np.random.Generator, vocabulary: tuple[str, ...], n: int) -> pa.Array:
    return pick(vocabulary, rng.integers(0, len(vocabulary), n))


def _artists(rng: np.random.Generator, n: int, window: Window) -> tuple[pd.DataFrame, np.ndarray]:
    adj, noun = _words(rng, ref.WORDS_ADJECTIVE, n), _words(rng, ref.WORDS_NOUN, n)
    person = concat(_words(rng, ref.FIRST_NAMES, n), " ", _words(rng, ref.LAST_NAMES, n))
    name = _choose(
        rng,
        (0.45, 0.35, 0.20),
        [concat("The ", adj, " ", noun), person, concat(adj, " ", noun, "s")],
    )
    country = rng.choice(len(ref.COUNTRIES), size=n, p=_weights([c.weight for c in ref.COUNTRIES]))
    genre = rng.choice(len(ref.GENRES), size=n, p=_weights(ref.GENRE_WEIGHTS))
    label = np.asarray(ref.LABELS, dtype=object)[rng.integers(0, len(ref.LABELS), n)]
    label[rng.random(n) < ref.UNSIGNED_SHARE] = ""
    onboarded_day = window.start_s // S_PER_DAY - rng.integers(1, 10 * 365, n)
    artists = pd.DataFrame(
        {
            "artist_id": _ids("art_", n, 5).to_numpy(zero_copy_only=False),
            "artist_name": name,
            "country_code": np.asarray([c.code for c in ref.COUNTRIES], dtype=object)[country],
            "genre": np.asarray(ref.GENRES, dtype=object)[genre],
            "label": label,
            "onboarded_at": onboarded_day.astype("datetime64[D]").astype(str).astype(object),
        }
    )
    return artists, np.column_stack([genre, onboarded_day])


def _tracks(rng: np.random.Generator, n: int, artist_info: np.ndarray, window: Window):
    n_artists = len(artist_info)
    # Every artist has at least one track; the rest go mostly to a few prolific artists.
    prolific = _weights(rng.lognormal(0.0, 1.0, n_artists))
    extra = rng.choice(n_artists, size=max(n - n_artists, 0), p=prolific)
    owner = np.sort(np.concatenate([np.arange(min(n, n_artists)), extra]))

    start_day = window.start_s // S_PER_DAY
    earliest = np.maximum(artist_info[owner, 1] - 8 * 365, 0)
    released = rng.integers(earliest, start_day)
    order = np.lexsort((released, owner))  # track ids grouped by artist, oldest release first
    owner, released = owner[order], released[order]

    own_genre = rng.random(n) < 0.85
    genre = np.where(own_genre, artist_info[owner, 0], rng.integers(0, len(ref.GENRES), n))
    duration = np.clip(rng.lognormal(np.log(215_000), 0.28, n), 45_000, 900_000).astype(np.int64)

    adj, noun = _words(rng, ref.WORDS_ADJECTIVE, n), _words(rng, ref.WORDS_NOUN, n)
    noun2 = _words(rng, ref.WORDS_NOUN, n)
    guest = concat(_words(rng, ref.FIRST_NAMES, n), " ", _words(rng, ref.LAST_NAMES, n))
    version = _words(rng, ref.TITLE_VERSIONS, n)
    # Some titles carry commas and double quotes, so CSV readers must honour quoting.
    title = _choose(
        rng,
        (0.48, 0.15, 0.12, 0.10, 0.09, 0.06),
        [
            concat(adj, " ", noun),
            noun,
            concat(noun, ", ", noun2),
            concat(adj, " ", noun, " (feat. ", guest, ")"),
            concat(noun, " - ", version),
            concat('The "', adj, '" ', noun),
        ],
    )
    track_ids = _ids("trk_", n, 6)
    tracks = pd.DataFrame(
        {
            "track_id": track_ids.to_numpy(zero_copy_only=False),
            "artist_id": _ids("art_", n_artists, 5)
            .take(pa.array(owner))
            .to_numpy(zero_copy_only=False),
            "title": title,
            "genre": np.asarray(ref.GENRES, dtype=object)[genre],
            "duration_ms": duration,
            "released_on": released.astype("datetime64[D]").astype(str).astype(object),
        }
    )
    rank = rng.permutation(n)
    popularity = _weights(1.0 / (rank + 1.0 + ZIPF_OFFSET) ** ZIPF_EXPONENT)
    return tracks, track_ids, duration, popularity, owner


def _payments(
    rng: np.random.Generator,
    artist_info: np.ndarray,
    owner: np.ndarray,
    popularity: np.ndarray,
    daily_plays: float,
    window: Window,
) -> pd.DataFrame:
    """Monthly royalties for the months before the window, paid early the following month."""
    n_artists = len(artist_info)
    share = np.bincount(owner, weights=popularity, minlength=n_artists)
    first_month = np.datetime64(window.start, "M").astype(np.int64) - PAID_MONTHS
    months = first_month + np.arange(PAID_MONTHS)
    onboarded_month = artist_info[:, 1].astype("datetime64[D]").astype("datetime64[M]")
    paying = np.flatnonzero(rng.random(n_artists) < PAYING_ARTIST_SHARE)

    artist = np.repeat(paying, PAID_MONTHS)
    month = np.tile(months, len(paying))
    keep = month >= onboarded_month.astype(np.int64)[artist]
    artist, month = artist[keep], month[keep]

    noise = rng.lognormal(0.0, 0.12, len(artist))
    cents = np.maximum(
        np.round(daily_plays * 30.4 * share[artist] * ROYALTY_EUR_PER_PLAY * noise * 100), 1
    ).astype(np.int64)
    next_month_day = (month + 1).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    paid_s = (next_month_day + rng.integers(2, 12, len(artist))) * S_PER_DAY + rng.integers(
        8 * 3_600, 18 * 3_600, len(artist)
    )

    order = np.lexsort((artist, month))
    artist, month, cents, paid_s = artist[order], month[order], cents[order], paid_s[order]
    return pd.DataFrame(
        {
            "payment_id": _ids("pay_", len(artist), 6).to_numpy(zero_copy_only=False),
            "artist_id": _ids("art_", n_artists, 5)
            .take(pa.array(artist))
            .to_numpy(zero_copy_only=False),
            "period_month": month.astype("datetime64[M]").astype(str).astype(object),
            "amount_eur": concat(text(cents // 100), ".", zero_pad(cents % 100, 2)).to_numpy(
                zero_copy_only=False
            ),
            "paid_at": fmt_datetime(paid_s).astype(object),
        }
    )


def build_catalog(
    rng: np.random.Generator, n_artists: int, n_tracks: int, daily_plays: float, window: Window
) -> Catalog:
    artists, artist_info = _artists(rng, n_artists, window)
    tracks, track_ids, duration, popularity, owner = _tracks(rng, n_tracks, artist_info, window)
    payments = _payments(rng, artist_info, owner, popularity, daily_plays, window)
    return Catalog(artists, tracks, payments, track_ids, duration, popularity)


def write_catalog(catalog: Catalog, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in (
        ("artists", catalog.artists),
        ("tracks", catalog.tracks),
        ("payments", catalog.payments),
    ):
        frame.to_csv(folder / f"{name}.csv", index=False, lineterminator="\n")
