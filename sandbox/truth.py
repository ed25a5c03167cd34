"""Expected report figures of a simulated store, from what the generator decided happened (its `SimEvent`s).

Shopify's sales report definitions, per shop-local day (the shop's IANA timezone):

- a sale counts on the day of the order; refunds, returns and cancellations count as reversals on THEIR own day
  (a cancelled order is a sale on its day and an equal reversal on the cancel day);
- test orders are excluded; gift cards sold are not sales (they are liabilities); tips are not in total sales;
- gross sales = product prices x quantities, before discounts, excluding tax (tax-included prices are net of tax);
- discounts = product discounts before tax, on the day of the sale;
- returns = value of returned/cancelled product units net of their discounts, before tax (a positive number; the
  "net returns" of ShopifyQL: gross returns less discounts returned);
- net sales = gross - discounts - returns; shipping = shipping charged less shipping refunded, excluding tax;
- taxes = taxes charged less taxes refunded; duties and additional fees are never simulated (always 0);
- total sales = net + shipping + taxes + duties + additional fees; orders = non-test orders placed that day.

Amounts are Decimal in shop currency with 2 dp. Signs: discounts and returns are positive amounts subtracted.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from weakref import WeakKeyDictionary

from sandbox.simulation import MAX_EVENT_LAG_DAYS, SimSale
from sandbox.store import Store

ZERO = Decimal("0.00")
AMOUNT_KEYS = ("gross_sales", "discounts", "returns", "net_sales", "shipping", "taxes", "duties",
               "additional_fees", "total_sales")
KEYS = ("date", "orders", *AMOUNT_KEYS)


def _empty(day: date) -> dict:
    row: dict = {"date": day.isoformat(), "orders": 0}
    for k in AMOUNT_KEYS:
        row[k] = ZERO
    return row


def apply_sale(row: dict, sale: SimSale) -> None:
    """Add one simulated sale to a day's row, by the report definitions above."""
    if sale.line_type == "PRODUCT":
        if sale.action == "RETURN":
            row["returns"] += -(sale.gross - sale.disc)
        else:
            row["gross_sales"] += sale.gross
            row["discounts"] += sale.disc
        row["taxes"] += sale.tax
    elif sale.line_type == "SHIPPING":
        row["shipping"] += sale.gross - sale.disc
        row["taxes"] += sale.tax
    elif sale.line_type == "DUTY":
        row["duties"] += sale.gross - sale.disc
        row["taxes"] += sale.tax
    elif sale.line_type == "ADDITIONAL_FEE":
        row["additional_fees"] += sale.gross - sale.disc
        row["taxes"] += sale.tax
    # TIP and GIFT_CARD are not sales


def _finish(row: dict) -> dict:
    row["net_sales"] = row["gross_sales"] - row["discounts"] - row["returns"]
    row["total_sales"] = (row["net_sales"] + row["shipping"] + row["taxes"] + row["duties"]
                          + row["additional_fees"])
    return row


_EFFECTS: WeakKeyDictionary = WeakKeyDictionary()  # store -> {creation day: {event day: partial row}}


def _effects(store: Store, created: date) -> dict[date, dict]:
    """What the non-test orders created on `created` contribute to each day (cached per store and day)."""
    cache = _EFFECTS.setdefault(store, {})
    out = cache.get(created)
    if out is None:
        out = {}
        for sim in store.sim_day(created):
            if sim.test:
                continue
            for event in sim.events:
                row = out.get(event.local_date)
                if row is None:
                    row = out[event.local_date] = _empty(event.local_date)
                if event.kind == "order":
                    row["orders"] += 1
                for sale in event.sales:
                    apply_sale(row, sale)
        cache[created] = out
    return out


def daily_sales(store: Store, start: date, end: date) -> list[dict]:
    """One row per shop-local day in [start, end] (see the module docstring for the definitions)."""
    rows = {start + timedelta(days=i): _empty(start + timedelta(days=i)) for i in range((end - start).days + 1)}
    # events on [start, end] belong to orders created at most MAX_EVENT_LAG_DAYS earlier
    first = max(start - timedelta(days=MAX_EVENT_LAG_DAYS), store.spec.start)
    last = min(end, store.spec.end)
    d = first
    while d <= last:
        for day, part in _effects(store, d).items():
            row = rows.get(day)
            if row is not None:
                row["orders"] += part["orders"]
                for k in AMOUNT_KEYS:
                    row[k] += part[k]
        d += timedelta(days=1)
    return [_finish(rows[d]) for d in sorted(rows)]


def totals(store: Store, start: date, end: date) -> dict:
    """The same keys as `daily_sales`, summed over [start, end]; "date" is "start/end"."""
    out: dict = {"date": f"{start.isoformat()}/{end.isoformat()}", "orders": 0}
    for k in AMOUNT_KEYS:
        out[k] = ZERO
    for row in daily_sales(store, start, end):
        out["orders"] += row["orders"]
        for k in AMOUNT_KEYS:
            out[k] += row[k]
    return out
