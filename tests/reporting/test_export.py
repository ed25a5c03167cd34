"""`python -m dashboard.export`: the sandbox's truth to the cent, all stores in one currency, RLS, errors."""

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

import settings
from dashboard.export import main
from database import session_scope
from tests.ingest.shopify.conftest import run_job, truth_days
from tests.reporting.warehouse import add_order, add_rates, add_spend, set_reporting_currency


@pytest.fixture
def export(db_url, monkeypatch, capsys):
    """Run the CLI against this test's database; return (status, parsed JSON or text, stderr)."""
    monkeypatch.setattr(settings, "DATABASE_URL", db_url)

    def run(*argv: str):
        status = main(list(argv))
        out, err = capsys.readouterr()
        return status, (json.loads(out) if "--format" in argv and "json" in argv and status == 0 else out), err

    return run


def test_daily_revenue_equals_the_sandbox_truth_through_the_cli(scheduler_sessions, worker, shop_id, store, export):
    run_job(scheduler_sessions, worker, shop_id, "HISTORICAL_INIT")
    spec = store.spec
    status, rows, _ = export("daily-revenue", "--shop", spec.domain, "--start", spec.start.isoformat(),
                             "--end", spec.end.isoformat(), "--format", "json")
    assert status == 0
    truth = truth_days(store)
    shown = {r["date"]: {k: r[k] for k in next(iter(truth.values()))} for r in rows if r["date"] in truth}
    assert shown == truth  # every figure of every day with something in it, to the cent
    assert {r["currency"] for r in rows} == {spec.currency}
    status, mer, _ = export("mer-roas", "--shop", spec.domain, "--start", spec.start.isoformat(),
                            "--end", spec.end.isoformat(), "--format", "json")
    assert {r["date"]: r["total_sales"] for r in mer if r["date"] in truth} == {
        d: v["total_sales"] for d, v in truth.items()}
    assert all(r["mer"] is None and r["spend"] == "0.00" for r in mer)  # no spend: no MER, not 0 or infinity
    status, csv_text, _ = export("top-products", "--shop", spec.domain, "--start", spec.start.isoformat(),
                                 "--end", spec.end.isoformat())
    assert status == 0 and csv_text.splitlines()[0].startswith("shop_domain,product_id,variant_id,product_title")


def test_all_stores_are_converted_day_by_day_never_summed_raw(scheduler_sessions, make_shop, export):
    euro = make_shop(currency="EUR", timezone="UTC")
    dollar = make_shop(currency="USD", timezone="UTC")
    set_reporting_currency(scheduler_sessions, "USD")
    add_rates(scheduler_sessions, "2026-03-02", USD="1.1000")
    add_rates(scheduler_sessions, "2026-03-03", USD="1.2000")
    for day, hour in ((2, 10), (3, 10), (4, 10)):  # 4 March has no rate of its own: 3 March's, flagged
        add_order(scheduler_sessions, euro, f"e{day}", datetime(2026, 3, day, hour, tzinfo=UTC), gross="100.00")
        add_order(scheduler_sessions, dollar, f"d{day}", datetime(2026, 3, day, hour, tzinfo=UTC), gross="10.00")
    add_spend(scheduler_sessions, euro, "2026-03-02", spend="50.00", currency="EUR", purchase_value="20")
    status, rows, _ = export("daily-revenue", "--shop", "all", "--start", "2026-03-02", "--end", "2026-03-04",
                             "--format", "json")
    assert status == 0
    assert [(r["date"], r["currency"], r["net_sales"], r["fx_estimated"]) for r in rows] == [
        ("2026-03-02", "USD", "120.00", False),  # 100 EUR x 1.10 + 10 USD, not 110 of nothing
        ("2026-03-03", "USD", "130.00", False),
        ("2026-03-04", "USD", "130.00", True)]
    status, mer, _ = export("mer-roas", "--shop", "all", "--start", "2026-03-02", "--end", "2026-03-02",
                            "--format", "json")
    assert (mer[0]["spend"], mer[0]["total_sales"], mer[0]["mer"]) == ("55.00", "120.00", "2.18")
    with session_scope(scheduler_sessions) as session:
        session.execute(text("UPDATE app_dashboard.agency_settings SET reporting_currency = 'GBP'"))
    status, rows, _ = export("daily-revenue", "--shop", "all", "--start", "2026-03-02", "--end", "2026-03-02",
                             "--format", "json")
    assert rows[0]["currency"] == "GBP" and rows[0]["net_sales"] is None  # no GBP rate: no figure, not a raw sum


def test_as_user_reads_through_row_level_security(scheduler_sessions, make_shop, make_user, export):
    granted = make_shop(domain="granted.myshopify.com", currency="EUR", timezone="UTC")
    make_shop(domain="hidden.myshopify.com", currency="EUR", timezone="UTC")
    add_order(scheduler_sessions, granted, "g1", datetime(2026, 3, 2, 10, tzinfo=UTC), gross="30.00")
    make_user("viewer@example.com", shops=[granted])
    args = ("--start", "2026-03-01", "--end", "2026-03-03", "--format", "json", "--as-user", "viewer@example.com")
    status, _, err = export("daily-revenue", "--shop", "hidden.myshopify.com", *args)
    assert status == 2 and err == "error: unknown shop hidden.myshopify.com\n"
    status, rows, _ = export("top-customers", "--shop", "all", *args)
    assert status == 0 and rows == []  # the order has no customer
    status, rows, _ = export("daily-revenue", "--shop", "granted.myshopify.com", *args)
    assert [(r["date"], r["net_sales"], r["orders"]) for r in rows] == [("2026-03-02", "30.00", 1)]


@pytest.mark.parametrize(("argv", "message"), [
    (("--start", "2026-02-30", "--end", "2026-03-01"), "error: --start must be a date as YYYY-MM-DD, not '2026-02-30'"),
    (("--start", "2026-03-02", "--end", "2026-03-01"), "error: the end (2026-03-01) is before the start (2026-03-02)"),
])
def test_a_bad_date_or_range_is_one_line_and_status_2(export, argv, message):
    status, _, err = export("daily-revenue", "--shop", "all", *argv)
    assert status == 2 and err == message + "\n"


def test_an_unknown_shop_is_one_line_and_status_2(export):
    status, _, err = export("campaigns", "--shop", "nope.myshopify.com", "--start", "2026-03-01",
                            "--end", "2026-03-02")
    assert status == 2 and err == "error: unknown shop nope.myshopify.com\n"
