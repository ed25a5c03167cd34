"""Shopify Payments payout transactions as the admin exports them, and the reconciliation against orders."""

from datetime import date

from sqlalchemy import text

from database import session_scope
from ingest.uploads import reconcile
from tests.conftest import scalar
from tests.ingest.uploads.conftest import write

# Shopify admin > Finance > Payouts > Export transactions (README: Uploads, the columns and their sources).
HEADER = ("Transaction Date,Type,Order,Card Brand,Card Source,Payout Status,Payout Date,Payout ID,Available On,"
          "Amount,Fee,Net,Checkout,Payment Method Name,Presentment Amount,Presentment Currency,Currency\n")


def _orders(sessions, shop_id, orders):
    """Shopify orders as the warehouse holds them: (name, created_at, current total, gateway)."""
    with session_scope(sessions) as session:
        for name, created, total, gateway in orders:
            session.execute(text("""
                INSERT INTO core_warehouse.orders (shop_id, order_id, name, created_at, updated_at, currency,
                    current_total_price_shop, payment_gateways, raw)
                VALUES (:s, :id, :name, :at, :at, 'EUR', :total, ARRAY[:gateway], '{}')
            """), {"s": shop_id, "id": f"gid://shopify/Order/{name[1:]}", "name": name, "at": created,
                   "total": total, "gateway": gateway})


def test_payouts_load_and_reconcile_against_orders(cli, capsys, shop, tmp_path, scheduler_sessions):
    shop_id, domain = shop
    _orders(scheduler_sessions, shop_id, [
        ("#1001", "2026-11-03T10:00:00+01:00", "56.29", "shopify_payments"),  # paid out in full: matched
        ("#1002", "2026-11-10T09:00:00+01:00", "25.00", "shopify_payments"),  # paid 24.00: a difference
        ("#1003", "2026-11-12T09:00:00+01:00", "40.00", "shopify_payments"),  # no payout line: missing
        ("#1004", "2026-11-12T09:00:00+01:00", "15.00", "cash"),  # not Shopify Payments: not expected
    ])
    path = write(tmp_path / "payment_transactions_export_1.csv", HEADER
                 + "2026-11-03 10:15:00 +0100,charge,#1001,visa,online,paid,2026-11-05,90001,2026-11-05,"
                   "60.29,1.93,58.36,#111,card,60.29,EUR,EUR\n"
                 + "2026-11-04 09:00:00 +0100,refund,#1001,visa,online,paid,2026-11-05,90001,2026-11-05,"
                   "-4.00,0.00,-4.00,#111,card,-4.00,EUR,EUR\n"
                 + "2026-11-10 09:30:00 +0100,charge,#1002,master,online,paid,2026-11-12,90002,2026-11-12,"
                   "24.00,1.03,22.97,#222,card,24.00,EUR,EUR\n"
                 + "2026-11-11 08:00:00 +0100,charge,#1999,visa,online,pending,,,2026-11-14,"
                   "12.00,0.50,11.50,#999,card,12.00,EUR,EUR\n"
                 + "2026-11-12 08:00:00 +0100,payout,,,,paid,2026-11-12,90002,,-81.33,0.00,-81.33,,,,,EUR\n"
                 + "2026-11-13 08:00:00 +0100,charge,,visa,online,paid,,,,5.00,0.10,4.90,,card,5.00,EUR,EUR\n"
                 + "2026-11-13 08:00:00 +0100,charge,#1005,visa,online,paid,2026/11/15,,,5.00,0.10,4.90,,"
                   "card,5.00,XXX,EUR\n")
    code = cli(["load", "--shop", domain, "--kind", "payouts", path])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "partially_loaded: 7 rows, 5 loaded, 2 rejected" in out
    assert scalar(scheduler_sessions, "SELECT json_agg(json_build_array(line_no, reason) ORDER BY line_no) "
                                      "FROM staging_ingest.upload_rejects") == [
        [7, "missing id: Order is empty for a charge"], [8, "unknown currency: 'XXX' in Presentment Currency"]]
    with session_scope(scheduler_sessions) as session:
        counts = reconcile.summarise(session=session, shop_id=shop_id, start=date(2026, 11, 1),
                                     end=date(2026, 11, 30))
    assert counts == {"payout/missing_order": 1, "shopify/difference": 1, "shopify/matched": 1,
                      "shopify/missing_payout": 1}
    logged = scalar(scheduler_sessions, "SELECT details->'counts' FROM app_dashboard.upload_log "
                                        "WHERE step = 'reconciled'")
    assert logged == counts
    fees = scalar(scheduler_sessions, "SELECT sum(fees)::text FROM reporting.reconcile(:s, '2026-11-01', "
                                      "'2026-11-30')", s=shop_id)
    assert fees == "3.46"  # 1.93 + 0.00 + 1.03 + 0.50


