"""Fixed vocabularies of the simulated Daff source systems.

Everything here is a constant tuple (never a set or dict iteration order that could vary) so that
the generator stays a pure function of its inputs. The weights drive the skewed distributions
(e.g. most listeners are in the US, UK, Germany, Sweden and Brazil).
"""

from __future__ import annotations

from typing import NamedTuple


class Country(NamedTuple):
    code: str
    name: str
    region: str
    weight: float  # relative share of listeners and artists


COUNTRIES: tuple[Country, ...] = (
    Country("AR", "Argentina", "Latin America", 2.0),
    Country("AT", "Austria", "Europe", 1.2),
    Country("AU", "Australia", "Asia Pacific", 3.0),
    Country("BE", "Belgium", "Europe", 1.2),
    Country("BR", "Brazil", "Latin America", 9.0),
    Country("CA", "Canada", "North America", 3.0),
    Country("CH", "Switzerland", "Europe", 1.2),
    Country("CL", "Chile", "Latin America", 1.5),
    Country("CO", "Colombia", "Latin America", 1.5),
    Country("DE", "Germany", "Europe", 9.0),
    Country("DK", "Denmark", "Europe", 1.5),
    Country("EG", "Egypt", "Africa", 0.6),
    Country("ES", "Spain", "Europe", 4.0),
    Country("FI", "Finland", "Europe", 1.5),
    Country("FR", "France", "Europe", 5.0),
    Country("GB", "United Kingdom", "Europe", 10.0),
    Country("ID", "Indonesia", "Asia Pacific", 2.0),
    Country("IE", "Ireland", "Europe", 1.0),
    Country("IN", "India", "Asia Pacific", 3.0),
    Country("IT", "Italy", "Europe", 3.0),
    Country("JP", "Japan", "Asia Pacific", 3.0),
    Country("KE", "Kenya", "Africa", 0.6),
    Country("KR", "South Korea", "Asia Pacific", 1.5),
    Country("MX", "Mexico", "Latin America", 4.0),
    Country("NG", "Nigeria", "Africa", 1.2),
    Country("NL", "Netherlands", "Europe", 3.0),
    Country("NO", "Norway", "Europe", 2.0),
    Country("NZ", "New Zealand", "Asia Pacific", 0.8),
    Country("PH", "Philippines", "Asia Pacific", 1.5),
    Country("PL", "Poland", "Europe", 2.5),
    Country("PT", "Portugal", "Europe", 1.2),
    Country("SE", "Sweden", "Europe", 8.0),
    Country("US", "United States", "North America", 18.0),
    Country("ZA", "South Africa", "Africa", 1.5),
)


class Plan(NamedTuple):
    plan_id: str
    plan_name: str
    monthly_price_eur: str  # kept as text so the CSV shows exactly two decimals
    max_members: int
    weight: float  # share of new subscriptions


PLANS: tuple[Plan, ...] = (
    Plan("free", "Free", "0.00", 1, 0.45),
    Plan("individual", "Individual", "10.99", 1, 0.28),
    Plan("duo", "Duo", "14.99", 2, 0.08),
    Plan("family", "Family", "17.99", 6, 0.10),
    Plan("student", "Student", "5.99", 1, 0.09),
)

# Share of listeners with 1, 2 or 3 subscription periods, and of listeners who unsubscribed.
PERIODS_PER_LISTENER: tuple[int, ...] = (1, 2, 3)
PERIODS_WEIGHTS: tuple[float, ...] = (0.68, 0.24, 0.08)
UNSUBSCRIBE_SHARE = 0.08
SIGNUP_IN_WINDOW_SHARE = 0.15
SIGNUP_HISTORY_DAYS = 730

# Poisson rates of profile changes per listener inside the window (plan changes come on top,
# from subscription switches; together about 0.6 changes per listener).
PROFILE_CHANGE_RATES: tuple[tuple[str, float], ...] = (
    ("email", 0.20),
    ("country_code", 0.12),
    ("full_name", 0.10),
)
PROFILE_FIELDS: tuple[str, ...] = ("email", "country_code", "full_name", "plan_id")

FIRST_NAMES: tuple[str, ...] = (
    "Alice", "Amir", "Ana", "Astrid", "Ben", "Carlos", "Chloe", "Daniel", "Elif", "Emma",
    "Erik", "Fatima", "Felix", "Freya", "Grace", "Hana", "Hugo", "Ingrid", "Isabel", "Jakob",
    "James", "Julia", "Kenji", "Lars", "Laura", "Leon", "Lucas", "Maja", "Maria", "Mateo",
    "Mia", "Nina", "Noah", "Olivia", "Omar", "Priya", "Rafael", "Sofia", "Tom", "Yuki",
)  # fmt: skip

