"""Deterministic demo stores: brand, catalog, customers and orders shaped like Shopify Admin GraphQL 2026-01.

Everything is derived from `StoreSpec.seed`. Orders are planned day by day from a per-day seed, so any range of
days can be regenerated without the days before it and a million-order store streams in constant memory.

The generator first decides what *happened* (a `SimOrder`: lines with their amounts and a list of `SimEvent`s:
the sale, later refunds, a cancellation), then renders the API-shaped dict from it. `sandbox.truth` computes the
expected report figures from the same events, never from the rendered dicts.

Money: amounts are decided in shop currency (2 dp, ROUND_HALF_UP); presentment amounts are the shop amounts times a
fixed rate per currency pair. Tax-included shops show prices with tax in them; reports use pre-tax figures.
"""

from __future__ import annotations

import hashlib
import math
import random
from array import array
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property
from zoneinfo import ZoneInfo

__all__ = [
    "AdAccountSpec",
    "PlannedLine",
    "PlannedOrder",
    "PlannedRefund",
    "SimEvent",
    "SimLine",
    "SimOrder",
    "SimSale",
    "Store",
    "StoreSpec",
    "build_store",
    "demo_specs",
]

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
SCOPES = ("read_orders", "read_all_orders", "read_customers", "read_products")
PLANS = ("Basic", "Shopify", "Advanced", "Shopify Plus")
MAX_EVENT_LAG_DAYS = 45  # refunds/cancellations/edits happen at most this many days after the order
EDIT_NUMBER = 9  # event number of an order edit (refunds are numbered 1..8)


def q2(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()


def _hex(n: int, *parts: object) -> str:
    out = ""
    i = 0
    while len(out) < n:
        out += _digest(*parts, i).hex()
        i += 1
    return out[:n]


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------------------------------- specs


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

# Country, tax (rate, title), shipping (standard, express, free-over) by shop currency.
_LOCALE = {
    "EUR": ("DE", Decimal("0.19"), "DE MwSt", Decimal("4.90"), Decimal("12.90"), Decimal("75")),
    "USD": ("US", Decimal("0.0725"), "CA State Tax", Decimal("5.99"), Decimal("14.99"), Decimal("80")),
    "GBP": ("GB", Decimal("0.20"), "GB VAT", Decimal("3.95"), Decimal("8.95"), Decimal("60")),
    "AUD": ("AU", Decimal("0.10"), "AU GST", Decimal("9.95"), Decimal("19.95"), Decimal("120")),
    "CAD": ("CA", Decimal("0.13"), "ON HST", Decimal("8.99"), Decimal("18.99"), Decimal("100")),
}

_ADDRESSES = {
    "DE": [("Berlin", "Berlin", "BE", "10115"), ("München", "Bavaria", "BY", "80331"),
           ("Hamburg", "Hamburg", "HH", "20095"), ("Köln", "North Rhine-Westphalia", "NW", "50667"),
           ("Freiburg", "Baden-Württemberg", "BW", "79098")],
    "US": [("Los Angeles", "California", "CA", "90012"), ("San Francisco", "California", "CA", "94103"),
           ("Portland", "Oregon", "OR", "97205"), ("Seattle", "Washington", "WA", "98101"),
           ("Austin", "Texas", "TX", "78701"), ("Brooklyn", "New York", "NY", "11201")],
    "GB": [("London", "England", "ENG", "EC1A 1BB"), ("Edinburgh", "Scotland", "SCT", "EH1 1YZ"),
           ("Manchester", "England", "ENG", "M1 1AE"), ("Cardiff", "Wales", "WLS", "CF10 1EP")],
    "AU": [("Sydney", "New South Wales", "NSW", "2000"), ("Melbourne", "Victoria", "VIC", "3000"),
           ("Brisbane", "Queensland", "QLD", "4000"), ("Byron Bay", "New South Wales", "NSW", "2481")],
    "CA": [("Toronto", "Ontario", "ON", "M5H 2N2"), ("Ottawa", "Ontario", "ON", "K1P 1J1"),
           ("Vancouver", "British Columbia", "BC", "V6B 1A1")],
}
_COUNTRY_NAMES = {"DE": "Germany", "US": "United States", "GB": "United Kingdom", "AU": "Australia", "CA": "Canada"}

_FIRST = ["Anna", "Ben", "Clara", "David", "Emma", "Finn", "Grace", "Hugo", "Isla", "Jonas", "Kira", "Liam", "Mia",
          "Noah", "Olivia", "Paul", "Quinn", "Rosa", "Sam", "Theo", "Uma", "Vera", "Will", "Yara", "Zoe", "Leo",
          "Nina", "Oscar", "Lena", "Max"]
_LAST = ["Adler", "Brown", "Costa", "Diaz", "Evans", "Fischer", "Garcia", "Hughes", "Ito", "Jones", "Keller",
         "Lopez", "Martin", "Nguyen", "Okafor", "Patel", "Quist", "Rossi", "Schmidt", "Taylor", "Urban", "Vogel",
         "Walsh", "Young", "Zimmer", "Murphy", "Kelly", "Novak"]

# theme -> (palette of brand hex colours, product colours, product templates)
# template: (title, product type, category path (depth <= 3), base price in USD, options)
_APPAREL = (("Size", ("XS", "S", "M", "L", "XL")),)
_THEMES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple]] = {
    "outdoor": (
        ("#1F3A34", "#E8DCC8", "#C8553D", "#2E86AB"),
        ("Forest", "Glacier", "Ember", "Slate"),
        (
            ("Merino Base Layer", "Base Layers", ("Apparel & Accessories", "Clothing", "Activewear"), 79, _APPAREL),
            ("Alpine Shell Jacket", "Jackets", ("Apparel & Accessories", "Clothing", "Outerwear"), 249, _APPAREL),
            ("Down Vest", "Jackets", ("Apparel & Accessories", "Clothing", "Outerwear"), 149, _APPAREL),
            ("Trail Shorts", "Shorts", ("Apparel & Accessories", "Clothing", "Shorts"), 59, _APPAREL),
            ("Hiking Socks", "Socks", ("Apparel & Accessories", "Clothing", "Socks"), 19, (("Size", ("S", "M", "L")),)),
            ("Wool Beanie", "Headwear", ("Apparel & Accessories", "Clothing Accessories", "Hats"), 29, ()),
            ("Daypack 24L", "Bags", ("Luggage & Bags", "Backpacks"), 119, ()),
            ("Trekking Poles", "Gear", ("Sporting Goods", "Outdoor Recreation", "Hiking"), 89, ()),
            ("Insulated Bottle", "Drinkware", ("Home & Garden", "Kitchen & Dining", "Drinkware"), 35, ()),
        ),
    ),
    "coffee": (
        ("#3B2418", "#F2E8DA", "#D98E04", "#6B8F71"),
        ("Cream", "Charcoal", "Sage"),
        (
            ("House Blend Beans", "Coffee", ("Food, Beverages & Tobacco", "Beverages", "Coffee"), 18,
             (("Size", ("250g", "1kg")), ("Grind", ("Whole bean", "Espresso", "Filter")))),
            ("Single Origin Ethiopia", "Coffee", ("Food, Beverages & Tobacco", "Beverages", "Coffee"), 22,
             (("Size", ("250g", "1kg")),)),
            ("Decaf Colombia", "Coffee", ("Food, Beverages & Tobacco", "Beverages", "Coffee"), 19,
             (("Size", ("250g", "1kg")),)),
            ("Ceramic Mug", "Drinkware", ("Home & Garden", "Kitchen & Dining", "Drinkware"), 24, ()),
            ("Pour-over Kettle", "Brewing", ("Home & Garden", "Kitchen & Dining", "Kitchen Appliances"), 69, ()),
            ("Cold Brew Kit", "Brewing", ("Home & Garden", "Kitchen & Dining", "Kitchen Tools"), 39, ()),
            ("Espresso Tamper", "Brewing", ("Home & Garden", "Kitchen & Dining", "Kitchen Tools"), 29, ()),
            ("Barista Apron", "Apparel", ("Apparel & Accessories", "Clothing", "Aprons"), 34, ()),
        ),
    ),
    "knit": (
        ("#2C3E50", "#F4EBD9", "#8E3B46", "#A3B18A"),
        ("Heather", "Oatmeal", "Navy", "Berry"),
        (
            ("Lambswool Jumper", "Knitwear", ("Apparel & Accessories", "Clothing", "Sweaters"), 95, _APPAREL),
            ("Cable Knit Cardigan", "Knitwear", ("Apparel & Accessories", "Clothing", "Sweaters"), 120, _APPAREL),
            ("Tartan Scarf", "Accessories", ("Apparel & Accessories", "Clothing Accessories", "Scarves"), 45, ()),
            ("Fisherman Beanie", "Accessories", ("Apparel & Accessories", "Clothing Accessories", "Hats"), 28, ()),
            ("Wool Socks", "Socks", ("Apparel & Accessories", "Clothing", "Socks"), 16, (("Size", ("S", "M", "L")),)),
            ("Knitting Kit", "Crafts", ("Arts & Entertainment", "Hobbies & Creative Arts", "Crafts"), 55, ()),
            ("Throw Blanket", "Home", ("Home & Garden", "Linens & Bedding", "Blankets"), 110, ()),
        ),
    ),
    "surf": (
        ("#0B3954", "#FFD166", "#06D6A0", "#EF476F"),
        ("Reef", "Sand", "Sunset"),
        (
            ("Boardshorts", "Swimwear", ("Apparel & Accessories", "Clothing", "Swimwear"), 55, _APPAREL),
            ("Wetsuit 3/2", "Wetsuits", ("Sporting Goods", "Water Sports", "Wetsuits"), 289, _APPAREL),
            ("Rash Guard", "Swimwear", ("Apparel & Accessories", "Clothing", "Swimwear"), 45, _APPAREL),
            ("Surf Wax", "Accessories", ("Sporting Goods", "Water Sports", "Surfing"), 6, ()),
            ("Leash 7ft", "Accessories", ("Sporting Goods", "Water Sports", "Surfing"), 35, ()),
            ("Beach Towel", "Home", ("Home & Garden", "Linens & Bedding", "Towels"), 39, ()),
        ),
    ),
}

