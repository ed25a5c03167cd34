"""reporting.sales_ledger: the orders and reversals behind a day sum to that day's figures, under RLS."""

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import text

from dashboard import queries
from database import session_scope, set_app_user
from tests.ingest.shopify.conftest import run_job
from tests.reporting.warehouse import add_order, fetch

SUMMED = ("orders", "units", "gross_sales", "discounts", "returns", "net_sales", "shipping", "taxes", "duties",
          "additional_fees", "total_sales")


def _refund(sessions, shop_id, order_id, at, *, amount):
    """A refund of `amount` of the order's product, booked at `at` (a RETURN sale of a RefundAgreement)."""
    with session_scope(sessions) as session:
        session.execute(text(
            "INSERT INTO core_warehouse.order_agreements (shop_id, agreement_id, order_id, kind, reason, "
            "happened_at, raw) VALUES (:s, :o || '-r', :o, 'RefundAgreement', 'REFUND', :at, '{}')"),
            {"s": shop_id, "o": order_id, "at": at})
        session.execute(text(
            "INSERT INTO core_warehouse.order_sales (shop_id, sale_id, agreement_id, action_type, line_type, "
            "quantity, total_amount_shop, raw) VALUES (:s, :o || '-rs', :o || '-r', 'RETURN', 'PRODUCT', -1, "
            ":amount, '{}')"), {"s": shop_id, "o": order_id, "amount": -Decimal(amount)})


def test_every_days_ledger_sums_to_its_daily_sales_on_the_sandbox_store(scheduler_sessions, worker, shop_id, store):
    run_job(scheduler_sessions, worker, shop_id, "HISTORICAL_INIT")
    spec = store.spec
    with session_scope(scheduler_sessions) as session:
        ledger = queries.read_sales_ledger(session=session, shop_id=shop_id, start=spec.start, end=spec.end)
    daily = {r["day"]: r for r in fetch(scheduler_sessions, "SELECT * FROM reporting.daily_sales WHERE shop_id = :s "
                                        "AND day BETWEEN :a AND :b", s=shop_id, a=spec.start, b=spec.end)}
    sums: dict = defaultdict(lambda: defaultdict(Decimal))
    for row in ledger:
        for key in SUMMED:
            sums[row["day"]][key] += row[key]
    assert set(sums) == set(daily)
    assert {day: {k: sums[day][k] for k in SUMMED} for day in sums} == {
        day: {k: Decimal(row[k]) for k in SUMMED} for day, row in daily.items()}
    assert any(row["returns"] for row in ledger) and all(row["currency"] == spec.currency for row in ledger)
    assert any("refund" in row["booked"] or "cancellation" in row["booked"] for row in ledger)


def test_a_refund_is_booked_on_its_own_day_and_the_web_sees_only_granted_stores(
        scheduler_sessions, web_sessions, make_shop, make_user):
    shop = make_shop(domain="a.myshopify.com", currency="EUR", timezone="Europe/Paris")
    hidden = make_shop(domain="b.myshopify.com", currency="EUR", timezone="UTC")
    user = make_user("ana@agency.test", shops=[shop])
    add_order(scheduler_sessions, shop, "o1", datetime(2026, 3, 1, 23, 30, tzinfo=UTC), gross="40.00", tax="8.00")
    _refund(scheduler_sessions, shop, "o1", datetime(2026, 3, 3, 9, tzinfo=UTC), amount="10.00")
    add_order(scheduler_sessions, hidden, "h1", datetime(2026, 3, 2, 10, tzinfo=UTC), gross="99.00")
    with session_scope(web_sessions) as session:
        set_app_user(session, user)
        rows = queries.read_sales_ledger(session=session, shop_id=None, start=datetime(2026, 3, 1).date(),
                                         end=datetime(2026, 3, 5).date())
    # 23:30 UTC on 1 March is 2 March in Paris: the sale is that day's, the refund 3 March's.
    assert [(r["day"].isoformat(), r["booked"], r["orders"], r["net_sales"], r["total_sales"]) for r in rows] == [
        ("2026-03-02", "order", 1, Decimal("40.00"), Decimal("48.00")),
        ("2026-03-03", "refund", 0, Decimal("-10.00"), Decimal("-10.00"))]
    assert {r["shop_domain"] for r in rows} == {"a.myshopify.com"}
