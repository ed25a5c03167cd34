"""MER's basis, an agency setting: Shopify's sales alone or all channels (uploaded marketplace orders too).

Admins set it in Settings (a CSRF-protected callback, audited); members cannot. The Overview's MER card, its
tooltip and its chart, and `python -m dashboard.export mer-roas`, divide the sales the setting names by ad
spend; ROAS stays Meta's purchase value ÷ spend.
"""

import csv
import io
import json
from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import text

import settings
from dashboard import downloads
from dashboard.export import main as export_main
from dashboard.selection import parse
from database import session_scope, web_session_scope
from tests.conftest import scalar
from tests.reporting.warehouse import add_order, add_rates, add_spend
from tests.test_overview_shell import _find, _response
from tests.web import callback, login

CENT = Decimal("0.01")
# Shopify: total sales per day (gross + tax of one order); Meta: spend and purchase value per day.
ORDERS = {"2026-03-02": ("100.00", "20.00"), "2026-03-03": ("30.00", "0.00")}
SPEND = {"2026-03-02": ("40.00", "90.00"), "2026-03-03": ("13.00", "10.00")}
# Uploaded marketplace orders: (channel, id, instant, currency, gross, discounts, refunds); USD is converted to the
# store's euros at the day's rate (USD_PER_EUR), and 4 March has marketplace sales and nothing else.
MARKETPLACE = [("Amazon", "A-1", "2026-03-02T11:00:00+00:00", "EUR", "59.90", "5.00", "0.00"),
               ("Amazon", "A-2", "2026-03-03T09:00:00+00:00", "USD", "30.00", "0.00", "5.00"),
               ("Zalando", "Z-1", "2026-03-04T15:00:00+00:00", "EUR", "12.34", "0.00", "0.00")]
USD_PER_EUR = Decimal("1.2500")
PAGE = "?shop={shop}&preset=custom&start=2026-03-01&end=2026-03-31&compare=none"
TODAY = datetime(2026, 4, 1).date()  # the selection's "today" (its dates are custom: no preset reads it)


@pytest.fixture
def store(make_shop, scheduler_sessions) -> int:
    """A euro store with Shopify orders, Meta spend and uploaded marketplace orders in March 2026."""
    shop = make_shop("mer.myshopify.com", "Mer", currency="EUR", timezone="UTC")
    for day, (gross, tax) in ORDERS.items():
        add_order(scheduler_sessions, shop, f"o-{day}", datetime.fromisoformat(f"{day}T10:00:00+00:00"),
                  gross=gross, tax=tax)
    for day, (spend, value) in SPEND.items():
        add_spend(scheduler_sessions, shop, day, spend=spend, currency="EUR", purchase_value=value)
    add_rates(scheduler_sessions, "2026-03-01", USD=str(USD_PER_EUR))
    with session_scope(scheduler_sessions) as session:
        session.execute(text("UPDATE app_dashboard.agency_settings SET reporting_currency = 'EUR'"))
        session.execute(text("INSERT INTO app_dashboard.ad_accounts (shop_id, account_id, name) "
                             "VALUES (:s, 'act_1', 'Prospecting')"), {"s": shop})
        for line, (channel, order_id, at, currency, gross, discounts, refunds) in enumerate(MARKETPLACE, 2):
            net = Decimal(gross) - Decimal(discounts) - Decimal(refunds)
            session.execute(text(
                "INSERT INTO core_warehouse.marketplace_orders (shop_id, channel, order_id, batch_id, line_no, "
                "ordered_at, currency, gross, discounts, refunds, fees, net) "
                "VALUES (:s, :ch, :o, 1, :line, :at, :cur, :g, :d, :r, 0, :net)"),
                {"s": shop, "ch": channel, "o": order_id, "line": line, "at": at, "cur": currency, "g": gross,
                 "d": discounts, "r": refunds, "net": net})
    return shop


def _expected(*, all_channels: bool) -> dict:
    """Per day and for the month: (sales MER divides, spend, MER to the cent), from the rows above."""
    sales = {day: Decimal(gross) + Decimal(tax) for day, (gross, tax) in ORDERS.items()}
    if all_channels:
        for _, _, at, currency, gross, discounts, refunds in MARKETPLACE:
            net = Decimal(gross) - Decimal(discounts) - Decimal(refunds)
            in_euros = net if currency == "EUR" else (net / USD_PER_EUR).quantize(CENT)
            sales[at[:10]] = sales.get(at[:10], Decimal(0)) + in_euros
    spend = {day: Decimal(amount) for day, (amount, _) in SPEND.items()}
    days = {day: (sales[day], spend.get(day, Decimal(0)),
                  (sales[day] / spend[day]).quantize(CENT) if spend.get(day) else None) for day in sorted(sales)}
    month = (sum(sales.values()), sum(spend.values()), (sum(sales.values()) / sum(spend.values())).quantize(CENT))
    return {"days": days, "month": month}


def _set_basis(client, basis: str):
    return callback(client, "settings-mer-feedback.children", {"settings-mer-basis-save.n_clicks": 1,
                                                               "settings-mer-basis.value": basis})