_TEMPLATES = (
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
        slug, name, cur, tz, plan, incl, pres, rate, _theme, ads = _TEMPLATES[i % len(_TEMPLATES)]
        if i >= len(_TEMPLATES):
            slug, name = f"{slug}-{i // len(_TEMPLATES) + 1}", f"{name} {i // len(_TEMPLATES) + 1}"
        s = seed * 1000 + i
        accounts = tuple(
            AdAccountSpec(
                account_id=f"act_{int(_hex(12, 'act', s, k), 16) % 10**15:015d}",
                name=f"{name} — {'Prospecting' if k == 0 else 'Retargeting'}",
                currency=acur,
                iana_timezone=atz,
                access_token="EAAB" + _hex(60, "meta-token", s, k),
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
                access_token="shpat_" + _hex(32, "shpat", s),
                client_id=_hex(32, "client-id", s),
                client_secret="shpss_" + _hex(32, "client-secret", s),
                scopes=SCOPES,
                ad_accounts=accounts,
            )
        )
    return out


# --------------------------------------------------------------------------------------------------- plans


@dataclass(frozen=True)
class PlannedLine:
    product: int  # index into Store.products (the gift card product is last)
    variant: int  # index into that product's variants
    quantity: int = 1
    unit_price: Decimal | None = None  # override the variant price (displayed, shop currency)


@dataclass(frozen=True)
class PlannedRefund:
    at: datetime  # shop-local naive datetime
    lines: tuple[tuple[int, int], ...]  # (line index, quantity)
    shipping: bool = False  # refund the (rest of the) shipping too
    note: str | None = None


@dataclass(frozen=True)
class PlannedOrder:
    """What a shopper did, before any money is computed. Scripted stores pass these to `build_store`."""

    at: datetime  # shop-local naive datetime of creation
    lines: tuple[PlannedLine, ...]
    customer: int | None = None  # index into Store.customers; None = guest
    discount_code: str | None = None
    discount_pct: Decimal = ZERO  # percentage off every product line, e.g. Decimal("10")
    shipping: Decimal | None = None  # displayed shipping price; None = no shipping line
    shipping_title: str = "Standard"
    tip: Decimal = ZERO
    gift_card: Decimal = ZERO  # a gift card sold on this order (face value)
    test: bool = False
    cancel_at: datetime | None = None  # shop-local naive
    cancel_reason: str = "CUSTOMER"
    refunds: tuple[PlannedRefund, ...] = ()
    edit_at: datetime | None = None  # shop-local naive: an order edit adding `edit_add` (ignored if cancelled)
    edit_add: PlannedLine | None = None
    presentment: str | None = None
    source: str = "web"
    referrer: str | None = None
    landing: str | None = None


# --------------------------------------------------------------------------------------------------- simulation


@dataclass
class SimLine:
    index: int
    kind: str  # "product" | "gift_card" | "tip"
    product: dict | None
    variant: dict | None
    title: str
    variant_title: str | None
    sku: str | None
    quantity: int
    unit: Decimal  # displayed unit price
    disc_display: Decimal  # displayed discount on the whole line
    rate: Decimal
    gross: Decimal  # pre-tax, pre-discount
    disc: Decimal  # pre-tax discount
    tax: Decimal
    total: Decimal  # gross - disc + tax (what the customer paid for the line)
    returned: int = 0


@dataclass(frozen=True)
class SimSale:
    line_type: str  # SaleLineType: PRODUCT, SHIPPING, TIP, GIFT_CARD
    action: str  # SaleActionType: ORDER, RETURN
    line: int | None  # SimLine index; None for shipping
    quantity: int | None
    gross: Decimal  # signed; pre-tax, pre-discount
    disc: Decimal  # signed; pre-tax discount
    tax: Decimal  # signed
    total: Decimal  # signed; gross - disc + tax
    disc_after: Decimal  # signed; discount including its tax


@dataclass
class SimEvent:
    kind: str  # "order" | "edit" | "refund" | "cancel"
    at: datetime  # aware UTC
    local_date: date
    sales: list[SimSale]
    number: int  # 0 for the order, 1.. for refunds
    note: str | None = None

    @property
    def amount(self) -> Decimal:
        return sum((s.total for s in self.sales), ZERO)


@dataclass
class SimOrder:
    seq: int  # 0-based order number in the store
    plan: PlannedOrder
    created: datetime  # aware UTC
    local_date: date
    lines: list[SimLine]
    shipping_display: Decimal | None
    shipping_tax: Decimal
    shipping_pre: Decimal
    presentment: str
    fx: Decimal
    events: list[SimEvent] = field(default_factory=list)
    cancelled_at: datetime | None = None
    customer_order_index: int | None = None  # 0 = the customer's first (non-test) order

    @property
    def returning(self) -> bool:
        """A returning customer's order (the customer had ordered before); guests and test orders are not."""
        return bool(self.customer_order_index)

    @property
    def test(self) -> bool:
        return self.plan.test


def _line_amounts(unit: Decimal, qty: int, disc: Decimal, rate: Decimal, incl: bool):
    """(gross, pre-tax discount, tax, total) for a line; displayed prices include tax when `incl`."""
    shown = unit * qty
    if incl:
        total = shown - disc
        tax = q2(total * rate / (1 + rate))
        disc_pre = q2(disc / (1 + rate))
        return total - tax + disc_pre, disc_pre, tax, total
    tax = q2((shown - disc) * rate)
    return shown, disc, tax, shown - disc + tax


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 40:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


_HOUR_WEIGHTS = (0.3, 0.2, 0.15, 0.1, 0.1, 0.15, 0.3, 0.6, 0.8, 1.0, 1.1, 1.2,
                 1.3, 1.2, 1.1, 1.1, 1.2, 1.3, 1.5, 1.7, 1.8, 1.6, 1.1, 0.6)
_HOUR_CUM = [sum(_HOUR_WEIGHTS[: i + 1]) for i in range(24)]
_WEEKDAY = (1.0, 0.95, 0.95, 1.0, 1.05, 1.1, 1.2)  # Monday .. Sunday
_LINES_CUM = (60, 88, 97, 100)  # 1, 2, 3, 4 lines


class Store:
    """A simulated shop. See the module docstring; `iter_orders` streams, `orders()` materialises."""

    def __init__(self, spec: StoreSpec, script: Sequence[PlannedOrder] | None = None):
        self.spec = spec
        self.tz = ZoneInfo(spec.iana_timezone)
        country, rate, tax_title, ship_std, ship_exp, free_over = _LOCALE.get(spec.currency, _LOCALE["USD"])
        self.country = country
        self.tax_rate = spec.tax_rate if spec.tax_rate is not None else rate
        self.tax_title = tax_title
        self.ship_std, self.ship_exp = ship_std, ship_exp
        self.free_shipping_over = free_over
        theme = next((t[8] for t in _TEMPLATES if spec.domain.startswith(t[0])), None)
        self.theme = theme or sorted(_THEMES)[spec.seed % len(_THEMES)]
        palette, colours, templates = _THEMES[self.theme]
        self.brand = {"name": spec.name, "palette": palette, "theme": self.theme}
        self._colours = colours
        self._script = None
        if script is not None:
            self._script = {}
            for p in script:
                self._script.setdefault(p.at.date(), []).append(p)
        self.products = self._make_products(templates)
        self._sellable = [i for i, p in enumerate(self.products) if not p["isGiftCard"]]
        self._popularity = []
        acc = 0.0
        for rank, _ in enumerate(self._sellable):
            acc += 1.0 / (rank + 1.5)
            self._popularity.append(acc)
        self._cutoff = datetime.combine(spec.end + timedelta(days=1), time(), self.tz).astimezone(UTC)
        self._days = (spec.end - spec.start).days + 1
        self._cust_origin = spec.start - timedelta(days=60)
        self._cust_span = (spec.end - self._cust_origin).days + 1
        if self._script is not None:
            self.n_customers = 1 + max([-1] + [p.customer for ps in self._script.values() for p in ps
                                               if p.customer is not None])
        else:
            expected = sum(self._rate(spec.start + timedelta(days=i)) for i in range(self._days))
            self.n_customers = max(20, min(50_000, int(expected * 0.6)))
        self._orders_cache: list[dict] | None = None
        self._first_seq_cache: list[int] | None = None
        self._customer_days: list[array] | None = None

    # ---------------------------------------------------------------- catalog

    def _make_products(self, templates) -> list[dict]:
        spec = self.spec
        rng = random.Random(f"{spec.seed}|{spec.domain}|catalog")
        fx_usd = USD_PER_UNIT.get(spec.currency, Decimal(1))
        created = datetime.combine(spec.start - timedelta(days=120), time(9), self.tz)
        products = []
        vendor = spec.name
        for pi, (title, ptype, cat, usd, options) in enumerate(templates):
            handle = title.lower().replace("&", "and").replace("/", "-").replace(" ", "-")
            pid = 8_100_000_000 + pi * 1000
            base = Decimal(usd) / fx_usd
            if not self.spec.taxes_included:
                base = base / (1 + self.tax_rate) * Decimal("1.05")
            price0 = Decimal(math.floor(base)) + Decimal("0.95") if base >= 10 else q2(base)
            opts = list(options)
            if ptype not in ("Coffee",) and len(opts) < 2:
                opts.append(("Color", tuple(rng.sample(self._colours, min(3, len(self._colours))))))
            combos: list[tuple[tuple[str, str], ...]] = [()]
            for oname, values in opts:
                combos = [c + ((oname, v),) for c in combos for v in values]
            pcreated = created + timedelta(days=pi * 3, minutes=rng.randrange(600))
            url = f"/sandbox/images/{handle}.svg"
            variants = []
            for vi, combo in enumerate(combos):
                vid = 44_000_000_000 + pi * 1000 + vi
                price = price0
                if any(v == "1kg" for _, v in combo):
                    price = q2(price0 * Decimal("3.2"))
                if any(v == "XL" for _, v in combo):
                    price = price + Decimal("5")
                cost = q2((price / (1 + self.tax_rate) if spec.taxes_included else price) *
                          Decimal(rng.choice(("0.32", "0.38", "0.45"))))
                sku = f"{self.theme[:3].upper()}-{pi + 1:03d}" + "".join(
                    "-" + v.replace(" ", "")[:3].upper() for _, v in combo)
                vtitle = " / ".join(v for _, v in combo) or "Default Title"
                variants.append({
                    "id": f"gid://shopify/ProductVariant/{vid}",
                    "legacyResourceId": str(vid),
                    "title": vtitle,
                    "displayName": f"{title} - {vtitle}",
                    "sku": sku,
                    "barcode": f"{(int(_hex(12, 'ean', spec.seed, pi, vi), 16) % 10**12):012d}",
                    "position": vi + 1,
                    "price": str(price),
                    "compareAtPrice": str(q2(price * Decimal("1.25"))) if pi % 4 == 3 else None,
                    "taxable": True,
                    "inventoryQuantity": rng.randrange(0, 240),
                    "selectedOptions": [{"name": n, "value": v} for n, v in combo]
                    or [{"name": "Title", "value": "Default Title"}],
                    "createdAt": _iso(pcreated),
                    "updatedAt": _iso(pcreated + timedelta(days=7)),
                    "inventoryItem": {
                        "id": f"gid://shopify/InventoryItem/{45_000_000_000 + pi * 1000 + vi}",
                        "sku": sku,
                        "tracked": True,
                        "requiresShipping": True,
                        "unitCost": {"amount": str(cost), "currencyCode": spec.currency},
                        "measurement": {"weight": {"unit": "GRAMS", "value": float(rng.choice((150, 350, 800)))}},
                    },
                })
            products.append(self._product_dict(pid, title, handle, ptype, cat, vendor, opts, variants, pcreated,
                                               url, rng, is_gift=False))
        # the gift card product
        pi = len(templates)
        pid = 8_100_000_000 + pi * 1000
        denoms = [Decimal(x) for x in (25, 50, 100)]
        pcreated = created
        variants = []
        for vi, d in enumerate(denoms):
            vid = 44_000_000_000 + pi * 1000 + vi
            variants.append({
                "id": f"gid://shopify/ProductVariant/{vid}", "legacyResourceId": str(vid),
                "title": f"{d:.0f}", "displayName": f"Gift Card - {d:.0f}", "sku": None, "barcode": None,
                "position": vi + 1, "price": str(q2(d)), "compareAtPrice": None, "taxable": False,
                "inventoryQuantity": 0, "selectedOptions": [{"name": "Denominations", "value": f"{d:.0f}"}],
                "createdAt": _iso(pcreated), "updatedAt": _iso(pcreated),
                "inventoryItem": {"id": f"gid://shopify/InventoryItem/{45_000_000_000 + pi * 1000 + vi}",
                                  "sku": None, "tracked": False, "requiresShipping": False,
                                  "unitCost": None, "measurement": {"weight": {"unit": "GRAMS", "value": 0.0}}},
            })
        products.append(self._product_dict(pid, "Gift Card", "gift-card", "Gift Cards",
                                           ("Arts & Entertainment", "Party & Celebration", "Gift Giving"), vendor,
                                           [("Denominations", tuple(f"{d:.0f}" for d in denoms))], variants,
                                           pcreated, "/sandbox/images/gift-card.svg", rng, is_gift=True))
        return products

    def _product_dict(self, pid, title, handle, ptype, cat, vendor, opts, variants, created, url, rng, is_gift):
        img_id = 30_000_000_000 + pid % 10**6
        images = [{"id": f"gid://shopify/ProductImage/{img_id + k}", "url": url if k == 0 else
                   url.replace(".svg", f"-{k + 1}.svg"), "altText": title, "width": 800, "height": 800}
                  for k in range(1 if is_gift else 2)]
        tags = [ptype.lower(), self.theme] + (["bestseller"] if rng.random() < 0.3 else [])
        return {
            "id": f"gid://shopify/Product/{pid}",
            "legacyResourceId": str(pid),
            "title": title,
            "handle": handle,
            "vendor": vendor,
            "productType": ptype,
            "tags": sorted(set(tags)),
            "status": "ACTIVE",
            "isGiftCard": is_gift,
            "createdAt": _iso(created),
            "updatedAt": _iso(created + timedelta(days=7)),
            "publishedAt": _iso(created + timedelta(hours=1)),
            "descriptionHtml": f"<p>{title} by {vendor}.</p><ul><li>Designed for everyday use</li>"
            f"<li>Ships in recyclable packaging</li></ul>",
            "category": {
                "id": "gid://shopify/TaxonomyCategory/sandbox-"
                + "-".join(c.lower().replace(" & ", "-").replace(" ", "-").replace(",", "") for c in cat),
                "name": cat[-1],
                "fullName": " > ".join(cat),
            },
            "options": [
                {"id": f"gid://shopify/ProductOption/{pid + k}", "name": n, "position": k + 1, "values": list(vals)}
                for k, (n, vals) in enumerate(opts)
            ] or [{"id": f"gid://shopify/ProductOption/{pid}", "name": "Title", "position": 1,
                   "values": ["Default Title"]}],
            "totalInventory": sum(v["inventoryQuantity"] for v in variants),
            "featuredImage": images[0],
            "images": images,
            "media": [{"__typename": "MediaImage", "id": f"gid://shopify/MediaImage/{int(i['id'].rsplit('/', 1)[1])}",
                       "alt": title, "mediaContentType": "IMAGE", "status": "READY", "image": i} for i in images],
            "variants": variants,
        }

    # ---------------------------------------------------------------- customers

    def _customer_created(self, i: int) -> datetime:
        day = self._cust_origin + timedelta(days=i * self._cust_span // max(1, self.n_customers))
        minute = int.from_bytes(_digest("cust-time", self.spec.seed, i)[:2], "big") % 1440
        return datetime.combine(day, time(), self.tz) + timedelta(minutes=minute)

    def _customer_base(self, i: int) -> dict:
        h = _digest("cust", self.spec.seed, self.spec.domain, i)
        first, last = _FIRST[h[0] % len(_FIRST)], _LAST[h[1] % len(_LAST)]
        cid = 6_500_000_000 + i
        city, prov, code, zipc = _ADDRESSES[self.country][h[2] % len(_ADDRESSES[self.country])]
        created = _iso(self._customer_created(i))
        return {
            "id": f"gid://shopify/Customer/{cid}",
            "legacyResourceId": str(cid),
            "firstName": first,
            "lastName": last,
            "displayName": f"{first} {last}",
            "email": f"{first.lower()}.{last.lower()}.{i}@example.com",
            "createdAt": created,
            "address": {"firstName": first, "lastName": last, "address1": f"{h[3] % 200 + 1} Market Street",
                        "city": city, "province": prov, "provinceCode": code, "country": _COUNTRY_NAMES[self.country],
                        "countryCodeV2": self.country, "zip": zipc},
        }

    @cached_property
    def customers(self) -> list[dict]:
        counts = self._counts()
        out = []
        for i in range(self.n_customers):
            b = self._customer_base(i)
            out.append({
                "id": b["id"], "legacyResourceId": b["legacyResourceId"], "firstName": b["firstName"],
                "lastName": b["lastName"], "displayName": b["displayName"], "email": b["email"],
                "createdAt": b["createdAt"], "updatedAt": b["createdAt"], "numberOfOrders": str(counts[i]),
                "state": "ENABLED" if counts[i] else "DISABLED", "tags": ["repeat"] if counts[i] > 1 else [],
                "defaultAddress": dict(b["address"], id=f"gid://shopify/MailingAddress/{7_000_000_000 + i}"),
            })
        return out

    # ---------------------------------------------------------------- day planning

    def _rate(self, d: date) -> float:
        spec = self.spec
        frac = (d - spec.start).days / max(1, (spec.end - spec.start).days)
        growth = 0.7 + 0.6 * frac
        season = 1 + 0.2 * math.cos(2 * math.pi * (d.timetuple().tm_yday - 355) / 365.25)
        if d.month == 11 and 22 <= d.day <= 30:
            season *= 1.9
        elif d.month == 12 and d.day <= 20:
            season *= 1.3
        return spec.orders_per_day * _WEEKDAY[d.weekday()] * season * growth

    def _skeleton(self, d: date) -> list[tuple[bool, int | None]]:
        """(test?, customer index) for each order of day `d`, from a cheap per-day seed (no money, no dicts)."""
        if self._script is not None:
            return [(p.test, p.customer) for p in self._script.get(d, [])]
        if d < self.spec.start or d > self.spec.end:
            return []
        rng = random.Random(f"{self.spec.seed}|{self.spec.domain}|skeleton|{d.isoformat()}")
        n = _poisson(rng, self._rate(d))
        avail = self.n_customers * (d - self._cust_origin).days // self._cust_span
        out = []
        for _ in range(n):
            test = rng.random() < 0.01
            u = rng.random()
            if avail <= 0 or u < 0.08:
                cust = None
            elif u < 0.5:
                cust = max(0, avail - 1 - int(rng.expovariate(1.0 / (1 + avail * 0.004))))
            else:
                cust = rng.randrange(avail)
            out.append((test, cust))
        return out

    def _first_seq(self, d: date) -> int:
        if self._first_seq_cache is None:
            acc, cache = 0, []
            for i in range(self._days):
                cache.append(acc)
                acc += len(self._skeleton(self.spec.start + timedelta(days=i)))
            cache.append(acc)
            self._first_seq_cache = cache
        i = min(max((d - self.spec.start).days, 0), self._days)
        return self._first_seq_cache[i]

    def _order_days(self) -> list[array]:
        """Per customer, the day offsets of their non-test orders (one cheap skeleton pass over the history)."""
        if self._customer_days is None:
            days = [array("H") for _ in range(self.n_customers)]
            for i in range(self._days):
                for test, cust in self._skeleton(self.spec.start + timedelta(days=i)):
                    if cust is not None and not test:
                        days[cust].append(i)
            self._customer_days = days
        return self._customer_days

    def _counts(self) -> list[int]:
        return [len(d) for d in self._order_days()] if self.n_customers else []

    def _count(self, customer: int) -> int:
        return len(self._order_days()[customer])

    def _plan_day(self, d: date) -> list[PlannedOrder]:
        if self._script is not None:
            return list(self._script.get(d, []))
        skel = self._skeleton(d)
        rng = random.Random(f"{self.spec.seed}|{self.spec.domain}|orders|{d.isoformat()}")
        spec = self.spec
        plans = []
        others = [c for c in spec.presentment_currencies if c != spec.currency]
        for test, cust in skel:
            hour = rng.choices(range(24), cum_weights=_HOUR_CUM)[0]
            at = datetime.combine(d, time(hour, rng.randrange(60), rng.randrange(60)))
            r = rng.randrange(100)
            nlines = next(k + 1 for k, c in enumerate(_LINES_CUM) if r < c)
            lines = []
            for _ in range(nlines):
                pi = self._sellable[rng.choices(range(len(self._sellable)), cum_weights=self._popularity)[0]]
                vi = rng.randrange(len(self.products[pi]["variants"]))
                qty = 1 if rng.random() < 0.85 else rng.randint(2, 3)
                lines.append(PlannedLine(pi, vi, qty))
            code, pct = None, ZERO
            x = rng.random()
            if d.month == 11 and 22 <= d.day <= 30 and x < 0.45:
                code, pct = "BFCM25", Decimal(25)
            elif x < 0.10:
                code, pct = "WELCOME10", Decimal(10)
            elif x < 0.14:
                code, pct = ("SPRING15", Decimal(15)) if 3 <= d.month <= 5 else ("VIP20", Decimal(20))
            source = rng.choices(("web", "pos", "shopify_draft_order"), cum_weights=(88, 95, 100))[0]
            subtotal = sum(Decimal(self.products[ln.product]["variants"][ln.variant]["price"]) * ln.quantity
                           for ln in lines)
            ship, ship_title = None, "Standard"
            if source != "pos":
                if rng.random() < 0.15:
                    ship, ship_title = self.ship_exp, "Express"
                elif subtotal >= self.free_shipping_over:
                    ship, ship_title = ZERO, "Free shipping"
                else:
                    ship = self.ship_std
            tip = q2(subtotal * Decimal("0.1")) if rng.random() < 0.04 else ZERO
            gift = Decimal(rng.choice((25, 50, 100))) if rng.random() < 0.03 else ZERO
            pres = rng.choice(others) if others and rng.random() < 0.2 else spec.currency
            cancel_at, reason, refunds = None, "CUSTOMER", []
            y = rng.random()
            if y < 0.025:
                cancel_at = at + timedelta(minutes=rng.randrange(20, 2880))
                reason = rng.choice(("CUSTOMER", "FRAUD", "INVENTORY", "DECLINED", "OTHER"))
            elif y < 0.10:
                when = at + timedelta(days=rng.randint(2, 30), minutes=rng.randrange(1440))
                if rng.random() < 0.4:
                    refunds.append(PlannedRefund(when, tuple((k, ln.quantity) for k, ln in enumerate(lines)),
                                                 shipping=rng.random() < 0.5, note="Returned"))
                else:
                    k = rng.randrange(len(lines))
                    refunds.append(PlannedRefund(when, ((k, rng.randint(1, lines[k].quantity)),), note="Damaged"))
                    if rng.random() < 0.2:
                        later = when + timedelta(days=rng.randint(1, 10), minutes=rng.randrange(1440))
                        refunds.append(PlannedRefund(later, tuple((j, ln.quantity) for j, ln in enumerate(lines)),
                                                     note="Returned rest"))
            edit_at, edit_add = None, None
            if cancel_at is None and rng.random() < 0.012:
                edit_at = at + timedelta(minutes=rng.randrange(30, 600))
                pi = self._sellable[rng.randrange(len(self._sellable))]
                edit_add = PlannedLine(pi, rng.randrange(len(self.products[pi]["variants"])), 1)
            referrer, landing = None, None
            z = rng.random()
            first = self.products[lines[0].product]["handle"]
            if z < 0.35:
                referrer = rng.choice(("https://www.facebook.com/", "https://www.instagram.com/",
                                       "https://l.facebook.com/"))
                landing = (f"https://{spec.domain}/products/{first}?utm_source=facebook&utm_medium=paid"
                           f"&utm_campaign=prospecting&fbclid={_hex(16, 'fbclid', spec.seed, at)}")
            elif z < 0.6:
                referrer = "https://www.google.com/"
                landing = f"https://{spec.domain}/products/{first}"
            elif z < 0.75:
                landing = f"https://{spec.domain}/"
            plans.append(PlannedOrder(
                at=at, lines=tuple(lines), customer=cust, discount_code=code, discount_pct=pct, shipping=ship,
                shipping_title=ship_title, tip=tip, gift_card=gift, test=test, cancel_at=cancel_at,
                cancel_reason=reason, refunds=tuple(refunds), presentment=pres, source=source,
                referrer=referrer, landing=landing, edit_at=edit_at, edit_add=edit_add,
            ))
        return plans

    # ---------------------------------------------------------------- simulation

    def _utc(self, local: datetime) -> datetime:
        return local.replace(tzinfo=self.tz).astimezone(UTC)

    def _local_date(self, at: datetime) -> date:
        return at.astimezone(self.tz).date()

    def sim_day(self, d: date) -> list[SimOrder]:
        """What happened to the orders created on shop-local day `d`, ascending creation time."""
        plans = sorted(self._plan_day(d), key=lambda p: self._utc(p.at))
        first = self._first_seq(d)
        sims = [self._simulate(first + j, p) for j, p in enumerate(plans)]
        if any(p.customer is not None for p in plans):
            offset, seen = (d - self.spec.start).days, {}
            for sim in sims:
                c = sim.plan.customer
                if c is not None and not sim.test:
                    sim.customer_order_index = bisect_left(self._order_days()[c], offset) + seen.get(c, 0)
                    seen[c] = seen.get(c, 0) + 1
        return sims

    def iter_sim(self, start: date | None = None, end: date | None = None) -> Iterator[SimOrder]:
        start = max(start or self.spec.start, self.spec.start)
        end = min(end or self.spec.end, self.spec.end)
        d = start
        while d <= end:
            yield from self.sim_day(d)
            d += timedelta(days=1)

    def _simulate(self, seq: int, p: PlannedOrder) -> SimOrder:
        spec = self.spec
        incl = spec.taxes_included
        rate = self.tax_rate
        pres = p.presentment or spec.currency
        fx = (USD_PER_UNIT.get(spec.currency, Decimal(1)) / USD_PER_UNIT.get(pres, Decimal(1))).quantize(
            Decimal("0.000001"))
        lines: list[SimLine] = []
        pct = p.discount_pct / 100
        for ln in p.lines:
            prod = self.products[ln.product]
            var = prod["variants"][ln.variant]
            unit = ln.unit_price if ln.unit_price is not None else Decimal(var["price"])
            disc = q2(unit * ln.quantity * pct)
            g, dp, t, tot = _line_amounts(unit, ln.quantity, disc, rate, incl)
            lines.append(SimLine(len(lines), "product", prod, var, prod["title"],
                                 None if var["title"] == "Default Title" else var["title"], var["sku"],
                                 ln.quantity, unit, disc, rate, g, dp, t, tot))
        if p.gift_card:
            gc = self.products[-1]
            var = next((v for v in gc["variants"] if Decimal(v["price"]) == p.gift_card), gc["variants"][0])
            lines.append(SimLine(len(lines), "gift_card", gc, var, "Gift Card", var["title"], None, 1,
                                 p.gift_card, ZERO, ZERO, p.gift_card, ZERO, ZERO, p.gift_card))
        if p.tip:
            lines.append(SimLine(len(lines), "tip", None, None, "Tip", None, None, 1, p.tip, ZERO, ZERO,
                                 p.tip, ZERO, ZERO, p.tip))
        ship_pre = ship_tax = ZERO
        if p.shipping is not None:
            if incl:
                ship_tax = q2(p.shipping * rate / (1 + rate))
                ship_pre = p.shipping - ship_tax
            else:
                ship_pre, ship_tax = p.shipping, q2(p.shipping * rate)
        created = self._utc(p.at)
        sim = SimOrder(seq, p, created, p.at.date(), lines, p.shipping, ship_tax, ship_pre, pres, fx)
        sales = []
        for ln in lines:
            ltype = {"product": "PRODUCT", "gift_card": "GIFT_CARD", "tip": "TIP"}[ln.kind]
            sales.append(SimSale(ltype, "ORDER", ln.index, ln.quantity, ln.gross, ln.disc, ln.tax, ln.total,
                                 q2(ln.disc * (1 + ln.rate)) if not incl else ln.disc_display))
        if p.shipping is not None:
            sales.append(SimSale("SHIPPING", "ORDER", None, None, ship_pre, ZERO, ship_tax, ship_pre + ship_tax,
                                 ZERO))
        sim.events.append(SimEvent("order", created, p.at.date(), sales, 0))
        ship_refunded = False
        if p.edit_at is not None and p.edit_add is not None and p.cancel_at is None:
            at = self._utc(p.edit_at)
            if created < at < self._cutoff:
                ln = p.edit_add
                prod = self.products[ln.product]
                var = prod["variants"][ln.variant]
                unit = ln.unit_price if ln.unit_price is not None else Decimal(var["price"])
                g, dp, t, tot = _line_amounts(unit, ln.quantity, ZERO, rate, incl)
                added = SimLine(len(lines), "product", prod, var, prod["title"],
                                None if var["title"] == "Default Title" else var["title"], var["sku"],
                                ln.quantity, unit, ZERO, rate, g, dp, t, tot)
                lines.append(added)
                sim.events.append(SimEvent("edit", at, self._local_date(at), [
                    SimSale("PRODUCT", "ORDER", added.index, ln.quantity, g, dp, t, tot, ZERO)], EDIT_NUMBER,
                    "Added an item"))
        if p.cancel_at is not None:
            at = self._utc(p.cancel_at)
            if at < self._cutoff:
                sim.cancelled_at = at
                ev = self._reversal(sim, [(ln.index, ln.quantity - ln.returned) for ln in lines], True, at, 1,
                                    "cancel", "Order cancelled")
                sim.events.append(ev)
        else:
            for n, r in enumerate(p.refunds, start=1):
                at = self._utc(r.at)
                if at >= self._cutoff or at <= created:
                    continue
                wanted = [(k, min(q, lines[k].quantity - lines[k].returned)) for k, q in r.lines]
                wanted = [(k, q) for k, q in wanted if q > 0]
                ship = r.shipping and not ship_refunded and p.shipping is not None
                if not wanted and not ship:
                    continue
                ship_refunded = ship_refunded or ship
                sim.events.append(self._reversal(sim, wanted, ship, at, n, "refund", r.note))
        return sim

    def _reversal(self, sim: SimOrder, wanted, ship: bool, at: datetime, number: int, kind: str, note):
        sales = []
        incl = self.spec.taxes_included
        for k, q in wanted:
            ln = sim.lines[k]
            if q <= 0:
                continue
            if ln.returned + q == ln.quantity:  # the rest of the line: whatever has not been returned yet
                done = [s for e in sim.events for s in e.sales if s.line == k and s.action == "RETURN"]
                g = ln.gross + sum((s.gross for s in done), ZERO)
                dc = ln.disc + sum((s.disc for s in done), ZERO)
                t = ln.tax + sum((s.tax for s in done), ZERO)
            else:
                g, dc, t = (q2(x * q / ln.quantity) for x in (ln.gross, ln.disc, ln.tax))
            ltype = {"product": "PRODUCT", "gift_card": "GIFT_CARD", "tip": "TIP"}[ln.kind]
            da = q2(dc * (1 + ln.rate)) if not incl else q2(ln.disc_display * q / ln.quantity)
            sales.append(SimSale(ltype, "RETURN", k, -q, -g, -dc, -t, -(g - dc + t), -da))
            ln.returned += q
        if ship and sim.shipping_display is not None:
            sales.append(SimSale("SHIPPING", "RETURN", None, None, -sim.shipping_pre, ZERO, -sim.shipping_tax,
                                 -(sim.shipping_pre + sim.shipping_tax), ZERO))
        return SimEvent(kind, at, self._local_date(at), sales, number, note)

    # ---------------------------------------------------------------- public API

    def iter_orders(self, start: date | None = None, end: date | None = None) -> Iterator[dict]:
        """Orders created in [start, end] (shop-local dates), ascending createdAt. Streams day by day."""
        for sim in self.iter_sim(start, end):
            yield self.render_order(sim)

    def orders(self) -> list[dict]:
        if self._orders_cache is None:
            self._orders_cache = list(self.iter_orders())
        return self._orders_cache

    def daily_order_summary(self, day: date) -> tuple[int, Decimal]:
        """(non-test orders created on shop-local `day`, their total sales at order time in shop currency)."""
        n, total = 0, ZERO
        for sim in self.sim_day(day):
            if sim.test:
                continue
            n += 1
            total += sum((s.gross - s.disc + s.tax for s in sim.events[0].sales
                          if s.line_type in ("PRODUCT", "SHIPPING")), ZERO)
        return n, total

    # ---------------------------------------------------------------- rendering

    def render_order(self, sim: SimOrder) -> dict:
        spec = self.spec
        cur, pres, fx = spec.currency, sim.presentment, sim.fx
        incl = spec.taxes_included
        seq, p = sim.seq, sim.plan
        oid = 5_500_000_000 + seq

        def bag(x: Decimal) -> dict:
            return {"shopMoney": {"amount": str(x), "currencyCode": cur},
                    "presentmentMoney": {"amount": str(q2(x * fx)), "currencyCode": pres}}

        def taxlines(amount: Decimal, rate: Decimal) -> list[dict]:
            if not rate:
                return []
            return [{"title": self.tax_title, "rate": float(rate), "ratePercentage": float(rate * 100),
                     "priceSet": bag(amount)}]

        li_id = [f"gid://shopify/LineItem/{13_000_000_000 + seq * 20 + ln.index}" for ln in sim.lines]
        ship_id = f"gid://shopify/ShippingLine/{4_300_000_000 + seq}"
        line_items = []
        for ln in sim.lines:
            shown = ln.unit * ln.quantity
            is_product = ln.kind == "product"
            line_items.append({
                "id": li_id[ln.index],
                "name": f"{ln.title} - {ln.variant_title}" if ln.variant_title else ln.title,
                "title": ln.title,
                "variantTitle": ln.variant_title,
                "sku": ln.sku,
                "vendor": spec.name if ln.kind != "tip" else None,
                "quantity": ln.quantity,
                "currentQuantity": ln.quantity - ln.returned,
                "requiresShipping": is_product,
                "isGiftCard": ln.kind == "gift_card",
                "taxable": is_product,
                "product": {"id": ln.product["id"]} if ln.product else None,
                "variant": {"id": ln.variant["id"]} if ln.variant else None,
                "originalUnitPriceSet": bag(ln.unit),
                "originalTotalSet": bag(shown),
                "discountedTotalSet": bag(shown - ln.disc_display),
                "totalDiscountSet": bag(ln.disc_display),
                "taxLines": taxlines(ln.tax, ln.rate),
            })
        products = [ln for ln in sim.lines if ln.kind != "tip"]
        subtotal = sum((ln.unit * ln.quantity - ln.disc_display for ln in products), ZERO)
        discounts = sum((ln.disc_display for ln in products), ZERO)
        tax = sum((ln.tax for ln in sim.lines), ZERO) + sim.shipping_tax
        tip = sum((ln.total for ln in sim.lines if ln.kind == "tip"), ZERO)
        total = sum((e.amount for e in sim.events if e.kind in ("order", "edit")), ZERO)
        reversals = [e for e in sim.events if e.kind in ("refund", "cancel")]
        refunded = -sum((e.amount for e in reversals), ZERO)
        returned_sales = [s for e in reversals for s in e.sales]
        ret_sub = -sum((s.total - (ZERO if incl else s.tax) for s in returned_sales
                        if s.line_type in ("PRODUCT", "GIFT_CARD")), ZERO)
        ret_tax = -sum((s.tax for s in returned_sales), ZERO)
        ret_disc = -sum((s.disc_after if incl else s.disc for s in returned_sales), ZERO)

        shipping_lines = []
        if sim.shipping_display is not None:
            shipping_lines.append({
                "id": ship_id, "title": p.shipping_title, "code": p.shipping_title.upper().replace(" ", "_"),
                "source": "shopify", "originalPriceSet": bag(sim.shipping_display),
                "discountedPriceSet": bag(sim.shipping_display), "taxLines": taxlines(sim.shipping_tax, self.tax_rate),
            })

        gateway = "bogus" if p.test else ("cash" if p.source == "pos" else "shopify_payments")
        created = _iso(sim.created)
        sale_tx = {"id": f"gid://shopify/OrderTransaction/{7_100_000_000 + seq * 20}", "kind": "SALE",
                   "status": "SUCCESS", "gateway": gateway, "amountSet": bag(sim.events[0].amount),
                   "createdAt": created, "processedAt": created, "test": p.test}
        transactions = [sale_tx]
        refunds = []
        agreements = []
        for e in sim.events:
            ag_id = 2_600_000_000 + seq * 20 + e.number
            sales = []
            for k, s in enumerate(e.sales):
                sale = {
                    "__typename": {"PRODUCT": "ProductSale", "SHIPPING": "ShippingLineSale", "TIP": "TipSale",
                                   "GIFT_CARD": "GiftCardSale"}[s.line_type],
                    "id": f"gid://shopify/Sale/{9_800_000_000_000 + seq * 400 + e.number * 40 + k}",
                    "actionType": s.action,
                    "lineType": s.line_type,
                    "quantity": s.quantity,
                    "totalAmount": bag(s.total),
                    "totalDiscountAmountBeforeTaxes": bag(s.disc),
                    "totalDiscountAmountAfterTaxes": bag(s.disc_after),
                    "totalTaxAmount": bag(s.tax),
                }
                if s.line_type == "SHIPPING":
                    sale["shippingLine"] = {"id": ship_id}
                else:
                    sale["lineItem"] = {"id": li_id[s.line]}
                sales.append(sale)
            at = _iso(e.at)
            if e.kind == "order":
                agreements.append({"__typename": "OrderAgreement", "id": f"gid://shopify/SalesAgreement/{ag_id}",
                                   "happenedAt": at, "reason": "ORDER", "sales": sales})
                continue
            if e.kind == "edit":
                agreements.append({"__typename": "OrderEditAgreement",
                                   "id": f"gid://shopify/SalesAgreement/{ag_id}", "happenedAt": at,
                                   "reason": "ORDER_EDIT", "sales": sales})
                transactions.append({
                    "id": f"gid://shopify/OrderTransaction/{7_100_000_000 + seq * 20 + e.number}", "kind": "SALE",
                    "status": "SUCCESS", "gateway": gateway, "amountSet": bag(e.amount), "createdAt": at,
                    "processedAt": at, "test": p.test})
                continue
            rid = 910_000_000 + seq * 10 + e.number
            amount = -e.amount
            tx = {"id": f"gid://shopify/OrderTransaction/{7_100_000_000 + seq * 20 + e.number}", "kind": "REFUND",
                  "status": "SUCCESS", "gateway": gateway, "amountSet": bag(amount), "createdAt": at,
                  "processedAt": at, "test": p.test, "parentTransaction": {"id": sale_tx["id"]}}
            transactions.append(tx)
            rli = []
            rsl = []
            for k, s in enumerate(e.sales):
                if s.line_type == "SHIPPING":
                    rsl.append({"id": f"gid://shopify/RefundShippingLine/{rid * 10 + k}",
                                "shippingLine": {"id": ship_id}, "subtotalAmountSet": bag(-(s.gross - s.disc)),
                                "taxAmountSet": bag(-s.tax)})
                    continue
                ln = sim.lines[s.line]
                restock = "CANCEL" if e.kind == "cancel" else ("RETURN" if ln.kind == "product" else "NO_RESTOCK")
                rli.append({"id": f"gid://shopify/RefundLineItem/{rid * 10 + k}", "quantity": -s.quantity,
                            "restockType": restock, "restocked": restock != "NO_RESTOCK",
                            "lineItem": {"id": li_id[s.line]}, "priceSet": bag(ln.unit),
                            "subtotalSet": bag(-(s.total - (ZERO if incl else s.tax))),
                            "totalTaxSet": bag(-s.tax)})
            refund = {"id": f"gid://shopify/Refund/{rid}", "legacyResourceId": str(rid), "createdAt": at,
                      "processedAt": at, "updatedAt": at, "note": e.note, "totalRefundedSet": bag(amount),
                      "refundLineItems": rli, "refundShippingLines": rsl, "transactions": [tx]}
            refunds.append(refund)
            agreements.append({"__typename": "RefundAgreement", "id": f"gid://shopify/SalesAgreement/{ag_id}",
                               "happenedAt": at, "reason": "REFUND", "refund": {"id": refund["id"]},
                               "sales": sales})

        now_ok = sim.created + timedelta(days=2) < self._cutoff
        if sim.cancelled_at is not None:
            fulfillment = "UNFULFILLED"
        elif p.source == "pos" or (now_ok and any(ln.kind == "product" for ln in sim.lines)):
            fulfillment = "FULFILLED"
        else:
            fulfillment = "UNFULFILLED"
        if refunded == 0:
            financial = "PAID"
        elif refunded >= total:
            financial = "REFUNDED"
        else:
            financial = "PARTIALLY_REFUNDED"
        closed_at = sim.cancelled_at or (sim.created + timedelta(days=2) if fulfillment == "FULFILLED" and now_ok
                                         else None)
        if closed_at is not None and closed_at >= self._cutoff:
            closed_at = None
        updated = max([e.at for e in sim.events] + ([closed_at] if closed_at else []))

        customer = None
        address = None
        email = None
        if p.customer is not None:
            base = self._customer_base(p.customer)
            customer = {"id": base["id"], "email": base["email"], "firstName": base["firstName"],
                        "lastName": base["lastName"], "numberOfOrders": str(self._count(p.customer)),
                        "createdAt": base["createdAt"]}
            address = base["address"]
            email = base["email"]
        else:
            h = _digest("guest", spec.seed, seq)
            city, prov, code, zipc = _ADDRESSES[self.country][h[0] % len(_ADDRESSES[self.country])]
            address = {"firstName": _FIRST[h[1] % len(_FIRST)], "lastName": _LAST[h[2] % len(_LAST)],
                       "address1": f"{h[3] % 90 + 1} High Street", "city": city, "province": prov,
                       "provinceCode": code, "country": _COUNTRY_NAMES[self.country], "countryCodeV2": self.country,
                       "zip": zipc}
            email = f"guest{seq}@example.com"

        disc_apps = []
        if p.discount_code:
            disc_apps.append({"__typename": "DiscountCodeApplication", "code": p.discount_code, "index": 0,
                              "allocationMethod": "ACROSS", "targetSelection": "ALL", "targetType": "LINE_ITEM",
                              "value": {"__typename": "PricingPercentageValue", "percentage": float(p.discount_pct)}})
        tags = []
        if p.discount_code:
            tags.append("promo")
        if sim.returning:
            tags.append("returning-customer")
        journey = {"ready": True, "customerOrderIndex": sim.customer_order_index, "daysToConversion": 0,
                   "firstVisit": None, "lastVisit": None}
        if p.landing:
            h = _digest("visit", spec.seed, seq)
            days = h[0] % 4 if h[1] % 3 == 0 else 0
            utm = None
            if "utm_source=" in p.landing:
                q = dict(kv.split("=", 1) for kv in p.landing.split("?", 1)[1].split("&"))
                utm = {"source": q.get("utm_source"), "medium": q.get("utm_medium"),
                       "campaign": q.get("utm_campaign"), "content": None, "term": None}
            source = ("facebook" if p.referrer and "facebook" in p.referrer else
                      "instagram" if p.referrer and "instagram" in p.referrer else
                      "google" if p.referrer and "google" in p.referrer else "direct")
            visit = {"id": f"gid://shopify/CustomerVisit/{3_300_000_000 + seq}", "landingPage": p.landing,
                     "referrerUrl": p.referrer, "source": source, "utmParameters": utm,
                     "occurredAt": _iso(sim.created - timedelta(days=days, minutes=5 + h[2] % 50))}
            journey.update(daysToConversion=days, firstVisit=visit, lastVisit=dict(
                visit, id=f"gid://shopify/CustomerVisit/{3_400_000_000 + seq}",
                occurredAt=_iso(sim.created - timedelta(minutes=1 + h[3] % 4))))
        return {
            "id": f"gid://shopify/Order/{oid}",
            "legacyResourceId": str(oid),
            "name": f"#{1001 + seq}",
            "createdAt": created,
            "processedAt": created,
            "updatedAt": _iso(updated),
            "cancelledAt": _iso(sim.cancelled_at) if sim.cancelled_at else None,
            "cancelReason": p.cancel_reason if sim.cancelled_at else None,
            "closed": closed_at is not None,
            "closedAt": _iso(closed_at) if closed_at else None,
            "test": p.test,
            "currencyCode": cur,
            "presentmentCurrencyCode": pres,
            "taxesIncluded": incl,
            "email": email,
            "phone": None,
            "sourceName": p.source,
            "landingPageUrl": p.landing,
            "referrerUrl": p.referrer,
            "tags": tags,
            "note": None,
            "discountCodes": [p.discount_code] if p.discount_code else [],
            "discountCode": p.discount_code,
            "displayFinancialStatus": financial,
            "displayFulfillmentStatus": fulfillment,
            "customer": customer,
            "billingAddress": address,
            "shippingAddress": address if sim.shipping_display is not None else None,
            "subtotalPriceSet": bag(subtotal),
            "totalDiscountsSet": bag(discounts),
            "totalShippingPriceSet": bag(sim.shipping_display or ZERO),
            "totalTaxSet": bag(tax),
            "totalTipReceivedSet": bag(tip),
            "totalPriceSet": bag(total),
            "totalRefundedSet": bag(refunded),
            "currentSubtotalPriceSet": bag(subtotal - ret_sub),
            "currentTotalTaxSet": bag(tax - ret_tax),
            "currentTotalDiscountsSet": bag(discounts - ret_disc),
            "currentTotalPriceSet": bag(total - refunded),
            "totalOutstandingSet": bag(ZERO),
            "lineItems": line_items,
            "shippingLines": shipping_lines,
            "taxLines": taxlines(tax, self.tax_rate) if tax else [],
            "discountApplications": disc_apps,
            "customerJourneySummary": journey,
            "subtotalLineItemsQuantity": sum(ln.quantity for ln in products),
            "currentSubtotalLineItemsQuantity": sum(ln.quantity - ln.returned for ln in products),
            "paymentGatewayNames": [gateway],
            "totalRefundedShippingSet": bag(-sum((s.total - s.tax for s in returned_sales
                                                  if s.line_type == "SHIPPING"), ZERO)),
            "requiresShipping": sim.shipping_display is not None,
            "fullyPaid": True,
            "unpaid": False,
            "confirmed": True,
            "edited": any(e.kind == "edit" for e in sim.events),
            "transactions": transactions,
            "refunds": refunds,
            "agreements": agreements,
        }


def build_store(spec: StoreSpec, script: Sequence[PlannedOrder] | None = None) -> Store:
    """The store of `spec`. With `script`, its orders are exactly those planned orders (for hand-checked tests)."""
    return Store(spec, script)
