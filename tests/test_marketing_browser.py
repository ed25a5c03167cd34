"""In a real browser, as a member granted one demo store: the Marketing and Products pages against the export CLI.

The store is the sandbox's (Shopify and Meta over HTTP), connected and synced the normal way; the page's figures
must equal `python -m dashboard.export` for the same range and user, and a CSV download must equal its CSV.
"""

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text

import settings
from dashboard import export as export_cli
from dashboard import formats
from database import session_scope
from ingest.meta import connect as meta_connect
from ingest.runner import Worker
from ingest.shopify.connect import connect_store
from sandbox import ads, generator, shopify_api
from sandbox.meta_api import MetaFaults
from sandbox.server import SandboxServer, World
from tests.clock import DEFAULT, frozen
from tests.conftest import wait_for
from tests.web import sign_in

pytestmark = pytest.mark.browser
SHOTS = settings.ROOT / "screenshots"
DAYS = 60
STORE = 1  # Harbor & Pine Coffee: USD, two USD ad accounts
MEMBER = "mo@agency.test"
# Scroll a part to the top of the window; true once it is there (or the page can scroll no further).
SCROLL_TO = """
    const part = document.querySelector(arguments[0]);
    window.scrollTo(0, part.getBoundingClientRect().top + scrollY - 8);
    return Math.abs(part.getBoundingClientRect().top - 8) < 2
        || innerHeight + scrollY >= document.documentElement.scrollHeight - 1;
"""


@pytest.fixture
def frozen_now():
    with frozen(DEFAULT) as instant:
        yield instant


@pytest.fixture
def demo(frozen_now, monkeypatch, tmp_path):
    """Two demo stores of DAYS days over HTTP (the sandbox's Shopify and Meta), the settings pointed at them."""
    import ingest.meta.sync  # noqa: F401  (registers the Meta job handlers)
    import ingest.shopify.sync  # noqa: F401  (registers the Shopify job handlers)

    specs = generator.demo_specs(stores=2, seed=1, today=frozen_now.date(), days=DAYS)
    stores = [generator.build_store(spec) for spec in specs]
    accounts = {}
    for store in stores:
        for account in ads.build_ad_accounts(
                seed=store.spec.seed, accounts=[a.__dict__ for a in store.spec.ad_accounts],
                daily_sales=store.daily_order_summary, start=store.spec.start, end=store.spec.end,
                shop_currency=store.spec.currency):
            accounts[account.account_id] = account
    world = World(stores=stores, shopify=shopify_api.ShopifyAPI(stores, files=tmp_path), ad_accounts=accounts,
                  meta_faults=MetaFaults())
    server = SandboxServer(world).start(live=False)
    base = server.base_url
    monkeypatch.setattr(settings, "SHOPIFY_ADMIN_URL", base + "/shopify/{shop}/admin/api/{version}/graphql.json")
    monkeypatch.setattr(settings, "META_GRAPH_URL", base + "/meta")
    monkeypatch.setattr(settings, "WEBHOOK_BASE_URL", "http://127.0.0.1:1/app")  # nothing listens: no deliveries
    monkeypatch.setattr(settings, "SHOPIFY_BULK_POLL_SECONDS", 0.05)
    for name in ("META_POLL_SECONDS", "META_HTTP_BACKOFF_SECONDS", "META_USAGE_PAUSE_SECONDS"):
        monkeypatch.setattr(settings, name, 0.0)
    yield world
    server.stop()


