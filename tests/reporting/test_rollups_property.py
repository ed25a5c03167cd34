"""Property: whatever sequence of loads reaches the warehouse, the incremental rollups equal a full rebuild.

Random sequences of order placements (their two bulk parts landed in either order, apart or together),
replays, edits, refunds, cancellations, test flags, customer changes, orders/delete webhooks and Meta
pages go through the project's own load functions (sync.load_lines with lines shaped like the bulk files,
webhooks.delete_order, meta upsert_page), sometimes several in one transaction. One database, reset
between examples.
"""

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from database import session_scope
from ingest import fx
from ingest.meta import load as meta_load
from ingest.shopify import sync, webhooks
from tests.reporting.test_rollups import SALES, all_rollups, rebuilt
from tests.reporting.test_speed_structures import (
    kept_meta,
    kept_sales,
    kept_weeks,
    plain_meta,
    plain_sales,
    plain_weeks,
)

START = datetime(2026, 3, 7, 0, tzinfo=UTC)  # New York springs forward on 8 March
TABLES = ("core_warehouse.orders", "core_warehouse.order_line_items", "core_warehouse.order_agreements",
          "core_warehouse.order_sales", "core_warehouse.fact_marketing_daily",
          "core_warehouse.fact_marketing_campaign_daily", "core_warehouse.customers", "reporting.daily_sales",
          "reporting.daily_products", "reporting.monthly_products", "reporting.customer_facts",
          "reporting.customer_days",
          "reporting.daily_marketing", "reporting.daily_campaigns", "reporting.monthly_campaigns",
          "reporting.daily_sales_converted", "reporting.weekly_products",
          "staging_ingest.load_batches", "staging_ingest.shopify_lines")


def money(amount: Decimal) -> dict:
    return {"shopMoney": {"amount": str(amount), "currencyCode": "USD"}}


@dataclass
class Order:
    """What the test knows of one simulated order: enough to write its bulk lines again."""

    number: int
    placed: datetime
    customer: str | None
    test: bool = False
    version: int = 0
    cancelled: datetime | None = None
    lines: list[tuple[str, int, Decimal]] = field(default_factory=list)  # (line item id, quantity, unit price)
    agreements: list[dict] = field(default_factory=list)  # {"id", "at", "sales": [(line id, action, qty)]}

    @property
    def gid(self) -> str:
        return f"gid://shopify/Order/{self.number}"

    @property
    def updated(self) -> datetime:
        return self.placed + timedelta(minutes=self.version)

    def order_lines(self) -> list[dict]:
        """The orders part: the order and its line items."""
        order = {"__typename": "Order", "id": self.gid, "legacyResourceId": str(self.number),
                 "createdAt": iso(self.placed), "updatedAt": iso(self.updated), "test": self.test,
                 "cancelledAt": iso(self.cancelled) if self.cancelled else None, "currencyCode": "USD",
                 "customer": {"id": self.customer} if self.customer else None}
        items = [{"__typename": "LineItem", "id": li, "__parentId": self.gid, "quantity": qty,
                  "title": f"Product {li[-1]}", "product": {"id": f"gid://shopify/Product/{li[-1]}"},
                  "variant": {"id": f"gid://shopify/ProductVariant/{li[-1]}"}} for li, qty, _ in self.lines]
        return [order, *items]

    def sales_lines(self) -> list[dict]:
        """The order_sales part: the order's id, its agreements and their sales."""
        out = [{"__typename": "Order", "id": self.gid, "updatedAt": iso(self.updated)}]
        prices = {li: price for li, _, price in self.lines}
        for agreement in self.agreements:
            out.append({"__typename": "OrderAgreement", "id": agreement["id"], "__parentId": self.gid,
                        "happenedAt": iso(agreement["at"])})
            for n, (li, action, qty) in enumerate(agreement["sales"]):
                gross = prices[li] * qty
                tax = (gross * Decimal("0.1")).quantize(Decimal("0.01"))
                out.append({"__typename": "ProductSale", "id": f"{agreement['id']}-{n}", "__parentId": agreement["id"],
                            "actionType": action, "lineType": "PRODUCT", "quantity": qty, "lineItem": {"id": li},
                            "totalAmount": money(gross + tax), "totalTaxAmount": money(tax),
                            "totalDiscountAmountBeforeTaxes": money(Decimal("0.00"))})
        return out

    def remaining(self, li: str) -> int:
        return sum(q for a in self.agreements for line, _, q in a["sales"] if line == li)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


