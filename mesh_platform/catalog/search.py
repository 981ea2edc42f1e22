"""Ranked search over the catalog: an inverted index built once, queried in microseconds.

Each product is indexed field by field with a weight saying how strongly a hit there means
"this is the product you want": its name and port names most, then tags, domain and owner,
classification and tier, column names, and last the prose (descriptions and column docs). Words are lowercased, split on
anything not a letter or digit (so ``monthly_revenues`` is ``monthly`` + ``revenues``) and
reduced by a small English stemmer (``revenues`` ~ ``revenue``, ``orders`` ~ ``order``). A query
word that is a prefix of an indexed word matches at half weight, so ``reve`` still finds the
revenue product while typing. Rarer words count more (inverse document frequency), and a
product matching more of the query's words always ranks above one matching fewer.
"""

from __future__ import annotations

import bisect
import math
import re
from collections import defaultdict
from dataclasses import dataclass

from mesh_platform.catalog.catalog import Catalog
from mesh_platform.catalog.entries import ProductEntry

_WORD = re.compile(r"[a-z0-9]+")
FIELD_WEIGHTS = {
    "name": 10.0,
    "tag": 5.0,
    "domain": 4.0,
    "classification": 4.0,
    "tier": 3.0,
    "owner": 3.0,
    "column": 3.0,
    "description": 2.0,
    "column_doc": 1.0,
}
PREFIX_FACTOR = 0.5
MIN_PREFIX = 3


def stem(word: str) -> str:
    """A deliberately small stemmer: plural and common verb endings, nothing clever."""
    for suffix, replacement in (
        ("ies", "y"),
        ("sses", "ss"),
        ("ing", ""),
        ("ed", ""),
        ("es", "e"),
        ("s", ""),
    ):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: -len(suffix)] + replacement
    return word


def words(text: str) -> list[str]:
    return [stem(w) for w in _WORD.findall(text.lower())]


def _fields(product: ProductEntry) -> list[tuple[str, str]]:
    fields = [("name", product.name), ("domain", product.domain)]
    fields += [("name", port.name) for port in product.ports]
    fields += [("tag", tag) for tag in product.tags]
    fields += [("classification", product.classification), ("tier", product.tier)]
    fields += [("owner", product.owner_team or ""), ("description", product.description)]
    for port in product.ports:
        fields.append(("description", port.description))
        for column in port.columns:
            fields += [("column", column.name), ("column_doc", column.description)]
    return fields


@dataclass(frozen=True)
class SearchHit:
    """One product in a ranked result: its place (1 = best) and the query words it matched. The
    relevance score that ordered it stays internal: it means nothing to a reader."""

    key: str
    rank: int
    matched: tuple[str, ...]  # the query words this product matched


class SearchIndex:
    def __init__(self, catalog: Catalog) -> None:
        postings: dict[str, dict[str, float]] = defaultdict(dict)
        for product in catalog.products.values():
            best: dict[str, float] = {}
            for field_name, text in _fields(product):
                weight = FIELD_WEIGHTS[field_name]
                for word in words(text):
                    best[word] = max(best.get(word, 0.0), weight)
            for word, weight in best.items():
                postings[word][product.key] = weight
        total = max(len(catalog.products), 1)
        self._postings = dict(postings)
        self._idf = {w: math.log(1 + total / len(docs)) for w, docs in postings.items()}
        self._vocabulary = sorted(postings)

    def _expand(self, word: str) -> list[tuple[str, float]]:
        """The indexed words a query word matches: itself, and words it is a prefix of."""
        found = [(word, 1.0)] if word in self._postings else []
        if len(word) >= MIN_PREFIX:
            start = bisect.bisect_left(self._vocabulary, word)
            for candidate in self._vocabulary[start:]:
                if not candidate.startswith(word):
                    break
                if candidate != word:
                    found.append((candidate, PREFIX_FACTOR))
        return found

    def search(self, text: str, limit: int | None = 10) -> list[SearchHit]:
        """Products matching ``text``, best first (``limit`` None: all of them)."""
        query = list(dict.fromkeys(words(text)))
        scores: dict[str, float] = defaultdict(float)
        matched: dict[str, set[str]] = defaultdict(set)
        for word in query:
            best: dict[str, float] = {}
            for candidate, factor in self._expand(word):
                idf = self._idf[candidate]
                for key, weight in self._postings[candidate].items():
                    best[key] = max(best.get(key, 0.0), weight * factor * idf)
            for key, score in best.items():
                scores[key] += score
                matched[key].add(word)
        ranked = sorted(scores, key=lambda k: (-len(matched[k]), -scores[k], k))
        return [
            SearchHit(k, rank, tuple(w for w in query if w in matched[k]))
            for rank, k in enumerate(ranked[:limit], 1)
        ]


# --- facets: narrow a result list by what a product is, not by what its text says --------------

FACETS = ("domain", "owner", "tier", "classification", "health", "tag")
NO_OWNER = "(none)"


def facet_values(product: ProductEntry, health: str | None = None) -> dict[str, tuple[str, ...]]:
    """The product's value(s) of each facet (a product has several tags, one of the rest)."""
    return {
        "domain": (product.domain,),
        "owner": (product.owner_team or NO_OWNER,),
        "tier": (product.tier,),
        "classification": (product.classification,),
        "health": (health,) if health else (),
        "tag": tuple(product.tags),
    }


def check_facets(chosen: dict[str, str]) -> dict[str, str]:
    """The chosen facets without empty ones; an unknown facet is a clear error."""
    unknown = sorted(set(chosen) - set(FACETS))
    if unknown:
        raise ValueError(f"unknown facet {', '.join(unknown)}: the facets are {', '.join(FACETS)}")
    return {name: value for name, value in chosen.items() if value}


def narrow(
    keys: list[str],
    catalog: Catalog,
    chosen: dict[str, str],
    health: dict[str, str] | None = None,
) -> list[str]:
    """``keys`` (kept in order) whose product has every chosen facet value."""
    found = []
    for key in keys:
        values = facet_values(catalog.products[key], (health or {}).get(key))
        if all(value in values[name] for name, value in chosen.items()):
            found.append(key)
    return found


def facet_counts(
    keys: list[str],
    catalog: Catalog,
    chosen: dict[str, str],
    health: dict[str, str] | None = None,
) -> dict[str, list[tuple[str, int]]]:
    """Per facet, each value and how many of ``keys`` have it, counted with the other chosen
    facets applied (so a count is what choosing that value would show), most common first."""
    counts: dict[str, list[tuple[str, int]]] = {}
    for name in FACETS:
        others = {n: v for n, v in chosen.items() if n != name}
        tally: dict[str, int] = defaultdict(int)
        for key in narrow(keys, catalog, others, health):
            for value in facet_values(catalog.products[key], (health or {}).get(key))[name]:
                tally[value] += 1
        counts[name] = sorted(tally.items(), key=lambda kv: (-kv[1], kv[0]))
    return counts
