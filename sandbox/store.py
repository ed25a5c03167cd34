"""A simulated shop: its catalog, customers, day plans, simulation and rendering put together."""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sandbox.catalog import LOCALE, THEMES, Catalog
from sandbox.customers import Customers
from sandbox.plans import DayPlanner, PlannedOrder
from sandbox.render import OrderRenderer
from sandbox.seeded import ZERO, id_offset
from sandbox.simulation import Simulator
from sandbox.specs import TEMPLATES, StoreSpec


class Store(Catalog, Customers, DayPlanner, Simulator, OrderRenderer):
    """A simulated shop (see `sandbox.generator`); `iter_orders` streams, `orders()` materialises."""

    def __init__(self, spec: StoreSpec, script: Sequence[PlannedOrder] | None = None):
        self.spec = spec
        self.tz = ZoneInfo(spec.iana_timezone)
        self.id_offset = id_offset(spec.seed)
        country, rate, tax_title, ship_std, ship_exp, free_over = LOCALE.get(spec.currency, LOCALE["USD"])
        self.country = country
        self.tax_rate = spec.tax_rate if spec.tax_rate is not None else rate
        self.tax_title = tax_title
        self.ship_std, self.ship_exp = ship_std, ship_exp
        self.free_shipping_over = free_over
        theme = next((t[8] for t in TEMPLATES if spec.domain.startswith(t[0])), None)
        self.theme = theme or sorted(THEMES)[spec.seed % len(THEMES)]
        palette, colours, templates = THEMES[self.theme]
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



def build_store(spec: StoreSpec, script: Sequence[PlannedOrder] | None = None) -> Store:
    """The store of `spec`. With `script`, its orders are exactly those planned orders (for hand-checked tests)."""
    return Store(spec, script)
