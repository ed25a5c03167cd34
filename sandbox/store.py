"""A simulated shop: its catalog, customers, day plans, simulation and rendering put together."""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sandbox.catalog import LOCALE, THEMES, Catalog
from sandbox.customers import CUSTOMER_IDS, Customers
from sandbox.plans import DayPlanner, PlannedOrder
from sandbox.render import OrderRenderer
from sandbox.seeded import ZERO, id_offset, parse_iso
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
        self._order_times_cache: tuple[list[datetime], list[datetime]] | None = None
        self._placed_cache: tuple | None = None

    # ---------------------------------------------------------------- public API

    def iter_orders(self, start: date | None = None, end: date | None = None, *,
                    as_of: datetime | None = None) -> Iterator[dict]:
        """Orders created in [start, end] (shop-local dates), ascending createdAt, streamed day by day; with
        `as_of`, only those placed by then, as they stood then."""
        t = self._cutoff if as_of is None else min(as_of, self._cutoff)
        for sim in self.iter_sim(start, end, t):
            if sim.created > t:
                return
            yield self.render_order(sim, t)

    def orders_as_of(self, now: datetime) -> list[dict]:
        """The orders placed by `now` as they stood then: later refunds, edits, cancellations, fulfilment and
        closing are not there yet, nor orders the customer placed later. Unchanged orders come from `orders()`."""
        t = min(now, self._cutoff)
        created_at, settled_at = self._order_times()
        out, sims = [], {}
        for order, created, settled in zip(self.orders(), created_at, settled_at, strict=True):
            if created > t:
                break
            if settled > t:
                day = self._local_date(created)
                sims.setdefault(day, {s.seq: s for s in self.sim_day(day, t)})
                order = self.render_order(sims[day][order["number"] - 1001], t)
            elif t < self._cutoff and order["customer"]:
                count = str(self._count_as_of(self._customer_index(order["customer"]["id"]), t))
                if count != order["customer"]["numberOfOrders"]:
                    order = dict(order, customer=dict(order["customer"], numberOfOrders=count))
            out.append(order)
        return out

    def _order_times(self) -> tuple[list[datetime], list[datetime]]:
        """Per order of `orders()`: when it was placed, and when it last changed."""
        if self._order_times_cache is None:
            created = [parse_iso(o["createdAt"]) for o in self.orders()]
            # an order is fulfilled and closed two days after it was placed, if the history runs that long
            closing = [c + timedelta(days=2) if c + timedelta(days=2) < self._cutoff else c for c in created]
            settled = [max(parse_iso(o["updatedAt"]), c) for o, c in zip(self.orders(), closing, strict=True)]
            self._order_times_cache = (created, settled)
        return self._order_times_cache

    def _customer_index(self, gid: str) -> int:
        return int(gid.rsplit("/", 1)[1]) - CUSTOMER_IDS - self.id_offset

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