@pytest.fixture
def synced(demo, scheduler_sessions, db_url, monkeypatch, make_user):
    """The store connected, its ad accounts linked, every first sync run; a member granted only it."""
    spec = demo.stores[STORE].spec
    with session_scope(scheduler_sessions) as session:
        shop_id = connect_store(session=session, domain=spec.domain, access_token=spec.access_token,
                                webhook_secret=spec.client_secret).id
        for account in spec.ad_accounts:
            info = meta_connect.validate_account(account.access_token, account.account_id)
            meta_connect.link_account(session=session, shop_id=shop_id, token=account.access_token, info=info)
    worker = Worker(scheduler_sessions, threads=2, lease_seconds=30, backoff_base=0.01, backoff_max=0.05)
    try:
        def settled():
            worker.fill()
            with session_scope(scheduler_sessions) as session:
                states = session.execute(text("SELECT status FROM app_dashboard.sync_jobs")).scalars().all()
            return states if all(s in ("succeeded", "failed", "cancelled") for s in states) else None

        assert set(wait_for(settled, timeout=120, what="the first syncs")) == {"succeeded"}
    finally:
        worker.stop(grace_seconds=5)
    make_user(MEMBER, shops=[shop_id])
    monkeypatch.setattr(settings, "DATABASE_URL", db_url)  # the export CLI reads this test's database
    return spec, shop_id