ORDER_NO = st.integers(1, 3)
MOMENT = st.integers(0, 5 * 24 - 1).map(lambda h: START + timedelta(hours=h))
CUSTOMER = st.sampled_from(["gid://shopify/Customer/1", "gid://shopify/Customer/2", None])
PLACE = st.tuples(st.just("place"), ORDER_NO, MOMENT, CUSTOMER, st.integers(1, 3),
                  st.sampled_from(["9.99", "25.00"]), st.sampled_from(["together", "orders first", "sales first"]))
OPERATIONS = st.one_of(
    PLACE,
    st.tuples(st.just("replay"), ORDER_NO),
    st.tuples(st.just("edit"), ORDER_NO, st.integers(1, 60), st.integers(1, 2)),
    st.tuples(st.just("refund"), ORDER_NO, st.integers(1, 60)),
    st.tuples(st.just("cancel"), ORDER_NO, st.integers(1, 60)),
    st.tuples(st.just("test"), ORDER_NO),
    st.tuples(st.just("customer"), ORDER_NO, CUSTOMER),
    st.tuples(st.just("delete"), ORDER_NO),
    st.tuples(st.just("spend"), st.integers(0, 4), st.sampled_from(["0", "12.50", "40.00"])),
)
STEP = st.tuples(OPERATIONS, st.booleans())  # (operation, in the same transaction as the one before)


class Simulation:
    """Applies operations to the warehouse through the project's loaders, keeping what it needs to go on."""

    def __init__(self, sessions, shop_id: int, domain: str):
        self.sessions, self.shop_id, self.domain = sessions, shop_id, domain
        self.orders: dict[int, Order] = {}
        self.synced = START

    def load(self, session, lines: list[dict], parts: list[str]) -> None:
        encoded = [json.dumps(line).encode() for line in lines]
        sync.load_lines(session=session, shop_id=self.shop_id, job_id=None, origin="property", parts=parts,
                        lines=encoded)

    def apply(self, session, operation: tuple) -> None:
        kind, *args = operation
        if kind == "spend":
            self.spend(session, *args)
            return
        order = self.orders.get(args[0])
        if kind == "place":
            if order is None:
                self.place(session, *args)
            return
        if order is None:
            return
        if kind == "replay":
            self.load(session, order.order_lines() + order.sales_lines(), ["orders", "order_sales"])
        elif kind == "delete":
            # What an orders/delete webhook does to the warehouse once Shopify confirms the order is gone.
            webhooks.soft_delete_order(session=session, shop_id=self.shop_id,
                                       order_id=f"gid://shopify/Order/{order.number}", at=order.updated)
        else:
            getattr(self, kind)(session, order, *args[1:])
            order.version += 1
            self.load(session, order.order_lines() + order.sales_lines(), ["orders", "order_sales"])

    def place(self, session, number, at, customer, qty, price, how) -> None:
        order = self.orders[number] = Order(number, at, customer)
        li = f"gid://shopify/LineItem/{number}1"
        order.lines.append((li, qty, Decimal(price)))
        order.agreements.append({"id": f"gid://shopify/OrderAgreement/{number}0", "at": at,
                                 "sales": [(li, "ORDER", qty)]})
        parts = {"orders": order.order_lines(), "order_sales": order.sales_lines()}
        if how == "together":
            self.load(session, parts["orders"] + parts["order_sales"], ["orders", "order_sales"])
            return
        first, second = ("orders", "order_sales") if how == "orders first" else ("order_sales", "orders")
        self.load(session, parts[first], [first])
        session.commit()  # the other part comes in its own transaction
        self.load(session, parts[second], [second])

    def later(self, order: Order, minutes: int) -> datetime:
        return max(a["at"] for a in order.agreements) + timedelta(minutes=minutes * 97)

    def edit(self, session, order: Order, minutes: int, qty: int) -> None:
        li = f"gid://shopify/LineItem/{order.number}{len(order.lines) + 1}"
        order.lines.append((li, qty, Decimal("5.00")))
        order.agreements.append({"id": f"gid://shopify/OrderEditAgreement/{order.number}{len(order.agreements)}",
                                 "at": self.later(order, minutes), "sales": [(li, "ORDER", qty)]})

    def refund(self, session, order: Order, minutes: int) -> None:
        li, _, _ = order.lines[0]
        if order.remaining(li) > 0:
            order.agreements.append({"id": f"gid://shopify/RefundAgreement/{order.number}{len(order.agreements)}",
                                     "at": self.later(order, minutes), "sales": [(li, "RETURN", -1)]})

    def cancel(self, session, order: Order, minutes: int) -> None:
        if order.cancelled:
            return
        order.cancelled = self.later(order, minutes)
        returns = [(li, "RETURN", -order.remaining(li)) for li, _, _ in order.lines if order.remaining(li) > 0]
        order.agreements.append({"id": f"gid://shopify/RefundAgreement/{order.number}{len(order.agreements)}",
                                 "at": order.cancelled, "sales": returns})

    def test(self, session, order: Order) -> None:
        order.test = not order.test

    def customer(self, session, order: Order, customer: str | None) -> None:
        order.customer = customer

    def spend(self, session, day: int, amount: str) -> None:
        self.synced += timedelta(seconds=1)
        date_start = (START + timedelta(days=day)).date().isoformat()
        row = {"date_start": date_start, "spend": amount, "impressions": "100", "clicks": "3",
               "account_currency": "USD"}
        for level, extra in (("account", {}), ("campaign", {"campaign_id": "7", "campaign_name": "Broad"})):
            meta_load.upsert_page(session=session, shop_id=self.shop_id, account_id="act_1", level=level,
                                  rows=[row | extra], currency="USD", synced_at=self.synced)