def test_the_web_reads_the_reconciliation_only_for_its_own_stores(shop, make_shop, make_user, scheduler_sessions,
                                                                   web_sessions):
    shop_id, _ = shop
    _orders(scheduler_sessions, shop_id, [("#1003", "2026-11-12T09:00:00+01:00", "40.00", "shopify_payments")])
    other = make_shop()
    granted = make_user("member@example.com", shops=[other])
    from database import web_session_scope

    with web_session_scope(web_sessions, user_id=granted) as session:
        assert session.execute(text("SELECT count(*) FROM reporting.reconciliation(:s, '2026-11-01', '2026-11-30')"),
                               {"s": shop_id}).scalar() == 0
    owner = make_user("owner@example.com", shops=[shop_id])
    with web_session_scope(web_sessions, user_id=owner) as session:
        assert session.execute(text("SELECT count(*) FROM reporting.reconciliation(:s, '2026-11-01', '2026-11-30')"),
                               {"s": shop_id}).scalar() == 1


def test_marketplace_orders_reconcile_against_payout_lines_that_name_them(cli, capsys, shop, tmp_path,
                                                                           scheduler_sessions):
    shop_id, domain = shop
    orders = write(tmp_path / "orders.csv", "Order ID,Date,Currency,Gross,Discounts,Refunds,Fees,Net,Channel\n"
                   "AMZ-1,2026-11-05T10:00:00+01:00,EUR,30.00,0,0,3,27,Amazon\n"
                   "AMZ-2,2026-11-06T10:00:00+01:00,EUR,20.00,0,0,2,18,Amazon\n")
    payouts = write(tmp_path / "payouts.csv", HEADER
                    + "2026-11-05 10:15:00 +0100,charge,AMZ-1,visa,online,paid,2026-11-07,1,2026-11-07,"
                      "30.00,0.90,29.10,,card,30.00,EUR,EUR\n")
    assert cli(["load", "--shop", domain, "--kind", "marketplace-orders", orders]) == 0
    assert cli(["load", "--shop", domain, "--kind", "payouts", payouts]) == 0
    capsys.readouterr()
    with session_scope(scheduler_sessions) as session:
        counts = reconcile.summarise(session=session, shop_id=shop_id, start=date(2026, 11, 1),
                                     end=date(2026, 11, 30))
    assert counts == {"marketplace/matched": 1, "marketplace/missing_payout": 1}


def test_sales_by_channel_puts_marketplaces_beside_shopify(cli, capsys, shop, tmp_path, scheduler_sessions,
                                                           web_sessions, make_user):
    from dashboard import queries
    from database import web_session_scope

    shop_id, domain = shop
    with session_scope(scheduler_sessions) as session:  # Shopify's own day, as the rollup holds it
        session.execute(text("INSERT INTO reporting.daily_sales (shop_id, day, orders, total_sales) "
                             "VALUES (:s, '2026-11-05', 3, 100.00)"), {"s": shop_id})
    orders = write(tmp_path / "orders.csv", "Order ID,Date,Currency,Gross,Discounts,Refunds,Fees,Net,Channel\n"
                   "AMZ-1,2026-11-05T10:00:00+01:00,EUR,30.00,5.00,0,3,22,Amazon\n"
                   "Z-1,2026-11-06T10:00:00+01:00,EUR,20.00,0,2.00,2,16,Zalando\n")
    assert cli(["load", "--shop", domain, "--kind", "marketplace-orders", orders]) == 0
    user = make_user("member@example.com", shops=[shop_id])
    with web_session_scope(web_sessions, user_id=user) as session:
        rows = queries.read_sales_by_channel(session=session, shop_id=shop_id, start=date(2026, 11, 1),
                                             end=date(2026, 11, 30))
    assert [(r["channel"], r["orders"], str(r["sales"])) for r in rows] == [
        ("Shopify", 3, "100.00"), ("Amazon", 1, "25.00"), ("Zalando", 1, "18.00")]


def test_the_overview_splits_total_sales_by_channel_once_a_marketplace_is_uploaded(cli, shop, tmp_path, client,
                                                                                   make_user):
    import json

    from tests.web import callback, login

    shop_id, domain = shop
    make_user("member@example.com", shops=[shop_id])
    login(client, "member@example.com")
    page = {"_pages_location.pathname": "/",
            "_pages_location.search": f"?shop={shop_id}&preset=custom&start=2026-11-01&end=2026-11-30"}

    def rendered() -> str:
        response = callback(client, "_pages_content.children", page)
        assert response.status_code == 200
        return json.dumps(response.get_json()["response"])

    assert "channel-chart" not in rendered()  # Shopify alone: nothing to split
    orders = write(tmp_path / "orders.csv", "Order ID,Date,Currency,Gross,Discounts,Refunds,Fees,Net,Channel\n"
                   "AMZ-1,2026-11-05T10:00:00+01:00,EUR,30.00,5.00,0,3,22,Amazon\n")
    assert cli(["load", "--shop", domain, "--kind", "marketplace-orders", orders]) == 0
    shown = rendered()
    assert "channel-chart" in shown and "Amazon" in shown and "\\u20ac25.00" in shown