def _export(db_url, monkeypatch, capsys, shop="mer.myshopify.com") -> list[dict]:
    monkeypatch.setattr(settings, "DATABASE_URL", db_url)
    assert export_main(["mer-roas", "--shop", shop, "--start", "2026-03-01", "--end", "2026-03-31",
                        "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def _overview(client, shop: int) -> dict:
    """The MER card's value, label, tooltip and basis, and the MER chart's line names, as the Overview renders."""
    layout = _response(callback(client, "_pages_content.children", {
        "_pages_location.pathname": "/", "_pages_location.search": PAGE.format(shop=shop)}))["_pages_content"]
    layout = layout["children"]
    tooltip = _find(layout, "kpi-label-mer")
    chart = _find(layout, "mer-chart")["figure"]
    formula = next(child for child in _find_all(layout) if child.get("target") == "kpi-label-mer")["children"]
    return {"mer": _find(layout, "kpi-mer")["children"], "roas": _find(layout, "kpi-roas")["children"],
            "label": tooltip["children"], "basis": _find(layout, "kpi-mer-basis")["children"], "formula": formula,
            "lines": [trace["name"] for trace in chart["data"]]}


def _find_all(node):
    """Every component's props in a rendered layout."""
    if isinstance(node, dict):
        if "props" in node:
            yield node["props"]
        for value in node.values():
            yield from _find_all(value)
    elif isinstance(node, list):
        for child in node:
            yield from _find_all(child)


def test_mer_follows_the_agency_basis_to_the_cent_and_roas_does_not(client, store, make_user, scheduler_sessions,
                                                                     web_sessions, db_url, monkeypatch, capsys):
    boss = make_user("boss@agency.test", role="admin", shops=[store])
    login(client, "boss@agency.test")
    for basis, all_channels in (("shopify", False), ("all_channels", True), ("shopify", False)):
        assert _set_basis(client, basis).status_code == 200
        expected = _expected(all_channels=all_channels)
        rows = _export(db_url, monkeypatch, capsys)
        assert {r["date"]: (Decimal(r["mer_sales"]), Decimal(r["spend"]), r["mer"] and Decimal(r["mer"]))
                for r in rows} == expected["days"]
        assert {r["mer_basis"] for r in rows} == {basis}
        everywhere = _export(db_url, monkeypatch, capsys, shop="all")  # the agency's currency is the store's
        assert [(r["date"], r["mer_sales"], r["mer"]) for r in everywhere] == [
            (r["date"], r["mer_sales"], r["mer"]) for r in rows]
        assert [r["total_sales"] for r in rows if r["date"] == "2026-03-02"] == ["120.00"]  # Shopify's, always
        with web_session_scope(web_sessions, user_id=boss) as session:  # All stores' table, through its CSV
            table = downloads.read_csv(session=session, name="overview-stores",
                                       chosen=parse(PAGE.format(shop="all"), today=TODAY))
        [store_row] = csv.DictReader(io.StringIO(table))
        with web_session_scope(web_sessions, user_id=boss) as session:  # the Overview's MER chart, day by day
            chart = downloads.read_csv(session=session, name="overview-mer-roas",
                                       chosen=parse(PAGE.format(shop=store), today=TODAY))
        assert {r["date"]: (Decimal(r["mer_sales"]), Decimal(r["spend"]), Decimal(r["mer"]) if r["mer"] else None)
                for r in csv.DictReader(io.StringIO(chart)) if r["mer_sales"]} == expected["days"]
        assert Decimal(store_row["mer"]).quantize(CENT) == expected["month"][2]
        shown = _overview(client, store)
        sales, spend, mer = expected["month"]
        assert shown["mer"] == f"{mer}×"
        value = sum(Decimal(purchase_value) for _, purchase_value in SPEND.values())
        assert shown["roas"] == f"{(value / spend).quantize(CENT)}×"  # Meta's purchase value ÷ spend, either way
        label = "MER on all channels" if all_channels else "MER on Shopify sales"
        assert (shown["label"], shown["basis"]) == ("MER", label)
        assert ("marketplace orders' net sales" in shown["formula"]) is all_channels
        assert shown["lines"] == [label, "ROAS"]
    assert scalar(scheduler_sessions, "SELECT string_agg(details->>'new', ',' ORDER BY id) FROM "
                                      "app_dashboard.audit_log WHERE action = 'agency.mer_basis'") == \
        "shopify,all_channels,shopify"


def test_the_setting_round_trips_and_only_admins_change_it(client, make_shop, make_user, scheduler_sessions):
    shop = make_shop()
    make_user("boss@agency.test", role="admin", shops=[shop])
    make_user("ana@agency.test", shops=[shop])
    login(client, "boss@agency.test")

    def shown_on_settings() -> str:
        page = _response(callback(client, "_pages_content.children", {"_pages_location.pathname": "/settings"}))
        return _find(page["_pages_content"]["children"], "settings-mer-basis")["value"]

    assert shown_on_settings() == "shopify"  # the default
    assert "MER on all channels" in _set_basis(client, "all_channels").get_data(as_text=True)
    assert shown_on_settings() == "all_channels"
    assert "Choose MER's basis" in _set_basis(client, "everything").get_data(as_text=True)
    assert shown_on_settings() == "all_channels"
    client.post("/logout", data={"csrf_token": client.get_cookie("_csrf_token").value})
    login(client, "ana@agency.test")
    assert _set_basis(client, "shopify").status_code == 403
    assert scalar(scheduler_sessions, "SELECT mer_basis FROM app_dashboard.agency_settings") == "all_channels"