def months_of(daily: list[dict]) -> list[dict]:
    """The daily product rows summed per calendar month, as reporting.monthly_products holds them."""
    months: dict[tuple, dict] = {}
    for row in daily:
        key = (row["shop_id"], row["day"].replace(day=1), row["product_id"], row["variant_id"])
        month = months.setdefault(key, dict(zip(("shop_id", "month", "product_id", "variant_id"), key, strict=True),
                                             product_title=None, variant_title=None, sku=None, units_sold=0,
                                             units_returned=0, net_sales=Decimal("0.00"),
                                             net_sales_gains=Decimal("0.00"), net_sales_losses=Decimal("0.00")))
        for title in ("product_title", "variant_title", "sku"):
            month[title] = max((t for t in (month[title], row[title]) if t is not None), default=None)
        for total in ("units_sold", "units_returned", "net_sales"):
            month[total] += row[total]
        month["net_sales_gains"] += max(row["net_sales"], 0)
        month["net_sales_losses"] += min(row["net_sales"], 0)
    return sorted(months.values(), key=lambda m: (m["month"], m["product_id"], m["variant_id"],
                                                  m["product_title"] or ""))


def counted_days(customers: list[dict]) -> list[dict]:
    """reporting.customer_days as its definition: per day, the customers whose first (last) order fell on it."""
    days: dict = {}
    for c in customers:
        for side, day in (("firsts", c["first_order_day"]), ("lasts", c["last_order_day"])):
            row = days.setdefault((c["shop_id"], day), {"shop_id": c["shop_id"], "day": day, "firsts": 0,
                                                         "firsts_repeat": 0, "lasts": 0, "lasts_repeat": 0})
            row[side] += 1
            row[f"{side}_repeat"] += c["orders"] >= 2
    return [days[key] for key in sorted(days)]


def reset(sessions) -> None:
    with session_scope(sessions) as session:
        session.execute(text(f"TRUNCATE {', '.join(TABLES)} CASCADE"))


def sales_days(rows) -> dict:
    """Days with something in them, as Shopify's report columns."""
    out = {}
    for row in rows:
        values = {k: row[k] for k in SALES}
        if any(values.values()):
            out[row["day"]] = values
    return out


def warehouse_view(sessions, shop_id: int) -> dict:
    """core_warehouse.shop_daily_sales: the warehouse's own rebuild of Shopify's report, computed apart."""
    with session_scope(sessions) as session:
        return sales_days(session.execute(text("SELECT * FROM core_warehouse.shop_daily_sales WHERE shop_id = :s"),
                                          {"s": shop_id}).mappings().all())


@pytest.fixture
def shop(make_shop, scheduler_sessions) -> tuple[int, str]:
    # All stores in euros, the USD store's days converted at rates with a gap (some days estimated).
    with session_scope(scheduler_sessions) as session:
        fx.load(session=session, content="Date,USD,\n2026-03-06,1.0800,\n2026-03-09,1.0900,\n2026-03-12,1.1000,\n")
        session.execute(text("UPDATE app_dashboard.agency_settings SET reporting_currency = 'EUR'"))
    domain = "property.myshopify.com"
    return make_shop(domain=domain, currency="USD", timezone="America/New_York"), domain


