"""The catalog of the real Daff mesh: ranking, lineage, schema and clear lookups."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from mesh_platform.catalog import CatalogError, SearchIndex, build_catalog


@pytest.fixture(scope="module")
def catalog():
    return build_catalog()


@pytest.fixture(scope="module")
def index(catalog):
    return SearchIndex(catalog)


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("royalties", "artists.artist_royalties"),
        ("royalty", "artists.artist_royalties"),
        ("roya", "artists.artist_royalties"),  # a prefix while typing
        ("listening sessions", "playback.listening_sessions"),
        ("weekly top tracks", "recommendations.weekly_top_tracks"),
        ("subscription periods", "listeners.subscription_periods"),
        ("payments", "artists.artist_payments"),
        ("taste", "recommendations.listener_taste_profiles"),
    ],
)
def test_search_ranks_the_product_a_consumer_means_first(index, query, first):
    hits = index.search(query)
    assert hits and hits[0].key == first, [h.key for h in hits]


def test_search_matches_every_word_before_some_words(index):
    hits = index.search("podcast episodes")
    assert hits[0].key == "podcasts.podcast_episodes"
    assert len(hits[0].matched) == 2
    assert all(len(h.matched) <= 2 for h in hits)


def test_search_hits_carry_their_rank_not_a_raw_score(index):
    hits = index.search("listener region", limit=5)
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1)) and len(hits) > 1
    assert "score" not in asdict(hits[0])  # what the API and `mesh catalog search --json` show


def test_search_finds_products_by_column_and_owner(index):
    assert "listeners.listener_profiles" in [h.key for h in index.search("email_sha256")]
    owned = {h.key for h in index.search("podcasts-team", limit=20)}
    assert {"podcasts.podcast_shows", "podcasts.podcast_episodes"} <= owned


def test_search_for_nothing_known_finds_nothing(index):
    assert index.search("zyxxyqq") == []
    assert index.search("") == []


def test_lineage_crosses_domains_both_ways(catalog):
    royalties = catalog.product("artists.artist_royalties")
    assert royalties.upstream == ["playback.play_events"]
    downstream = catalog.product("playback.play_events").downstream
    assert {"artists.artist_royalties", "listeners.monthly_listener_summary"} <= set(downstream)
    taste = catalog.product("recommendations.listener_taste_profiles")
    assert "playback.play_events" in taste.upstream


def test_schema_carries_docs_types_and_personal_data_classification(catalog):
    port = catalog.port("listeners.listener_profiles")
    columns = {c.name: c for c in port.columns}
    assert columns["email_sha256"].pii_category == "email"
    assert columns["email_sha256"].pii_treatment == "hashed"
    assert columns["birth_year"].data_type == "integer"
    assert columns["listener_id"].nullable is False
    assert not columns["country_code"].personal
    assert all(c.description for c in port.columns)
    assert port.personal_columns == ("email_sha256", "birth_year")
    assert port.example.startswith("select")
    assert "governance" in port.check_names and any(
        n.startswith("contract__") for n in port.check_names
    )


def test_unknown_names_get_suggestions(catalog):
    with pytest.raises(CatalogError, match="did you mean artists.artist_royalties"):
        catalog.product("artists.artist_royalty")
    with pytest.raises(CatalogError, match="unknown domain 'jazz'"):
        catalog.domain("jazz")
    with pytest.raises(CatalogError, match="has no major version 9"):
        catalog.port("artists.artist_royalties", 9)


def test_every_domain_is_listed_with_its_products(catalog):
    assert set(catalog.domains) == {
        "artists",
        "listeners",
        "playback",
        "podcasts",
        "recommendations",
    }
    assert sum(len(d.products) for d in catalog.domains.values()) == len(catalog.products) == 15
    assert catalog.problems == []
