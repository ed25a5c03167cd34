"""The Marketing and Products pages over HTTP: empty states, KPIs and the campaign trend's one callback."""

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from database import session_scope
from ingest import jobs
from tests.reporting.warehouse import add_order, add_spend
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
    assert "No ad account linked" in page and "This store has" in page
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
