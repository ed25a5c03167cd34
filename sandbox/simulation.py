"""What happened to each planned order: amounts, the sale, refunds, an edit, a cancellation (`SimOrder`).

Money is decided in shop currency (2 dp, ROUND_HALF_UP); tax-included shops show prices with tax in them.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sandbox.plans import PlannedOrder
from sandbox.seeded import USD_PER_UNIT, ZERO, q2

MAX_EVENT_LAG_DAYS = 45  # refunds/cancellations/edits happen at most this many days after the order
EDIT_NUMBER = 9  # event number of an order edit (refunds are numbered 1..8)


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


def line_amounts(unit: Decimal, qty: int, disc: Decimal, rate: Decimal, incl: bool):
    """(gross, pre-tax discount, tax, total) for a line; displayed prices include tax when `incl`."""
    shown = unit * qty
    if incl:
        total = shown - disc
        tax = q2(total * rate / (1 + rate))
        disc_pre = q2(disc / (1 + rate))
        return total - tax + disc_pre, disc_pre, tax, total
    tax = q2((shown - disc) * rate)
    return shown, disc, tax, shown - disc + tax


class Simulator:
    """Turns a day's plans into simulated orders (a part of `Store`)."""

    def _utc(self, local: datetime) -> datetime:
        return local.replace(tzinfo=self.tz).astimezone(UTC)

    def _local_date(self, at: datetime) -> date:
        return at.astimezone(self.tz).date()

    def sim_day(self, d: date, cutoff: datetime | None = None) -> list[SimOrder]:
        """What happened to the orders created on shop-local day `d` before `cutoff` (the store's end if None),
        ascending creation time."""
        plans = sorted(self._plan_day(d), key=lambda p: self._utc(p.at))
        first = self._first_seq(d)
        sims = [self._simulate(first + j, p, cutoff or self._cutoff) for j, p in enumerate(plans)]
        if any(p.customer is not None for p in plans):
            offset, seen = (d - self.spec.start).days, {}
            for sim in sims:
                c = sim.plan.customer
                if c is not None and not sim.test:
                    sim.customer_order_index = bisect_left(self._order_days()[c], offset) + seen.get(c, 0)
                    seen[c] = seen.get(c, 0) + 1
        return sims

    def iter_sim(self, start: date | None = None, end: date | None = None,
                 cutoff: datetime | None = None) -> Iterator[SimOrder]:
        start = max(start or self.spec.start, self.spec.start)
        end = min(end or self.spec.end, self.spec.end)
        d = start
        while d <= end:
            yield from self.sim_day(d, cutoff)
            d += timedelta(days=1)

    def _simulate(self, seq: int, p: PlannedOrder, cutoff: datetime) -> SimOrder:
        """The order of plan `p` with what happened to it before `cutoff`."""
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
            g, dp, t, tot = line_amounts(unit, ln.quantity, disc, rate, incl)
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
            if created < at < cutoff:
                ln = p.edit_add
                prod = self.products[ln.product]
                var = prod["variants"][ln.variant]
                unit = ln.unit_price if ln.unit_price is not None else Decimal(var["price"])
                g, dp, t, tot = line_amounts(unit, ln.quantity, ZERO, rate, incl)
                added = SimLine(len(lines), "product", prod, var, prod["title"],
                                None if var["title"] == "Default Title" else var["title"], var["sku"],
                                ln.quantity, unit, ZERO, rate, g, dp, t, tot)
                lines.append(added)
                sim.events.append(SimEvent("edit", at, self._local_date(at), [
                    SimSale("PRODUCT", "ORDER", added.index, ln.quantity, g, dp, t, tot, ZERO)], EDIT_NUMBER,
                    "Added an item"))
        if p.cancel_at is not None:
            at = self._utc(p.cancel_at)
            if at < cutoff:
                sim.cancelled_at = at
                ev = self._reversal(sim, [(ln.index, ln.quantity - ln.returned) for ln in lines], True, at, 1,
                                    "cancel", "Order cancelled")
                sim.events.append(ev)
        else:
            for n, r in enumerate(p.refunds, start=1):
                at = self._utc(r.at)
                if at >= cutoff or at <= created:
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