LAST_NAMES: tuple[str, ...] = (
    "Andersson", "Berg", "Brown", "Costa", "Da Silva", "Dubois", "Eriksson", "Fischer",
    "Garcia", "Hansen", "Ito", "Jensen", "Johansson", "Khan", "Kim", "Kowalski", "Larsen",
    "Lindqvist", "Lopez", "Martin", "Meyer", "Moreau", "Muller", "Nakamura", "Nguyen",
    "Nilsson", "Novak", "Oliveira", "Patel", "Rossi", "Santos", "Schmidt", "Smith", "Svensson",
    "Tanaka", "Taylor", "Van Dijk", "Wagner", "Williams", "Wilson",
)  # fmt: skip

EMAIL_DOMAIN = "example.com"
CHANGED_EMAIL_DOMAIN = "example.net"

DEVICES: tuple[str, ...] = ("ios", "android", "web", "desktop", "smart_speaker")
DEVICE_WEIGHTS: tuple[float, ...] = (0.34, 0.36, 0.10, 0.15, 0.05)

# Relative listening activity per UTC hour of the day (quiet nights, busy evenings).
HOURLY_ACTIVITY: tuple[float, ...] = (
    2.0, 1.4, 1.0, 0.8, 0.8, 1.0, 1.8, 3.0, 4.2, 4.6, 4.4, 4.4,
    4.8, 4.8, 4.6, 4.6, 5.0, 5.6, 6.2, 6.6, 6.4, 5.6, 4.2, 3.0,
)  # fmt: skip

GENRES: tuple[str, ...] = (
    "pop", "rock", "hip-hop", "electronic", "r&b", "jazz",
    "classical", "country", "latin", "metal", "indie", "folk",
)  # fmt: skip
GENRE_WEIGHTS: tuple[float, ...] = (
    18.0, 12.0, 14.0, 10.0, 7.0, 4.0, 3.0, 5.0, 9.0, 5.0, 8.0, 5.0,
)  # fmt: skip

LABELS: tuple[str, ...] = (
    "Atlas Sound", "Blue Fjord Music", "Copper Crown Records", "Golden Hour Music",
    "Midnight Tram Records", "Northern Lights Records", "Paper Moon Recordings",
    "Sundown Collective", "Velvet Static", "Wildflower Audio",
)  # fmt: skip
UNSIGNED_SHARE = 0.3

WORDS_ADJECTIVE: tuple[str, ...] = (
    "Blue", "Broken", "Burning", "Electric", "Endless", "Fading", "Frozen", "Golden", "Hollow",
    "Lonely", "Lost", "Midnight", "Neon", "Quiet", "Restless", "Silver", "Slow", "Velvet",
    "Wild", "Young",
)  # fmt: skip
WORDS_NOUN: tuple[str, ...] = (
    "Avenue", "Dream", "Echo", "Fire", "Garden", "Heart", "Highway", "Horizon", "Light",
    "Memory", "Moon", "Ocean", "Rain", "River", "Shadow", "Signal", "Summer", "Thunder",
    "Waves", "Window",
)  # fmt: skip
TITLE_VERSIONS: tuple[str, ...] = ("Live", "Acoustic", "Radio Edit", "Remix", "Demo")

PODCAST_CATEGORIES: tuple[str, ...] = (
    "Business", "Comedy", "Education", "Health", "History", "Music", "News",
    "Society & Culture", "Sports", "Technology", "True Crime",
)  # fmt: skip
PODCAST_LANGUAGES: tuple[str, ...] = ("en", "sv", "de", "es", "pt")
PODCAST_LANGUAGE_WEIGHTS: tuple[float, ...] = (0.55, 0.12, 0.13, 0.12, 0.08)
# Title suffix per language, aligned with PODCAST_LANGUAGES.
PODCAST_SUFFIXES: tuple[str, ...] = ("Podcast", "Podden", "Gespräche", "Pódcast", "Conversas")
PODCAST_PUBLISHERS: tuple[str, ...] = (
    "Daff Studios", "Estúdio Paulista", "Hörfunk München", "Independent", "Lagom Media",
    "Night Owl Audio", "Radio Pública", "Sveriges Poddverkstad", "Harbour Lane Audio",
    "Tinfoil Hat Productions",
)  # fmt: skip
PODCAST_PAGE_SIZE = 50
EPISODES_PER_SHOW = (3, 40)  # inclusive bounds
