"""In a real browser, on a sandbox store synced through the real clients: the Overview's KPI cards equal the
sandbox's truth, the comparison switches, "explain" finds a refund, a CSV equals the export CLI's, an admin
sees All stores, and a reload shows the same view from the URL. Screenshots during the backfill and after."""

import csv
import io
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.support.ui import Select
from sqlalchemy import text

import settings
from dashboard import export, formats, page_header, selection
from database import session_scope
from sandbox import truth
from tests.conftest import wait_for
from tests.ingest.shopify import conftest as shopify
from tests.reporting.warehouse import add_order
from tests.web import sign_in

pytestmark = pytest.mark.browser
# The Shopify ingestion's fixtures: a sandbox store over HTTP, the shop connected to it, a worker, a frozen clock.
clock, frozen_now, sandbox, store, shop_id, worker = (shopify.clock, shopify.frozen_now, shopify.sandbox,
                                                      shopify.store, shopify.shop_id, shopify.worker)
run_job = shopify.run_job
SHOTS = settings.ROOT / "screenshots"
SIZES = {"desktop": (1440, 900), "phone": (390, 844)}
# Elements reaching past the viewport's right edge: a page that scrolls sideways on a phone.
# Every chart drawn at its card's width (Plotly redraws a moment after a resize).
CHARTS_FIT = """return [...document.querySelectorAll('.js-plotly-plot')].every(p =>
    Math.abs(p.querySelector('svg.main-svg').getBoundingClientRect().width - p.getBoundingClientRect().width) < 2)"""
OVERFLOW = """const edge = document.documentElement.clientWidth + 1;
    const out = e => e.getBoundingClientRect().right > edge && getComputedStyle(e).visibility !== 'hidden';
    // AG Grid's inner rows scroll inside the grid (clipped by it): the grid itself is what must fit.
    return [...document.querySelectorAll('body *')].filter(e => out(e) && !(e.parentElement && out(e.parentElement))
        && !e.closest('.ag-root'))
    .slice(0, 5).map(e => e.tagName + '#' + e.id + '.' + e.className + ' ' + e.getBoundingClientRect().right)"""


def _shots(dash_duo, name):
    """The page at both sizes, from its top, back at the desktop size afterwards; nothing sticks out sideways."""
    SHOTS.mkdir(exist_ok=True)
    for size, (width, height) in SIZES.items():
        dash_duo.driver.set_window_size(width, height)
        dash_duo.driver.execute_script("window.dispatchEvent(new Event('resize')); window.scrollTo(0, 0)")
        dash_duo.wait_for_element("#page-title")
        # Plotly redraws its charts at the new width a moment after the resize: wait for it, not for a time.
        wait_for(lambda: dash_duo.driver.execute_script(OVERFLOW) == [], timeout=10,
                 what=f"nothing wider than the {size} screen: {dash_duo.driver.execute_script(OVERFLOW)}")
        wait_for(lambda: dash_duo.driver.execute_script(CHARTS_FIT), timeout=10, what="the charts to fit")
        dash_duo.driver.save_screenshot(str(SHOTS / f"overview-{name}-{size}.png"))
    # The whole page at each width, for reviewing what lies below the fold.
    for size, (width, _) in SIZES.items():
        dash_duo.driver.set_window_size(width, 900)
        wait_for(lambda: dash_duo.driver.execute_script(CHARTS_FIT), timeout=10, what="the charts to fit")
        height = dash_duo.driver.execute_script("return document.documentElement.scrollHeight")
        dash_duo.driver.set_window_size(width, height + 140)
        wait_for(lambda: dash_duo.driver.execute_script(CHARTS_FIT), timeout=10, what="the charts to fit")
        dash_duo.driver.save_screenshot(str(SHOTS / f"overview-{name}-{size}-full.png"))
    dash_duo.driver.set_window_size(*SIZES["desktop"])


def _login(dash_duo, email, query=""):
    dash_duo.driver.delete_all_cookies()
    sign_in(dash_duo, email, next_path="/" + query)
    dash_duo.wait_for_element("#kpis")


def _kpi(dash_duo, metric):
    return dash_duo.find_element(f"#kpi-{metric}").text


def _refund_in(sim, start: date, end: date) -> tuple[date, str]:
    """A refund (not a cancellation) the sandbox booked in [start, end]: its shop-local day and its order."""
    zone = ZoneInfo(sim.spec.iana_timezone)
    for order in reversed(sim.orders()):
        if order.get("test") or order.get("cancelledAt"):
            continue
        for refund in order.get("refunds") or []:
            day = datetime.fromisoformat(refund["createdAt"].replace("Z", "+00:00")).astimezone(zone).date()
            if start <= day <= end:
                return day, order["name"]
    raise AssertionError("the sandbox store has no refund in the range")


