"""The Marketing and Products pages over HTTP: empty states, KPIs and the campaign trend's one callback."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import text

from database import session_scope
from ingest import jobs
from tests.reporting.warehouse import add_order, add_spend, set_reporting_currency
from tests.web import callback, login

RANGE = "?shop={shop}&preset=custom&start=2026-03-01&end=2026-03-31&compare=previous_period"


def _render(client, path, search=""):
    response = callback(client, "_pages_content.children",
                        {"_pages_location.pathname": path, "_pages_location.search": search})
    assert response.status_code == 200
    return json.dumps(response.get_json(), ensure_ascii=False)


def _link_account(sessions, shop_id, account="act_1"):
    with session_scope(sessions) as session:
        session.execute(text("INSERT INTO app_dashboard.ad_accounts (shop_id, account_id, name, currency) "
                             "VALUES (:s, :a, 'Ads', 'EUR')"), {"s": shop_id, "a": account})


@pytest.mark.parametrize(("role", "link"), [("admin", True), ("member", False)])
def test_a_store_without_an_ad_account_says_so(client, make_shop, make_user, role, link):
    shop = make_shop(currency="EUR", timezone="UTC")
    make_user("ana@agency.test", role=role, shops=[shop])
    login(client, "ana@agency.test")
    page = _render(client, "/marketing", RANGE.format(shop=shop))
    assert "No ad account linked" in page and "This store has no Meta ad account linked" in page
    assert ("no-ad-account-settings" in page) is link


def test_marketing_shows_kpis_with_their_change_and_the_campaigns(client, scheduler_sessions, make_shop,
                                                                  make_user):
    shop = make_shop(currency="EUR", timezone="UTC")
    _link_account(scheduler_sessions, shop)
    add_spend(scheduler_sessions, shop, "2026-03-02", spend="50.00", currency="EUR", purchase_value="150")
    add_spend(scheduler_sessions, shop, "2026-02-10", spend="25.00", currency="EUR", purchase_value="50")
    make_user("ana@agency.test", shops=[shop])
    login(client, "ana@agency.test")
    page = _render(client, "/marketing", RANGE.format(shop=shop))
    assert "€50.00" in page and "▲ +100.0%" in page  # spend doubled against February
    assert "3.00×" in page and "▲ +50.0%" in page  # ROAS 3 against 2
    assert "Prospecting" in page and "act_1-c1" in page
    response = callback(client, "campaign-trend-holder.children", {
        "campaign-grid.selectedRows": [{"key": "act_1-c1", "campaign_name": "Prospecting"}],
        "_pages_location.search": RANGE.format(shop=shop)})
    trend = json.dumps(response.get_json())
    assert "Trend: Prospecting" in trend and "2026-03-02" in trend and "2026-02-10" not in trend


def test_marketing_without_delivery_in_the_range_says_so(client, scheduler_sessions, make_shop, make_user):
    shop = make_shop(currency="EUR", timezone="UTC")
    _link_account(scheduler_sessions, shop)
    make_user("ana@agency.test", shops=[shop])
    login(client, "ana@agency.test")
    assert "No ad delivery in this period" in _render(client, "/marketing", RANGE.format(shop=shop))


def test_products_say_when_there_are_no_orders_or_the_history_is_loading(client, scheduler_sessions, make_shop,
                                                                         make_user):
    shop = make_shop(currency="EUR", timezone="UTC")
    make_user("ana@agency.test", shops=[shop])
    login(client, "ana@agency.test")
    assert "No orders in this period" in _render(client, "/products", RANGE.format(shop=shop))
    with session_scope(scheduler_sessions) as session:
        jobs.enqueue(session=session, shop_id=shop, source="shopify", kind="HISTORICAL_INIT")
    assert "Still loading the order history" in _render(client, "/products", RANGE.format(shop=shop))


def test_products_show_the_repeat_rate_and_masked_customers(client, scheduler_sessions, make_shop, make_user):
    shop = make_shop(currency="EUR", timezone="UTC")
    with session_scope(scheduler_sessions) as session:
        session.execute(text("INSERT INTO core_warehouse.customers (shop_id, customer_id, email, updated_at, raw) "
                             "VALUES (:s, 'c1', 'jane@example.com', now(), '{}'), (:s, 'c2', NULL, now(), '{}')"),
                        {"s": shop})
    add_order(scheduler_sessions, shop, "o1", datetime(2026, 3, 2, 10, tzinfo=UTC), gross="30.00", customer="c1")
    add_order(scheduler_sessions, shop, "o2", datetime(2026, 3, 5, 10, tzinfo=UTC), gross="20.00", customer="c1")
    add_order(scheduler_sessions, shop, "o3", datetime(2026, 3, 6, 10, tzinfo=UTC), gross="5.00", customer="c2")
    make_user("ana@agency.test", shops=[shop])
    login(client, "ana@agency.test")
    page = _render(client, "/products", RANGE.format(shop=shop))
    assert "50.0%" in page and "1 of 2 customers" in page
    assert "j***@example.com" in page and "jane@example.com" not in page
    assert "€50.00" in page


def test_all_stores_campaign_days_and_totals_are_converted_day_by_day(scheduler_sessions, make_shop):
    from dashboard import queries
    from tests.reporting.warehouse import add_rates

    euro = make_shop(currency="EUR", timezone="UTC")
    dollar = make_shop(currency="USD", timezone="UTC")
    set_reporting_currency(scheduler_sessions, "USD")
    add_rates(scheduler_sessions, "2026-03-02", USD="1.1000")
    add_rates(scheduler_sessions, "2026-03-03", USD="1.2000")
    for day in ("2026-03-02", "2026-03-03"):
        add_spend(scheduler_sessions, euro, day, spend="10.00", currency="EUR", purchase_value="30")
        add_spend(scheduler_sessions, dollar, day, spend="5.00", currency="USD", purchase_value="5", account="act_2")
    with session_scope(scheduler_sessions) as session:
        days = queries.read_campaign_daily(session=session, shop_id=None, account_id="act_1", campaign_id="c1",
                                           start="2026-03-01", end="2026-03-31")
        totals = queries.read_marketing_totals(session=session, shop_id=None, periods={
            "current": ("2026-03-02", "2026-03-03"), "previous": ("2026-02-28", "2026-03-01")})
        one = queries.read_campaign_daily(session=session, shop_id=euro, account_id="act_1", campaign_id="c1",
                                          start="2026-03-01", end="2026-03-31")
    assert [(str(r["date"]), r["currency"], r["spend"], r["purchase_value"], r["roas"]) for r in days] == [
        ("2026-03-02", "USD", Decimal("11.00"), Decimal("33.00"), Decimal("3.00")),
        ("2026-03-03", "USD", Decimal("12.00"), Decimal("36.00"), Decimal("3.00"))]
    assert [(r["currency"], r["spend"]) for r in one] == [("EUR", Decimal("10.00"))] * 2
    assert list(totals) == ["current"]  # no delivery before: no comparison row, not zeros
    assert (totals["current"]["currency"], totals["current"]["spend"]) == ("USD", Decimal("33.00"))  # 23 + 10


def test_top_products_rank_by_units_or_net_sales_per_variant_or_product(scheduler_sessions, make_shop):
    from dashboard import queries

    shop = make_shop(currency="EUR", timezone="UTC")
    with session_scope(scheduler_sessions) as session:
        session.execute(text("""
            INSERT INTO reporting.daily_products (shop_id, day, product_id, variant_id, product_title, variant_title,
                                                  units_sold, units_returned, net_sales)
            VALUES (:s, '2026-03-02', 'p1', 'v1', 'Mug', 'Red', 1, 0, 90), (:s, '2026-03-02', 'p1', 'v2', 'Mug',
                    'Blue', 1, 1, 20), (:s, '2026-03-02', 'p2', 'v3', 'Spoon', '', 9, 0, 45)"""), {"s": shop})
        session.execute(text("""
            INSERT INTO reporting.monthly_products (shop_id, month, product_id, variant_id, product_title,
                                                    variant_title, units_sold, units_returned, net_sales,
                                                    net_sales_gains)
            SELECT shop_id, date_trunc('month', day), product_id, variant_id, product_title, variant_title,
                   units_sold, units_returned, net_sales, net_sales
            FROM reporting.daily_products WHERE shop_id = :s"""), {"s": shop})  # as the flush keeps it,
        session.execute(text("SELECT reporting.reconvert_months(NULL, :s, '-infinity')"), {"s": shop})  # converted

        def read(**view):
            rows = queries.read_top_products(session=session, shop_id=shop, start="2026-03-01", end="2026-03-31",
                                             **view)
            return [(r["product_title"], r["variant_title"], r["units_sold"], r["net_sales"]) for r in rows]

        assert read() == [("Mug", "Red", 1, 90), ("Spoon", "", 9, 45), ("Mug", "Blue", 1, 20)]
        assert read(order="units_sold")[0] == ("Spoon", "", 9, 45)
        assert read(level="product") == [("Mug", None, 2, 110), ("Spoon", None, 9, 45)]
        # All stores rank units from the monthly rollup first: the same rows as summing every day.
        params = {"shop_id": None, "start": "2026-03-01", "end": "2026-03-31"}
        for level, variant in (("variant", True), ("product", False)):
            ranked = queries.read_top_products(session=session, **params, level=level, order="units_sold")
            summed = session.execute(text(queries._top_summed(True, variant, "units_sold")), params).mappings().all()
            assert [dict(row) for row in summed] == ranked and ranked[0]["units_sold"] == 9, level
        with pytest.raises(ValueError):
            queries.read_top_products(session=session, shop_id=shop, start="2026-03-01", end="2026-03-31",
                                      order="net_sales; DROP TABLE x")


@pytest.mark.parametrize("path", ["/marketing", "/products"])
def test_a_store_not_granted_is_refused_and_no_store_says_so(client, server, make_shop, make_user, path):
    hidden = make_shop(currency="EUR", timezone="UTC")
    granted = make_shop(currency="EUR", timezone="UTC")
    make_user("ana@agency.test", shops=[granted])
    make_user("new@agency.test")
    login(client, "ana@agency.test")
    page = _render(client, path, RANGE.format(shop=hidden))
    assert "no access" in page and "€" not in page
    newcomer = server.test_client()
    login(newcomer, "new@agency.test")
    assert "No store connected yet" in _render(newcomer, path)
