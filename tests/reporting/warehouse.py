"""Minimal warehouse rows for the reporting tests, written as the scheduler writes them (triggers and all)."""

import json
from datetime import datetime
from decimal import Decimal

from sqlalchemy import text

from database import session_scope


def add_order(sessions, shop_id: int, order_id: str, at: datetime, *, gross: str, tax: str = "0.00",
              customer: str | None = None) -> None:
    """An order placed at `at` with one product sale of `gross` (no discount) and its tax."""
    total = Decimal(gross) + Decimal(tax)
    with session_scope(sessions) as session:
        session.execute(text(
            "INSERT INTO core_warehouse.orders (shop_id, order_id, created_at, updated_at, customer_id, raw) "
            "VALUES (:s, :o, :at, :at, :c, '{}')"), {"s": shop_id, "o": order_id, "at": at, "c": customer})
        session.execute(text(
            "INSERT INTO core_warehouse.order_agreements (shop_id, agreement_id, order_id, happened_at, raw) "
            "VALUES (:s, :o || '-a', :o, :at, '{}')"), {"s": shop_id, "o": order_id, "at": at})
        session.execute(text(
            "INSERT INTO core_warehouse.order_sales (shop_id, sale_id, agreement_id, action_type, line_type, "
            "quantity, total_amount_shop, tax_shop, raw) "
            "VALUES (:s, :o || '-s', :o || '-a', 'ORDER', 'PRODUCT', 1, :total, :tax, '{}')"),
            {"s": shop_id, "o": order_id, "total": total, "tax": Decimal(tax)})


def add_customers(sessions, shop: int, orders: list[tuple[str, datetime, str]]) -> None:
    """Orders of (customer, when, gross), each its own order with one product sale, in one transaction."""
    rows = [{"s": shop, "o": f"{customer}-{n}", "c": customer, "at": at, "total": Decimal(gross)}
            for n, (customer, at, gross) in enumerate(orders)]
    with session_scope(sessions) as session:
        session.execute(text("INSERT INTO core_warehouse.orders (shop_id, order_id, created_at, updated_at, "
                             "customer_id, raw) VALUES (:s, :o, :at, :at, :c, '{}')"), rows)
        session.execute(text("INSERT INTO core_warehouse.order_agreements (shop_id, agreement_id, order_id, "
                             "happened_at, raw) VALUES (:s, :o || '-a', :o, :at, '{}')"), rows)
        session.execute(text("INSERT INTO core_warehouse.order_sales (shop_id, sale_id, agreement_id, action_type, "
                             "line_type, quantity, total_amount_shop, tax_shop, raw) VALUES (:s, :o || '-s', "
                             ":o || '-a', 'ORDER', 'PRODUCT', 1, :total, 0, '{}')"), rows)


def add_spend(sessions, shop_id: int, day: str, *, spend: str, currency: str, purchase_value: str = "0",
              account: str = "act_1", campaign: str = "c1") -> None:
    """A day of Meta spend, at account and campaign level."""
    row = {"s": shop_id, "a": account, "c": campaign, "d": day, "cur": currency, "spend": Decimal(spend),
           "pv": Decimal(purchase_value), "raw": json.dumps({"spend": spend})}
    with session_scope(sessions) as session:
        session.execute(text(
            "INSERT INTO core_warehouse.fact_marketing_daily (shop_id, account_id, date, currency, spend, "
            "impressions, clicks, purchases, purchase_value, raw) "
            "VALUES (:s, :a, :d, :cur, :spend, 1000, 10, 1, :pv, :raw)"), row)
        session.execute(text(
            "INSERT INTO core_warehouse.fact_marketing_campaign_daily (shop_id, account_id, campaign_id, date, "
            "campaign_name, currency, spend, impressions, clicks, purchases, purchase_value, raw) "
            "VALUES (:s, :a, :c, :d, 'Prospecting', :cur, :spend, 1000, 10, 1, :pv, :raw)"), row)


def add_rates(sessions, day: str, **per_euro: str) -> None:
    with session_scope(sessions) as session:
        for quote, rate in per_euro.items():
            session.execute(text("INSERT INTO reporting.fx_rates (day, base, quote, rate) "
                                 "VALUES (:d, 'EUR', :q, :r)"), {"d": day, "q": quote, "r": Decimal(rate)})


def set_reporting_currency(sessions, currency: str) -> None:
    """The agency's reporting currency (All stores' money), as Settings sets it."""
    with session_scope(sessions) as session:
        session.execute(text("UPDATE app_dashboard.agency_settings SET reporting_currency = :c"), {"c": currency})


def fetch(sessions, sql: str, **params) -> list:
    """All rows of a query, as mappings, in a transaction of its own."""
    with session_scope(sessions) as session:
        return [dict(r) for r in session.execute(text(sql), params).mappings()]
