"""What shoppers did, day by day, before any money is computed: `PlannedOrder`s from a per-day seed."""

from __future__ import annotations

import math
import random
from array import array
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sandbox.seeded import ZERO, hex_string, q2


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


def poisson(rng: random.Random, lam: float) -> int:
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


class DayPlanner:
    """How many orders each day holds, whose they are, and what they contain (a part of `Store`)."""

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
        n = poisson(rng, self._rate(d))
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

    def _count_as_of(self, customer: int, t: datetime) -> int:
        """The customer's non-test orders placed by `t`."""
        if t >= self._cutoff:
            return len(self._order_days()[customer])
        day, placed_that_day = self._placed_on_day_by(t)
        return bisect_left(self._order_days()[customer], (day - self.spec.start).days) + placed_that_day[customer]

    def _counts_as_of(self, t: datetime) -> list[int]:
        """Every customer's non-test orders placed by `t`."""
        if t >= self._cutoff:
            return self._counts()
        day, placed_that_day = self._placed_on_day_by(t)
        offset = (day - self.spec.start).days
        return [bisect_left(days, offset) + placed_that_day[c] for c, days in enumerate(self._order_days())]

    def _placed_on_day_by(self, t: datetime) -> tuple[date, Counter]:
        """(the shop-local day of `t`, per customer its non-test orders of that day placed by `t`), kept for `t`."""
        cached = self._placed_cache
        if cached is None or cached[0] != t:
            day = self._local_date(t)
            placed = Counter(p.customer for p in self._plan_day(day)
                             if p.customer is not None and not p.test and self._utc(p.at) <= t)
            cached = self._placed_cache = (t, day, placed)
        return cached[1], cached[2]

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
                           f"&utm_campaign=prospecting&fbclid={hex_string(16, 'fbclid', spec.seed, at)}")
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

