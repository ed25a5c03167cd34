"""What a demo store is before anything is generated: `StoreSpec`, `AdAccountSpec`, and `demo_specs`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sandbox.seeded import hex_string

SCOPES = ("read_orders", "read_all_orders", "read_customers", "read_products")
PLANS = ("Basic", "Shopify", "Advanced", "Shopify Plus")


@dataclass(frozen=True)
class AdAccountSpec:
    account_id: str
    name: str
    currency: str
    iana_timezone: str
    access_token: str


@dataclass(frozen=True)
class StoreSpec:
    domain: str
    name: str
    currency: str
    iana_timezone: str
    plan: str
    taxes_included: bool
    presentment_currencies: tuple[str, ...]
    seed: int
    start: date
    end: date
    orders_per_day: float
    access_token: str
    client_id: str
    client_secret: str
    scopes: tuple[str, ...]
    ad_accounts: tuple[AdAccountSpec, ...]
    # Extension (optional, defaulted): the tax rate applied to products and shipping; None -> by shop currency.
    tax_rate: Decimal | None = None



TEMPLATES = (
    # slug, name, currency, timezone, plan, taxes included, presentment, orders/day, theme, ad accounts
    ("alpine-outfitters", "Alpine Outfitters", "EUR", "Europe/Berlin", "Shopify", True,
     ("EUR", "CHF", "GBP", "USD"), 3.2, "outdoor", (("USD", "America/New_York"),)),
    ("harbor-and-pine-coffee", "Harbor & Pine Coffee", "USD", "America/Los_Angeles", "Advanced", False,
     ("USD", "CAD"), 4.0, "coffee", (("USD", "America/Los_Angeles"), ("USD", "America/Los_Angeles"))),
    ("thistle-and-thread", "Thistle & Thread", "GBP", "Europe/London", "Basic", True,
     ("GBP", "EUR", "USD"), 2.2, "knit", (("EUR", "Europe/Dublin"),)),
    ("southern-cross-surf", "Southern Cross Surf", "AUD", "Australia/Sydney", "Shopify Plus", True,
     ("AUD", "NZD", "USD"), 2.6, "surf", (("AUD", "Australia/Sydney"),)),
    ("maple-loom", "Maple Loom", "CAD", "America/Toronto", "Shopify", False,
     ("CAD", "USD"), 2.0, "knit", (("CAD", "America/Toronto"),)),
)


def demo_specs(stores: int = 3, seed: int = 1, today: date | None = None, days: int = 365) -> list[StoreSpec]:
    """`stores` demo shops with different currencies and timezones, `days` days of history ending `today`."""
    end = today or date.today()
    start = end - timedelta(days=days - 1)
    out = []
    for i in range(stores):
        slug, name, cur, tz, plan, incl, pres, rate, _theme, ads = TEMPLATES[i % len(TEMPLATES)]
        if i >= len(TEMPLATES):
            slug, name = f"{slug}-{i // len(TEMPLATES) + 1}", f"{name} {i // len(TEMPLATES) + 1}"
        s = seed * 1000 + i
        accounts = tuple(
            AdAccountSpec(
                account_id=f"act_{int(hex_string(12, 'act', s, k), 16) % 10**15:015d}",
                name=f"{name} — {'Prospecting' if k == 0 else 'Retargeting'}",
                currency=acur,
                iana_timezone=atz,
                access_token="EAAB" + hex_string(60, "meta-token", s, k),
            )
            for k, (acur, atz) in enumerate(ads)
        )
        out.append(
            StoreSpec(
                domain=f"{slug}.myshopify.com",
                name=name,
                currency=cur,
                iana_timezone=tz,
                plan=plan,
                taxes_included=incl,
                presentment_currencies=pres,
                seed=s,
                start=start,
                end=end,
                orders_per_day=rate,
                access_token="shpat_" + hex_string(32, "shpat", s),
                client_id=hex_string(32, "client-id", s),
                client_secret="shpss_" + hex_string(32, "client-secret", s),
                scopes=SCOPES,
                ad_accounts=accounts,
            )
        )
    return out