def campaign_months(sessions, shop_id: int, source: str) -> list[dict]:
    """Each campaign's months as reporting.monthly_campaigns keeps them, or summed from the daily view."""
    daily = source == "reporting.campaign_daily"
    money = ("CASE WHEN bool_and(fx_rate IS NOT NULL) THEN sum({0} * fx_rate) END" if daily
             else "sum({0}_reporting)")
    with session_scope(sessions) as session:
        return [dict(row) for row in session.execute(text(f"""
            SELECT date_trunc('month', {"day" if daily else "month"})::date AS month, account_id, campaign_id,
                   max(campaign_name) AS campaign_name, sum(impressions) AS impressions, sum(clicks) AS clicks,
                   sum(purchases) AS purchases, {money.format("spend")} AS spend,
                   {money.format("purchase_value")} AS purchase_value, bool_or(fx_estimated) AS fx_estimated
            FROM {source} WHERE shop_id = :s GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"""), {"s": shop_id}).mappings()]


def converted_months(sessions, shop_id: int) -> list[dict]:
    """The store's daily product rows converted day by day and summed per month (the views' own rates)."""
    with session_scope(sessions) as session:
        return [dict(row) for row in session.execute(text("""
            SELECT date_trunc('month', day)::date AS month, product_id, variant_id,
                   CASE WHEN bool_and(fx_rate IS NOT NULL) THEN sum(net_sales * fx_rate) END AS net_sales_reporting,
                   bool_or(fx_estimated) AS fx_estimated
            FROM reporting.product_daily WHERE shop_id = :s GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"""),
            {"s": shop_id}).mappings()]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.tuples(st.lists(st.tuples(PLACE, st.booleans()), min_size=1, max_size=4),
                      st.lists(STEP, max_size=12)).map(lambda parts: parts[0] + parts[1]))
# An order deleted by webhook alone (no other row loaded) after a refund on a later day, and a customer who
# places an earlier order after a later one was loaded: the cases a day-only bookkeeping would miss.
@example(steps=[(("place", 1, START + timedelta(hours=30), None, 2, "25.00", "sales first"), False),
                (("refund", 1, 30), False), (("delete", 1), False)])
@example(steps=[(("place", 1, START + timedelta(hours=90), "gid://shopify/Customer/1", 1, "9.99", "together"), False),
                (("place", 2, START + timedelta(hours=5), "gid://shopify/Customer/1", 1, "25.00", "orders first"),
                 False)])
def test_incremental_rollups_equal_a_full_rebuild(scheduler_sessions, shop, steps):
    shop_id, domain = shop
    reset(scheduler_sessions)
    simulation = Simulation(scheduler_sessions, shop_id, domain)
    session = scheduler_sessions()
    try:
        for n, (operation, together) in enumerate(steps):
            if n and not together:
                session.commit()
            simulation.apply(session, operation)
        session.commit()
    finally:
        session.close()
    incremental = all_rollups(scheduler_sessions, shop_id)
    assert sales_days(incremental["daily_sales"]) == warehouse_view(scheduler_sessions, shop_id)
    converted = ("net_sales_reporting", "fx_estimated")
    assert [{k: v for k, v in m.items() if k not in converted} for m in incremental["monthly_products"]] == \
        months_of(incremental["daily_products"])
    assert sorted(({"month": m["month"], "product_id": m["product_id"], "variant_id": m["variant_id"]}
                   | {k: m[k] for k in converted} for m in incremental["monthly_products"]),
                  key=lambda m: (m["month"], m["product_id"], m["variant_id"])) == \
        converted_months(scheduler_sessions, shop_id)
    assert campaign_months(scheduler_sessions, shop_id, "reporting.monthly_campaigns") == \
        campaign_months(scheduler_sessions, shop_id, "reporting.campaign_daily")
    assert incremental["customer_days"] == counted_days(incremental["customer_facts"])
    # Migration 0017's kept conversions: each store-day's sales and each Meta row's rates as reporting.fx gives them,
    # and the weeks of the month summed and converted from the daily rows.
    assert kept_sales(scheduler_sessions) == plain_sales(scheduler_sessions)
    assert kept_weeks(scheduler_sessions) == plain_weeks(scheduler_sessions)
    for table in ("daily_marketing", "daily_campaigns"):
        assert kept_meta(scheduler_sessions, table) == plain_meta(scheduler_sessions, table)
    assert rebuilt(scheduler_sessions, shop_id) == incremental