def _shots(dash_duo, url, name, width, height, parts):
    """Load the page at a window size, check nothing is wider than the window, and save it part by part."""
    SHOTS.mkdir(exist_ok=True)
    # The viewport itself (a headless window does not always pass a resize on to the page).
    dash_duo.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
    dash_duo.driver.get(url)
    assert dash_duo.driver.execute_script("return innerWidth") == width
    for part in parts:
        dash_duo.wait_for_element(part)
    for part in parts:  # every grid's rows drawn, so the sections below stop moving
        if dash_duo.find_elements(f"{part} .ag-root"):
            dash_duo.wait_for_element(f"{part} .ag-row")
    if "#campaign-trend" in parts:
        dash_duo.wait_for_element("#campaign-trend-graph .scatterlayer .trace")
    dash_duo.driver.execute_script("window.scrollTo(0, document.getElementById('page-title').offsetTop - 8)")
    dash_duo.driver.save_screenshot(str(SHOTS / f"{name}-{width}x{height}.png"))
    for part in parts:  # scrolled into the viewport: an element screenshot resizes the page under the charts
        wait_for(lambda: dash_duo.driver.execute_script(SCROLL_TO, part), what=f"{part} in view")  # noqa: B023
        dash_duo.driver.save_screenshot(str(SHOTS / f"{name}-{width}x{height}-{part.strip('#')}.png"))
    widths = dash_duo.driver.execute_script(
        "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], f"{name} is wider than a {width} px window: {widths}"


def _column(dash_duo, grid, column):
    """The shown texts of a grid column, top to bottom (the current page)."""
    shown = _rows_by_index(dash_duo, grid, [column])
    return [shown[index][column] for index in sorted(shown)]


def _rows_by_index(dash_duo, grid, columns):
    """{row index: {column: text}} for the shown page (pinned and scrolled parts joined by row index)."""
    cells = dash_duo.driver.execute_script("""
        const [grid, columns] = arguments;
        return Array.from(document.querySelectorAll(`#${grid} .ag-row [col-id]`))
            .filter(cell => columns.includes(cell.getAttribute('col-id')))
            .map(cell => [Number(cell.closest('.ag-row').getAttribute('row-index')), cell.getAttribute('col-id'),
                          cell.innerText.trim()]);
    """, grid, columns)
    out = {}
    for index, column, text_ in cells:
        out.setdefault(index, {})[column] = text_
    return out


def _click(dash_duo, selector):
    """Click a button wherever it is on the page (a click event, as a tap or a mouse sends)."""
    dash_duo.driver.execute_script("arguments[0].click()", dash_duo.find_element(selector))


def _download(dash_duo, name):
    """The text of a file the browser downloaded, once it is complete."""
    path = Path(dash_duo.download_path) / name
    return wait_for(lambda: path.exists() and path.read_text(), what=f"the download {name}")


def _amount(money_text):
    return Decimal(re.sub(r"[^0-9.\-]", "", money_text))


def _cli(capsys, report, domain, start, end, *extra):
    capsys.readouterr()  # only the CLI's own output, not the test server's banner
    assert export_cli.main([report, "--shop", domain, "--start", start.isoformat(), "--end", end.isoformat(),
                            "--as-user", MEMBER, *extra]) == 0
    return capsys.readouterr().out


def test_marketing_and_products_match_the_export_cli(dash_duo, server, synced, capsys):
    spec, shop_id = synced
    end = spec.end
    start = end - timedelta(days=29)
    search = f"?shop={shop_id}&preset=custom&start={start}&end={end}&compare=previous_period"
    campaigns = export_cli.export(report="campaigns", shop=spec.domain, start=start, end=end, as_user=MEMBER)
    assert len(campaigns) >= 2, "the demo store should have several campaigns in the range"

    dash_duo.start_server(server.extensions["dash"], navigate=False)
    dash_duo.driver.execute_cdp_cmd("Page.setDownloadBehavior",
                                    {"behavior": "allow", "downloadPath": dash_duo.download_path})
    base = sign_in(dash_duo, MEMBER)
    dash_duo.wait_for_element("#page-title")

    dash_duo.driver.get(base + "/marketing" + search)
    dash_duo.wait_for_text_to_equal("#page-title", "Marketing")
    dash_duo.wait_for_element("#campaign-grid .ag-row [col-id='spend']")
    # Every shown campaign's figures are the CLI's, in the store's currency.
    columns = ["campaign_name", "spend", "impressions", "clicks", "purchases", "purchase_value", "roas"]
    shown = _rows_by_index(dash_duo, "campaign-grid", columns)
    expected = campaigns[:len(shown)]
    assert [shown[i] for i in sorted(shown)] == [{
        "campaign_name": row["campaign_name"], "spend": formats.money(row["spend"], "USD"),
        "impressions": formats.count(row["impressions"]), "clicks": formats.count(row["clicks"]),
        "purchases": formats.count(row["purchases"]), "purchase_value": formats.money(row["purchase_value"], "USD"),
        "roas": formats.ratio(Decimal(row["roas"])) if row["roas"] else formats.MISSING} for row in expected]
    # The KPIs add up the CLI's campaigns (the account-level figures equal their sum in the sandbox).
    spend_kpi = dash_duo.find_element("#marketing-kpis .kpi:first-child .kpi-value").text
    assert _amount(spend_kpi) == sum(Decimal(row["spend"]) for row in campaigns)
    # The biggest spender is selected: its trend shows.
    dash_duo.wait_for_contains_text("#campaign-trend h2", campaigns[0]["campaign_name"])

    # Sorting by spend is numeric, both ways.
    header = "#campaign-grid .ag-header-cell[col-id='spend'] .ag-header-cell-label"
    dash_duo.find_element(header).click()
    ascending = sorted(Decimal(r["spend"]) for r in campaigns)[:len(shown)]
    wait_for(lambda: [_amount(t) for t in _column(dash_duo, "campaign-grid", "spend")] == ascending,
             what="campaigns sorted by spend, ascending")
    dash_duo.find_element(header).click()
    descending = sorted((Decimal(r["spend"]) for r in campaigns), reverse=True)[:len(shown)]
    wait_for(lambda: [_amount(t) for t in _column(dash_duo, "campaign-grid", "spend")] == descending,
             what="campaigns sorted by spend, descending")

    # Selecting another campaign shows its trend.
    second = campaigns[1]["campaign_name"]
    cell = next(c for c in dash_duo.find_elements("#campaign-grid .ag-row [col-id='campaign_name']")
                if c.text == second)
    dash_duo.driver.execute_script("arguments[0].click()", cell)  # rows may still be gliding to their sorted place
    dash_duo.wait_for_contains_text("#campaign-trend h2", second)
    legend = dash_duo.find_element("#campaign-trend-graph").text
    assert "Ad spend" in legend and "ROAS" in legend
    # Its days (the trend's CSV) add up to the CLI's figures for that campaign.
    _click(dash_duo, "#campaign-trend-csv button")
    key = f"{campaigns[1]['account_id']}-{campaigns[1]['campaign_id']}"
    trend_csv = _download(dash_duo, f"campaign-trend_shop-{shop_id}_{key}_{start}_{end}.csv")
    days = list(csv.DictReader(io.StringIO(trend_csv)))
    assert sum(Decimal(day["spend"]) for day in days) == Decimal(campaigns[1]["spend"])
    assert sum(Decimal(day["purchase_value"]) for day in days) == Decimal(campaigns[1]["purchase_value"])

    # The campaigns' CSV is the CLI's, byte for byte.
    _click(dash_duo, "#campaigns-csv button")
    downloaded = _download(dash_duo, f"campaigns_shop-{shop_id}_{start}_{end}.csv")
    assert downloaded == _cli(capsys, "campaigns", spec.domain, start, end)

    # Products: the top product is the CLI's top product.
    top = export_cli.export(report="top-products", shop=spec.domain, start=start, end=end, as_user=MEMBER)
    dash_duo.driver.get(base + "/products" + search)
    dash_duo.wait_for_text_to_equal("#page-title", "Products & customers")
    dash_duo.wait_for_element("#product-grid .ag-row [col-id='net_sales']")
    first = _rows_by_index(dash_duo, "product-grid", ["product_title", "variant_title", "net_sales"])[0]
    assert first == {"product_title": top[0]["product_title"], "variant_title": top[0]["variant_title"] or "",
                     "net_sales": formats.money(top[0]["net_sales"], "USD")}
    _click(dash_duo, "#products-csv button")
    downloaded = _download(dash_duo, f"top-products_shop-{shop_id}_variant-net_sales_{start}_{end}.csv")
    assert downloaded == _cli(capsys, "top-products", spec.domain, start, end)
    dash_duo.wait_for_element("#customer-grid .ag-row [col-id='customer']")
    assert "@" not in "".join(_column(dash_duo, "customer-grid", "customer")).replace("***@", "")
    # Ranked by units, the first variant sold the most units.
    next(label for label in dash_duo.find_elements("#product-order label") if label.text == "By units").click()
    most = max(row["units_sold"] for row in top)  # among the top by net sales: the top by units sold no fewer

    def ranked_by_units():
        units = [int(text.replace(",", "")) for text in _column(dash_duo, "product-grid", "units_sold")]
        csv_arg = dash_duo.driver.execute_script("return document.querySelector('#products-csv button').id")
        return "units_sold" in csv_arg and units == sorted(units, reverse=True) and units[0] >= most

    wait_for(ranked_by_units, what="products ranked by units")

    for width, height in ((1440, 900), (390, 844)):
        _shots(dash_duo, base + "/marketing" + search, "marketing", width, height,
               ["#marketing-kpis", "#campaigns", "#campaign-trend"])
        _shots(dash_duo, base + "/products" + search, "products", width, height,
               ["#products-kpis", "#products", "#customers"])
    logs = dash_duo.get_logs()
    assert logs == [], logs


def test_empty_states_are_designed_and_lead_an_admin_to_settings(dash_duo, server, make_shop, make_user):
    shop = make_shop("quiet.myshopify.com", "Quiet Candles", currency="EUR", timezone="Europe/Paris")
    make_user("boss@agency.test", role="admin", shops=[shop])
    dash_duo.start_server(server.extensions["dash"], navigate=False)
    base = sign_in(dash_duo, "boss@agency.test")
    dash_duo.wait_for_element("#page-title")
    for width, height in ((1440, 900), (390, 844)):
        dash_duo.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        dash_duo.driver.get(f"{base}/products?shop={shop}")
        dash_duo.wait_for_contains_text("#no-orders", "No orders in this period")
        dash_duo.driver.save_screenshot(str(SHOTS / f"products-empty-{width}x{height}.png"))
        dash_duo.driver.get(f"{base}/marketing?shop={shop}")
        dash_duo.wait_for_contains_text("#no-ad-account", "No ad account linked")
        dash_duo.driver.save_screenshot(str(SHOTS / f"marketing-no-ad-account-{width}x{height}.png"))
    _click(dash_duo, "#no-ad-account-settings")
    dash_duo.wait_for_element("#settings-page")
    logs = dash_duo.get_logs()
    assert logs == [], logs
