"""The reporting views: what the web role reads, through RLS; MER, ROAS, CAC and AOV by their definitions."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import text

from database import web_session_scope
from tests.conftest import scalar
from tests.reporting.warehouse import add_order, add_rates, add_spend, fetch

VIEWS = ("daily_revenue", "marketing_daily", "campaign_daily", "mer_roas", "product_daily", "customer_summary")


@pytest.fixture
def two_shops(scheduler_sessions, make_shop):
    """Two shops with a sale, a customer and a day of spend each."""
    shops = {}
    for name in ("granted", "other"):
        shop = shops[name] = make_shop(currency="EUR", timezone="UTC")
        add_order(scheduler_sessions, shop, f"{name}-1", datetime(2026, 3, 2, 12, tzinfo=UTC), gross="100.00",
                  customer=f"{name}-c")
        add_spend(scheduler_sessions, shop, "2026-03-02", spend="25.00", currency="EUR", purchase_value="80")
    return shops


@pytest.mark.parametrize("view", VIEWS)
def test_the_web_role_sees_only_granted_shops_through_each_view(web_sessions, make_user, two_shops, view):
    user = make_user("member@example.com", shops=[two_shops["granted"]])
    with web_session_scope(web_sessions, user_id=user) as session:
        seen = set(session.execute(text(f"SELECT DISTINCT shop_id FROM reporting.{view}")).scalars())
    assert seen == {two_shops["granted"]}


def test_a_user_without_grants_sees_nothing(web_sessions, make_user, two_shops):
    user = make_user("nobody@example.com")
    with web_session_scope(web_sessions, user_id=user) as session:
        counts = [session.execute(text(f"SELECT count(*) FROM reporting.{v}")).scalar_one() for v in VIEWS]
    assert counts == [0] * len(VIEWS)


def test_mer_roas_cac_aov_by_their_definitions_and_no_mer_without_spend(scheduler_sessions, make_shop):
    shop = make_shop(currency="EUR", timezone="UTC")
    add_order(scheduler_sessions, shop, "1", datetime(2026, 3, 2, 9, tzinfo=UTC), gross="100.00", tax="20.00",
              customer="a")
    add_order(scheduler_sessions, shop, "2", datetime(2026, 3, 2, 10, tzinfo=UTC), gross="50.00", customer="b")
    add_order(scheduler_sessions, shop, "3", datetime(2026, 3, 3, 10, tzinfo=UTC), gross="40.00", customer="a")
    add_spend(scheduler_sessions, shop, "2026-03-02", spend="60.00", currency="EUR", purchase_value="90")
    add_rates(scheduler_sessions, "2026-03-02", USD="1.1000")
    rows = {r["day"].isoformat(): r for r in fetch(scheduler_sessions, "SELECT * FROM reporting.mer_roas "
                                                                       "WHERE shop_id = :s", s=shop)}
    first, second = rows["2026-03-02"], rows["2026-03-03"]
    assert first["total_sales"] == Decimal("170.00") and first["spend"] == Decimal("60.00")
    assert first["mer"] == Decimal("2.8333")  # 170 / 60
    assert first["roas"] == Decimal("1.5000")  # 90 / 60
    assert first["cac"] == Decimal("30.00")  # 60 / 2 new customers
    assert second["spend"] == 0 and second["mer"] is None and second["roas"] is None and second["cac"] is None
    aov = scalar(scheduler_sessions, "SELECT aov FROM reporting.daily_revenue WHERE shop_id = :s "
                 "AND day = '2026-03-02'", s=shop)
    assert aov == Decimal("75.00")  # (150 gross - 0 discounts) / 2 orders
    customers = scalar(scheduler_sessions, "SELECT new_customers || '/' || returning_customers "
                       "FROM reporting.daily_revenue WHERE shop_id = :s AND day = '2026-03-03'", s=shop)
    assert customers == "0/1"