def test_overview_matches_the_truth_explains_a_refund_and_keeps_its_view(
        dash_duo, server, scheduler_sessions, worker, shop_id, store, make_shop, make_user, db_url, monkeypatch):
    spec = store.spec
    make_user("mia@agency.test", shops=[shop_id])
    dash_duo.start_server(server.extensions["dash"], navigate=False)
    dash_duo.driver.set_window_size(*SIZES["desktop"])

    # During the backfill: the last days only, and the header says the history is still loading.
    run_job(scheduler_sessions, worker, shop_id, "RECENT")
    _login(dash_duo, "mia@agency.test")
    dash_duo.select_dcc_dropdown("#shop", value=spec.name)
    dash_duo.wait_for_text_to_equal("#page-title", spec.name)
    dash_duo.wait_for_contains_text("#header-backfill", "Order history still loading")
    _shots(dash_duo, "backfilling")

    run_job(scheduler_sessions, worker, shop_id, "HISTORICAL_INIT")
    Select(dash_duo.find_element("#preset")).select_by_value("last_90")
    start, end = selection.preset_range("last_90", selection.today(spec.iana_timezone))
    chosen = selection.Selection(shop=str(shop_id), preset="last_90", start=start, end=end, compare="previous_period")
    dash_duo.wait_for_text_to_equal("#period", page_header.period_text(chosen))
    assert dash_duo.find_elements("#header-backfill") == [], dash_duo.find_element("#header-backfill").text
    expected = truth.totals(store, start, end)
    assert _kpi(dash_duo, "total_sales") == formats.money(expected["total_sales"], spec.currency)
    assert _kpi(dash_duo, "net_sales") == formats.money(expected["net_sales"], spec.currency)
    assert _kpi(dash_duo, "orders") == formats.count(expected["orders"])
    aov = ((expected["gross_sales"] - expected["discounts"]) / expected["orders"]).quantize(Decimal("0.01"))
    assert _kpi(dash_duo, "aov") == formats.money(aov, spec.currency)
    previous = truth.totals(store, *selection.comparison_range(start, end, "previous_period"))
    assert dash_duo.find_element("#kpi-change-total_sales").text == formats.change(
        "total_sales", expected["total_sales"], previous["total_sales"]).text
    assert "Shopify as of" in dash_duo.find_element("#freshness").text
    assert "no Meta ad account" in dash_duo.find_element("#header-no-ads").text

    # The comparison switches: a year earlier, before the store's history, leaves nothing to compare with.
    Select(dash_duo.find_element("#compare")).select_by_value("previous_year")
    dash_duo.wait_for_text_to_equal("#kpi-change-total_sales", "new")
    assert "compare=previous_year" in dash_duo.driver.current_url

    # Explain the day of a refund: the modal lists it, with the order's link to Shopify's admin.
    day, order_name = _refund_in(store, start, min(end, spec.end))
    point = dash_duo.find_elements("#sales-chart .scatterlayer .trace:first-child .point")[(day - start).days]
    ActionChains(dash_duo.driver).move_to_element(point).click().perform()
    dash_duo.wait_for_contains_text("#explain-title", f"{day:%-d %b %Y}")
    dash_duo.wait_for_contains_text("#explain-grid", order_name)
    assert "refund" in dash_duo.find_element("#explain-grid").text
    link = next(a for a in dash_duo.find_elements("#explain-grid a") if a.text == order_name)
    handle = spec.domain.removesuffix(".myshopify.com")
    assert link.get_attribute("href").startswith(f"https://admin.shopify.com/store/{handle}/orders/")
    day_truth = truth.daily_sales(store, day, day)[0]
    assert formats.money(day_truth["total_sales"], spec.currency) in dash_duo.find_element("#explain-summary").text
    _shots(dash_duo, "explain")
    dash_duo.find_element("#explain-modal .btn-close").click()
    dash_duo.wait_for_no_elements(".modal-backdrop")

    # The sales chart's CSV equals the export CLI's daily revenue, day by day.
    dash_duo.find_element(".csv-button[id*='\"name\":\"overview-sales\"']").click()
    name = f"overview-sales_shop-{shop_id}_{start.isoformat()}_{end.isoformat()}.csv"
    path = Path(dash_duo.download_path) / name
    wait_for(path.exists, what="the CSV download")
    downloaded = {row["date"]: row for row in csv.DictReader(io.StringIO(path.read_text()))}
    monkeypatch.setattr(settings, "DATABASE_URL", db_url)
    exported = export.export(report="daily-revenue", shop=spec.domain, start=start, end=end)
    assert exported and all(
        {k: downloaded[r["date"]][k] for k in ("orders", "net_sales", "total_sales")}
        == {k: str(r[k]) for k in ("orders", "net_sales", "total_sales")} for r in exported)
    assert sum(Decimal(r["total_sales"]) for r in downloaded.values()) == expected["total_sales"]
    _shots(dash_duo, "store")

    # An admin with a second store switches to All stores: the per-store table shows both.
    other = make_shop("beta.myshopify.com", "Beta Beauty", currency="EUR", timezone="Europe/Paris")
    add_order(scheduler_sessions, other, "b1", datetime.combine(end - timedelta(days=3), datetime.min.time(),
                                                                ZoneInfo("UTC")) + timedelta(hours=12), gross="80.00")
    make_user("ana@agency.test", role="admin", shops=[shop_id, other])
    with session_scope(scheduler_sessions) as session:
        session.execute(text("UPDATE app_dashboard.agency_settings SET reporting_currency = 'EUR'"))
    _login(dash_duo, "ana@agency.test", f"?shop={shop_id}&preset=last_90&compare=previous_year")
    dash_duo.wait_for_text_to_equal("#page-title", spec.name)
    dash_duo.select_dcc_dropdown("#shop", value="All stores")
    dash_duo.wait_for_text_to_equal("#page-title", "All stores")
    dash_duo.wait_for_contains_text("#store-table", "Beta Beauty")
    assert spec.name in dash_duo.find_element("#store-table").text
    total = expected["total_sales"] + Decimal("80.00")
    assert _kpi(dash_duo, "total_sales") == formats.money(total, "EUR")
    _shots(dash_duo, "all-stores")

    dash_duo.driver.refresh()
    dash_duo.wait_for_text_to_equal("#page-title", "All stores")
    assert "shop=all" in dash_duo.driver.current_url and "compare=previous_year" in dash_duo.driver.current_url
    assert _kpi(dash_duo, "total_sales") == formats.money(total, "EUR")
    assert dash_duo.find_element("#kpi-change-total_sales").text == "new"
    assert dash_duo.get_logs() == []
