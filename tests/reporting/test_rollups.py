"""Rollups kept current by every load: equal to the sandbox's truth per day, and to a full rebuild."""

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import text

import settings
from database import session_scope
from ingest import rollups
from tests.ingest.shopify.conftest import run_job, truth_days
from tests.reporting.warehouse import add_order

SALES = ("orders", "gross_sales", "discounts", "returns", "net_sales", "shipping", "taxes", "duties",
         "additional_fees", "total_sales")


def rollup_rows(sessions, table: str, shop_id: int) -> list[dict]:
    """Every row of a rollup table for the shop, in key order, without the shop."""
    with session_scope(sessions) as session:
        rows = session.execute(text(f"SELECT * FROM reporting.{table} WHERE shop_id = :s ORDER BY 2, 3, 4, 5"),
                               {"s": shop_id}).mappings().all()
    return [dict(r) for r in rows]


def rollup_days(sessions, shop_id: int) -> dict[str, dict]:
    """The daily sales rollup in the truth's shape: amounts as strings, only days with something."""
    out = {}
    for row in rollup_rows(sessions, "daily_sales", shop_id):
        values = {k: (row[k] if k == "orders" else str(row[k])) for k in SALES}
        if values["orders"] or any(v != "0.00" for k, v in values.items() if k != "orders"):
            out[row["day"].isoformat()] = values
    return out


def all_rollups(sessions, shop_id: int) -> dict[str, list[dict]]:
    return {t: rollup_rows(sessions, t, shop_id)
            for t in ("daily_sales", "daily_products", "monthly_products", "customer_facts", "customer_days",
                      "daily_marketing", "daily_campaigns")}


def rebuilt(sessions, shop_id: int) -> dict[str, list[dict]]:
    with session_scope(sessions) as session:
        rollups.rebuild(session=session, shop_id=shop_id)
    return all_rollups(sessions, shop_id)


def test_a_backfill_leaves_rollups_equal_to_the_truth_and_to_a_rebuild(scheduler_sessions, worker, shop_id, store):
    run_job(scheduler_sessions, worker, shop_id, "HISTORICAL_INIT")
    assert rollup_days(scheduler_sessions, shop_id) == truth_days(store)
    incremental = all_rollups(scheduler_sessions, shop_id)
    assert incremental["daily_products"] and incremental["customer_facts"] and incremental["monthly_products"]
    assert rebuilt(scheduler_sessions, shop_id) == incremental
    with session_scope(scheduler_sessions) as session:
        left = session.execute(text(
            "SELECT (SELECT count(*) FROM reporting.rollup_dirty_days)"
            " + (SELECT count(*) FROM reporting.rollup_pending)"
            " + (SELECT count(*) FROM reporting.rollup_sales_days)"
            " + (SELECT count(*) FROM reporting.rollup_delta_days)"
            " + (SELECT count(*) FROM reporting.rollup_customer_deltas)")).scalar_one()
    assert left == 0  # the bookkeeping leaves nothing behind


