"""What a column's type and values say about personal data, beyond its name.

A name alone misleads: ``credit_card_amount`` matches the payment-card pattern but holds money.
So a numeric column is never a category that is text by nature (an e-mail, a name, an IP
address); a fractional number (decimal, double) is never an identifier such as a card number;
a numeric column whose name says it is an amount is never personal data by its name; and where
sample values are at hand (the scaffold reading a source) they decide too — a card number is
13 to 19 digits passing the Luhn check, an e-mail matches the e-mail value pattern.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

_INTEGER = re.compile(
    r"^(tinyint|smallint|integer|int|bigint|hugeint|utinyint|usmallint|uinteger|ubigint|"
    r"uhugeint|int1|int2|int4|int8|int16|int32|int64|long|short|serial|bigserial)\b"
)
_FRACTIONAL = re.compile(r"^(double|float|real|float4|float8|double precision)\b")
_DECIMAL = re.compile(r"^(decimal|numeric)\s*(\(\s*\d+\s*(,\s*(\d+)\s*)?\))?")
_CARD_SEPARATORS = re.compile(r"[ -]")
_NUMBER = re.compile(r"^[+-]?\d+(\.\d*)?([eE][+-]?\d+)?$")

CARD = "payment_card"
# A share of the sampled non-null values above which the values decide a category.
VALUE_SHARE = 0.5


def is_numeric(data_type: str | None) -> bool:
    return is_integer(data_type) or is_fractional(data_type)


def is_integer(data_type: str | None) -> bool:
    text = (data_type or "").strip().lower()
    if _INTEGER.match(text):
        return True
    m = _DECIMAL.match(text)
    return bool(m and m[2] and (m[4] is None or int(m[4]) == 0))  # decimal(p) or decimal(p, 0)


def is_fractional(data_type: str | None) -> bool:
    text = (data_type or "").strip().lower()
    return bool(_FRACTIONAL.match(text) or (_DECIMAL.match(text) and not is_integer(text)))


def is_card_number(value: Any) -> bool:
    """13–19 digits (spaces or dashes between them allowed) passing the Luhn check."""
    if value is None or isinstance(value, bool | float):
        return False
    digits = _CARD_SEPARATORS.sub("", str(value).strip())
    if not digits.isdigit() or not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, char in enumerate(reversed(digits)):
        n = int(char)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    return bool(_NUMBER.match(str(value).strip())) if value is not None else False


def category_of_values(values: Iterable[Any], value_patterns: Mapping[str, str]) -> str | None:
    """The category most sampled non-null values look like (card numbers, then the mesh's
    value patterns: e-mail, IP address), or None."""
    sample = [v for v in values if v is not None and str(v).strip()]
    if not sample:
        return None
    tests = {CARD: is_card_number}
    for category, pattern in value_patterns.items():
        regex = re.compile(pattern)
        tests[category] = lambda v, r=regex: bool(r.search(str(v)))
    for category, test in tests.items():
        if sum(1 for v in sample if test(v)) > VALUE_SHARE * len(sample):
            return category
    return None


def values_rule_out(category: str, values: Iterable[Any] | None) -> bool:
    """Sampled values that say a column named like ``category`` is not it: plain numbers none
    of which is a card number rule out a card (amounts, counts). Other categories are kept
    whatever the values (``email_sha256`` holds hashes of e-mails: still personal)."""
    if category != CARD or values is None:
        return False
    sample = [v for v in values if v is not None and str(v).strip()]
    return (
        bool(sample) and all(is_number(v) for v in sample) and not any(map(is_card_number, sample))
    )
