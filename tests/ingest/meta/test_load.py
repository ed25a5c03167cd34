"""Insights rows into the warehouse: one purchase type by precedence, exact NUMERIC, idempotent ordered upserts."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import text

from database import session_scope
from ingest.meta.load import action_value, fact, upsert_page

ROW = {
    "account_id": "2001", "account_currency": "USD", "campaign_id": "120200000000000001",
    "campaign_name": "Prospecting | Sales #1", "objective": "OUTCOME_SALES", "spend": "14.35",
    "impressions": "1203", "reach": "980", "frequency": "1.227551", "clicks": "31", "inline_link_clicks": "22",
    "cpc": "0.462903", "cpm": "11.928512", "ctr": "2.576891", "attribution_setting": "7d_click_1d_view",
    "actions": [{"action_type": "link_click", "value": "22"},
                {"action_type": "offsite_conversion.fb_pixel_purchase", "value": "3", "7d_click": "3"},
                {"action_type": "omni_purchase", "value": "3", "7d_click": "3"},
                {"action_type": "purchase", "value": "3", "7d_click": "3"}],
    "action_values": [{"action_type": "offsite_conversion.fb_pixel_purchase", "value": "171.3"},
                      {"action_type": "omni_purchase", "value": "171.3"},
                      {"action_type": "purchase", "value": "171.3"}],
    "purchase_roas": [{"action_type": "omni_purchase", "value": "11.937282"}],
    "date_start": "2026-11-01", "date_stop": "2026-11-01",
}


def test_purchases_come_from_one_action_type_by_precedence():
    assert action_value(ROW["actions"]) == "3"  # not 9: the same purchases under three types
    assert action_value([{"action_type": "purchase", "value": "2"}]) == "2"
    assert action_value([{"action_type": "purchase", "value": "2"}, {"action_type": "omni_purchase",
                                                                     "value": "5"}]) == "5"
    assert action_value([{"action_type": "link_click", "value": "9"}]) is None
    assert action_value(None) is None


def test_a_row_becomes_typed_columns_and_keeps_itself_raw():
    item = fact(ROW, currency="EUR")
    assert item["currency"] == "USD"  # the row's own account_currency wins
    assert (item["spend"], item["purchases"], item["purchase_value"], item["purchase_roas"]) == \
        ("14.35", "3", "171.3", "11.937282")
    assert (item["link_clicks"], item["campaign_id"], item["raw"]) == ("22", ROW["campaign_id"], ROW)
    empty = fact({"date_start": "2026-11-02", "spend": "0"}, currency="EUR")
    assert (empty["currency"], empty["purchases"], empty["cpc"], empty["reach"]) == ("EUR", "0", None, None)


def _load(sessions, shop_id, rows, *, level="campaign", at=None):
    with session_scope(sessions) as session:
        return upsert_page(session=session, shop_id=shop_id, account_id="act_2001", level=level, rows=rows,
                           currency="USD", synced_at=at or datetime.now(UTC))


def _table(sessions, level="campaign"):
    table = "fact_marketing_campaign_daily" if level == "campaign" else "fact_marketing_daily"
    with session_scope(sessions) as session:
        return session.execute(text(f"SELECT * FROM core_warehouse.{table} ORDER BY date")).mappings().all()


def test_upserts_are_exact_idempotent_and_never_go_back_in_time(scheduler_sessions, make_shop):
    shop_id = make_shop()
    tenth = dict(ROW, spend="0.1", date_start="2026-11-02")
    twentieth = dict(ROW, spend="0.2", date_start="2026-11-03")
    first = datetime.now(UTC)
    assert _load(scheduler_sessions, shop_id, [ROW, tenth, twentieth], at=first) == 3
    with session_scope(scheduler_sessions) as session:
        total = session.scalar(text("SELECT sum(spend) FROM core_warehouse.fact_marketing_campaign_daily "
                                    "WHERE spend < 1"))
    assert total == Decimal("0.3")  # NUMERIC: 0.1 + 0.2 is 0.3, as it would not be in floats
    assert _load(scheduler_sessions, shop_id, [ROW, tenth, twentieth], at=first + timedelta(seconds=1)) == 0
    restated = dict(ROW, actions=[{"action_type": "omni_purchase", "value": "4"}])
    assert _load(scheduler_sessions, shop_id, [restated], at=first - timedelta(seconds=5)) == 0  # older payload
    assert _load(scheduler_sessions, shop_id, [restated, restated], at=first + timedelta(seconds=5)) == 1
    rows = _table(scheduler_sessions)
    assert [r["purchases"] for r in rows] == [Decimal(4), Decimal(3), Decimal(3)]
    assert (rows[0]["currency"], rows[0]["objective"], rows[0]["raw"]) == ("USD", "OUTCOME_SALES", restated)
    assert rows[0]["campaign_name"] == "Prospecting | Sales #1" and rows[0]["reach"] == 980


def test_account_level_rows_have_no_campaign(scheduler_sessions, make_shop):
    shop_id = make_shop()
    account_row = {k: v for k, v in ROW.items() if k not in ("campaign_id", "campaign_name", "objective")}
    assert _load(scheduler_sessions, shop_id, [account_row], level="account") == 1
    (row,) = _table(scheduler_sessions, "account")
    assert (row["account_id"], str(row["date"]), row["spend"], row["purchase_value"]) == \
        ("act_2001", "2026-11-01", Decimal("14.35"), Decimal("171.3"))
    assert _load(scheduler_sessions, shop_id, [], level="account") == 0
