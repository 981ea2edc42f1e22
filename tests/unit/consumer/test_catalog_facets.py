"""Search that finds on the real Daff mesh: classification and tags are searchable, every
product of a classification is found, and facets narrow a result list (issue 25, item 6)."""

from __future__ import annotations

import pytest

from mesh_platform.catalog import SearchIndex, build_catalog
from mesh_platform.catalog.search import check_facets, facet_counts, narrow


@pytest.fixture(scope="module")
def catalog():
    return build_catalog()


@pytest.fixture(scope="module")
def index(catalog):
    return SearchIndex(catalog)


def _with(catalog, **values) -> set[str]:
    return {
        key
        for key, p in catalog.products.items()
        if all(getattr(p, name) == value for name, value in values.items())
    }


# Queries analysts type, with the products they mean at the top (in this order).
@pytest.mark.parametrize(
    ("query", "top"),
    [
        ("royalties", ["artists.artist_royalties", "artists.artist_payments"]),
        ("podcast episodes", ["podcasts.podcast_episodes"]),
        ("plays per country", ["playback.daily_track_plays"]),
        ("listener email", ["listeners.listener_profiles"]),
        ("charts", ["recommendations.weekly_top_tracks", "playback.daily_track_plays"]),
        ("sessions", ["playback.listening_sessions"]),
        ("subscription", ["listeners.subscription_periods"]),
    ],
)
def test_queries_find_the_expected_products_first(index, query, top):
    assert [h.key for h in index.search(query, len(top))] == top


def test_confidential_finds_every_confidential_product(catalog, index):
    confidential = _with(catalog, classification="confidential")
    assert len(confidential) == 4  # the Daff mesh's confidential products
    found = [h.key for h in index.search("confidential", None)]
    assert set(found[: len(confidential)]) == confidential


def test_every_classification_tier_and_tag_is_searchable(catalog, index):
    for product in catalog.products.values():
        for word in (product.classification, product.tier, *product.tags):
            assert product.key in {h.key for h in index.search(word, None)}, (product.key, word)


def test_facets_narrow_and_count_like_a_shop(catalog, index):
    keys = [h.key for h in index.search("listeners", None)]
    chosen = check_facets({"domain": "listeners", "tier": "", "classification": "confidential"})
    assert chosen == {"domain": "listeners", "classification": "confidential"}
    narrowed = narrow(keys, catalog, chosen)
    assert set(narrowed) == _with(catalog, domain="listeners", classification="confidential")
    assert narrowed == [k for k in keys if k in narrowed]  # relevance order kept
    counts = facet_counts(keys, catalog, chosen)
    # a facet's counts apply the other facets: choosing another value shows that many
    for value, count in counts["classification"]:
        assert count == len(narrow(keys, catalog, {**chosen, "classification": value}))
    assert dict(counts["domain"])["listeners"] == len(narrowed)


def test_health_and_owner_facets(catalog):
    keys = sorted(catalog.products)
    health = {k: ("stale" if k.startswith("playback.") else "healthy") for k in keys}
    stale = narrow(keys, catalog, {"health": "stale"}, health)
    assert stale == sorted(_with(catalog, domain="playback"))
    assert dict(facet_counts(keys, catalog, {}, health)["health"]) == {
        "stale": len(stale),
        "healthy": len(keys) - len(stale),
    }
    owned = narrow(keys, catalog, {"owner": "podcasts-team"})
    assert owned == sorted(_with(catalog, owner_team="podcasts-team"))


def test_an_unknown_facet_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown facet colour: the facets are domain, owner"):
        check_facets({"colour": "red"})
