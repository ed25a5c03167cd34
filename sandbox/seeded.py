"""Small shared facts of the demo stores: seeded hashes, money rounding, fixed exchange rates, timestamps."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def q2(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


def digest(*parts: object) -> bytes:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()


def hex_string(n: int, *parts: object) -> str:
    out = ""
    i = 0
    while len(out) < n:
        out += digest(*parts, i).hex()
        i += 1
    return out[:n]


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

# USD value of one unit of each currency: fixed, deterministic presentment rates.
USD_PER_UNIT = {
    "USD": Decimal("1"),
    "EUR": Decimal("1.08"),
    "GBP": Decimal("1.27"),
    "CHF": Decimal("1.13"),
    "CAD": Decimal("0.73"),
    "AUD": Decimal("0.66"),
    "NZD": Decimal("0.60"),
    "SEK": Decimal("0.095"),
    "DKK": Decimal("0.145"),
}



# Ids a store may use of each kind (orders, customers, variants...). Each store's block starts at its seed times
# this, so no two stores share an id, as on Shopify, where ids are unique across shops.
ID_BLOCK = 10**9


def id_offset(seed: int) -> int:
    """Where a store's ids start within each kind's range (its seed's block)."""
    return seed * ID_BLOCK


def parse_iso(stamp: str) -> datetime:
    """A timestamp as `iso` writes it."""
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
