"""The podcast catalog, dumped page by page as its paginated REST API returns it.

The random draws are vectorised; only the (small) assembly of nested show/episode objects loops.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from operational import reference_data as ref
from operational.common import S_PER_DAY, Window, fmt_iso_z


def _weights(values) -> np.ndarray:
    w = np.asarray(values, dtype=np.float64)
    return w / w.sum()


def build_shows(rng: np.random.Generator, n_shows: int, window: Window) -> list[dict]:
    lo_eps, hi_eps = ref.EPISODES_PER_SHOW
    n_eps = rng.integers(lo_eps, hi_eps + 1, n_shows)
    languages = _weights(ref.PODCAST_LANGUAGE_WEIGHTS)
    language = rng.choice(len(ref.PODCAST_LANGUAGES), size=n_shows, p=languages)
    adjective = rng.integers(0, len(ref.WORDS_ADJECTIVE), n_shows)
    noun = rng.integers(0, len(ref.WORDS_NOUN), n_shows)
    publisher = rng.integers(0, len(ref.PODCAST_PUBLISHERS), n_shows)
    category = rng.integers(0, len(ref.PODCAST_CATEGORIES), n_shows)
    explicit = rng.random(n_shows) < 0.15
    # Shows started between four years and a month before the window; episodes appear from
    # then until the end of the window (the catalog is read at the end of the window).
    created = window.start_s - rng.integers(30 * S_PER_DAY, 4 * 365 * S_PER_DAY, n_shows)

    show = np.repeat(np.arange(n_shows), n_eps)
    latest = window.end_s - 1
    published = rng.integers(created[show], latest) if len(show) else created[show]
    published = published[np.lexsort((published, show))]
    duration = np.clip(rng.lognormal(np.log(2_700), 0.5, len(show)), 300, 14_400).astype(int)
    topic_adj = rng.integers(0, len(ref.WORDS_ADJECTIVE), len(show))
    topic_noun = rng.integers(0, len(ref.WORDS_NOUN), len(show))

    created_txt, published_txt = fmt_iso_z(created), fmt_iso_z(published)
    shows: list[dict] = []
    ep = 0
    for s in range(n_shows):
        episodes = []
        for number in range(1, int(n_eps[s]) + 1):
            title = (
                f"#{number}: {ref.WORDS_ADJECTIVE[topic_adj[ep]]} {ref.WORDS_NOUN[topic_noun[ep]]}"
            )
            episodes.append(
                {
                    "episode_id": f"ep_{ep + 1:06d}",
                    "title": title,
                    "published_at": str(published_txt[ep]),
                    "duration_seconds": int(duration[ep]),
                }
            )
            ep += 1
        shows.append(
            {
                "show_id": f"pod_{s + 1:04d}",
                "title": f"{ref.WORDS_ADJECTIVE[adjective[s]]} {ref.WORDS_NOUN[noun[s]]} "
                f"{ref.PODCAST_SUFFIXES[language[s]]}",
                "publisher": ref.PODCAST_PUBLISHERS[publisher[s]],
                "language": ref.PODCAST_LANGUAGES[language[s]],
                "category": ref.PODCAST_CATEGORIES[category[s]],
                "explicit": bool(explicit[s]),
                "created_at": str(created_txt[s]),
                "episodes": episodes,
            }
        )
    return shows


def write_pages(shows: list[dict], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    size = ref.PODCAST_PAGE_SIZE
    n_pages = max(1, -(-len(shows) // size))
    for page in range(1, n_pages + 1):
        body = {
            "page": page,
            "page_size": size,
            "total_shows": len(shows),
            "next_page": page + 1 if page < n_pages else None,
            "shows": shows[(page - 1) * size : page * size],
        }
        text = json.dumps(body, sort_keys=False, ensure_ascii=False, indent=None)
        (folder / f"page-{page:04d}.json").write_text(text + "\n", encoding="utf-8")