def test_rollups_add_up_to_the_warehouse(scheduler_sessions, worker, shop_id, store):
    run_job(scheduler_sessions, worker, shop_id, "HISTORICAL_INIT")
    with session_scope(scheduler_sessions) as session:
        check = session.execute(text("""
            SELECT (SELECT sum(net_sales) FROM reporting.daily_products WHERE shop_id = :s)
                   = (SELECT sum(net_sales) FROM reporting.daily_sales WHERE shop_id = :s) AS products,
                   (SELECT sum(net_sales) FROM reporting.customer_facts WHERE shop_id = :s)
                   = (SELECT sum(new_customer_net_sales + returning_customer_net_sales)
                      FROM reporting.daily_sales WHERE shop_id = :s) AS customers,
                   (SELECT sum(new_customers) FROM reporting.daily_sales WHERE shop_id = :s)
                   = (SELECT count(*) FROM reporting.customer_facts WHERE shop_id = :s) AS new_customers,
                   NOT EXISTS (SELECT shop_id, date_trunc('month', day)::date, product_id, variant_id,
                                      sum(units_sold), sum(units_returned), sum(net_sales),
                                      sum(greatest(net_sales, 0)), sum(least(net_sales, 0))
                               FROM reporting.daily_products WHERE shop_id = :s GROUP BY 1, 2, 3, 4
                               EXCEPT SELECT shop_id, month, product_id, variant_id, units_sold, units_returned,
                                             net_sales, net_sales_gains, net_sales_losses
                               FROM reporting.monthly_products WHERE shop_id = :s)
                   AND (SELECT count(*) FROM reporting.monthly_products WHERE shop_id = :s)
                       = (SELECT count(DISTINCT (date_trunc('month', day), product_id, variant_id))
                          FROM reporting.daily_products WHERE shop_id = :s) AS months,
                   (SELECT sum(orders) FROM reporting.customer_facts WHERE shop_id = :s)
                   = (SELECT sum(new_customer_orders + returning_customer_orders)
                      FROM reporting.daily_sales WHERE shop_id = :s) AS orders
        """), {"s": shop_id}).mappings().one()
    assert dict(check) == {"products": True, "months": True, "customers": True, "new_customers": True,
                           "orders": True}


def test_the_rebuild_cli_restores_rollups_and_refuses_an_unknown_shop(scheduler_sessions, make_shop, db_url,
                                                                       monkeypatch, capsys):
    monkeypatch.setattr(settings, "DATABASE_URL", db_url)
    shop = make_shop(domain="rebuild.myshopify.com", currency="EUR", timezone="UTC")
    add_order(scheduler_sessions, shop, "r1", datetime(2026, 3, 2, 10, tzinfo=UTC), gross="12.00", customer="c")
    before = all_rollups(scheduler_sessions, shop)
    with session_scope(scheduler_sessions) as session:  # lost rollups (a bug, a restore): rebuild brings them back
        session.execute(text("DELETE FROM reporting.daily_sales; DELETE FROM reporting.customer_facts"))
    assert rollups.main(["rebuild", "--shop", "rebuild.myshopify.com"]) == 0
    assert all_rollups(scheduler_sessions, shop) == before and before["daily_sales"]
    assert rollups.main(["rebuild", "--shop", "nope.myshopify.com"]) == 2
    assert capsys.readouterr().err == "error: unknown shop nope.myshopify.com\n"


def test_inserted_sales_kept_by_deltas_equal_a_rebuild(scheduler_sessions, make_shop):
    """Migration 0021: sales of customers with facts are added to their days; a new customer's are summed again."""
    shop = make_shop(currency="EUR", timezone="America/New_York")
    day = datetime(2026, 3, 2, 15, tzinfo=UTC)
    add_order(scheduler_sessions, shop, "o1", day, gross="10.00", tax="1.00", customer="known")
    rows = [{"s": shop, "o": o, "a": a, "c": c, "at": day.replace(day=d), "total": Decimal(t), "li": li}
            for o, a, c, d, t, li in (("o1", "o1-r", "known", 4, "-5.50", "li1"),
                                      ("n1", "n1-a", "new", 2, "7.00", "li2"),
                                      ("n2", "n2-a", "new", 3, "8.00", None), ("n2", "n2-b", "new", 5, "9.00", None))]
    with session_scope(scheduler_sessions) as session:  # one transaction: a new customer's two orders, a refund
        session.execute(text("INSERT INTO core_warehouse.order_line_items (shop_id, line_item_id, order_id, "
                             "order_updated_at, product_id, title, raw) "
                             "VALUES (:s, 'li1', 'o1', :at, 'p1', 'Hat', '{}'), "
                             "(:s, 'li2', 'n1', :at, 'p2', 'Cap', '{}')"),
                        {"s": shop, "at": day})
        session.execute(text("INSERT INTO core_warehouse.orders (shop_id, order_id, created_at, updated_at, "
                             "customer_id, raw) VALUES (:s, :o, :at, :at, :c, '{}') ON CONFLICT DO NOTHING"),
                        [r for r in rows if r["a"].endswith("-a")])
        session.execute(text("INSERT INTO core_warehouse.order_agreements (shop_id, agreement_id, order_id, "
                             "happened_at, raw) VALUES (:s, :a, :o, :at, '{}')"), rows)
        session.execute(text("INSERT INTO core_warehouse.order_sales (shop_id, sale_id, agreement_id, action_type, "
                             "line_type, quantity, line_item_id, total_amount_shop, tax_shop, raw) VALUES (:s, "
                             ":a || '-s', :a, 'ORDER', 'PRODUCT', 1, :li, :total, 0, '{}')"), rows)
    with session_scope(scheduler_sessions) as session:
        deltas = session.execute(text("SELECT count(*) FROM reporting.daily_products WHERE shop_id = :s AND "
                                      "product_title = 'Hat' AND net_sales = -5.50"), {"s": shop}).scalar_one()
    incremental = all_rollups(scheduler_sessions, shop)
    assert deltas == 1 and len(incremental["daily_sales"]) == 4
    assert rebuilt(scheduler_sessions, shop) == incremental


def test_inserted_orders_kept_by_deltas_equal_a_rebuild(scheduler_sessions, make_shop):
    """Migration 0024: new orders after a customer's first are added to the facts; one before it is recounted."""
    shop = make_shop(currency="EUR", timezone="America/New_York")
    day = datetime(2026, 3, 5, 15, tzinfo=UTC)
    add_order(scheduler_sessions, shop, "k1", day, gross="10.00", customer="known")
    add_order(scheduler_sessions, shop, "m1", day, gross="20.00", customer="moved")
    add_order(scheduler_sessions, shop, "p1", day, gross="30.00", customer="pair")
    rows = [{"s": shop, "o": o, "c": c, "at": day.replace(day=d), "test": test, "total": Decimal(t)}
            for o, c, d, test, t in (("k2", "known", 7, False, "4.00"), ("m0", "moved", 2, False, "6.00"),
                                     ("w1", "waiting", 4, False, "8.00"), ("t1", "known", 9, True, "9.00"),
                                     ("p2", "pair", 6, False, "1.00"), ("p3", "pair", 8, False, "2.00"))]
    sql = {"orders": "INSERT INTO core_warehouse.orders (shop_id, order_id, created_at, updated_at, customer_id, "
                     "is_test, raw) VALUES (:s, :o, :at, :at, :c, :test, '{}')",
           "agreements": "INSERT INTO core_warehouse.order_agreements (shop_id, agreement_id, order_id, happened_at, "
                         "raw) VALUES (:s, :o || '-a', :o, :at, '{}')",
           "sales": "INSERT INTO core_warehouse.order_sales (shop_id, sale_id, agreement_id, action_type, line_type, "
                    "quantity, total_amount_shop, tax_shop, raw) "
                    "VALUES (:s, :o || '-s', :o || '-a', 'ORDER', 'PRODUCT', 1, :total, 0, '{}')"}
    waiting = [r for r in rows if r["o"] == "w1"]
    with session_scope(scheduler_sessions) as session:  # sales of an order not loaded yet
        session.execute(text(sql["agreements"]), waiting)
        session.execute(text(sql["sales"]), waiting)
    others = [r for r in rows if r["o"] != "w1"]
    with session_scope(scheduler_sessions) as session:  # one transaction: orders first, then their sales
        session.execute(text(sql["orders"]), rows)
        session.execute(text(sql["agreements"]), others)
        session.execute(text(sql["sales"]), others)
    incremental = all_rollups(scheduler_sessions, shop)
    facts = {f["customer_id"]: (f["first_order_id"], f["orders"], str(f["net_sales"]))
             for f in incremental["customer_facts"]}
    assert facts == {"known": ("k1", 2, "14.00"), "moved": ("m0", 2, "26.00"), "waiting": ("w1", 1, "8.00"),
                     "pair": ("p1", 3, "33.00")}
    assert rebuilt(scheduler_sessions, shop) == incremental
