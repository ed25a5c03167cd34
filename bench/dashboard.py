"""Dashboard speed: the server time of each page's callbacks, p50/p95, for one store and All stores.

On the reporting benchmark's database (bench.reporting.ensure_database: 50 stores and 2,000,000 orders by
default, built through the real load path), the app runs in this process. An admin granted every store logs
in, and for every page (Overview, Marketing, Products & customers), each scope (one store, All stores) and
range (90 days, a year, ending on the reporting bench's last day) the bench posts the callbacks a browser posts when the
page loads (the page itself, the selection bar, the navbar's sync indicator) and the ones a click fires
(explain a day, a campaign's trend, a CSV download), through Flask's test client: the figure is the server's
time, without a network or a browser. The first full page load (the HTML, its scripts and styles, the layout,
the dependencies and every load-time callback, in order) is timed over loopback HTTP against a real server.
Run: `.venv/bin/python -m bench.dashboard [--stores 50] [--orders 40000] [--repeats 20] [--profile]` (orders per
store); `--profile` also prints, per callback, its statements' time and the slowest of them; `--as-built
--no-migrate` measures the database as it is (after another branch applied a migration this one lacks).
"""

import argparse
import re
import statistics
import threading
import time
from datetime import timedelta
from types import SimpleNamespace

import requests
from sqlalchemy import Engine, event, text
from werkzeug.serving import make_server

import embedded
import settings
from bench import reporting
from dashboard import accounts
from database import scheduler_sessionmaker, session_scope
from tests.web import callback, login

ADMIN = "bench-admin@example.com"
PASSWORD = "bench horse battery staple"
PAGES = ("/", "/marketing", "/products")
RANGES = (90, 365)
# Callbacks every page load posts besides the page's own content (by one of their outputs): the selection bar,
# the navbar's sync indicator, and (on navigation) the store choices and the bar's visibility.
ON_LOAD = ("shop.value", "sync-indicator.children", "shop.options", "filter-bar.className")
PROFILE_STATEMENTS = 4  # the slowest statements --profile prints per callback


def create_admin(url: str) -> None:
    """An admin granted every store, those loaded since the last run too (the database is reused between runs)."""
    sessions = scheduler_sessionmaker(url)
    with session_scope(sessions) as session:
        user = accounts.get_user_by_email(session=session, email=ADMIN)
        if user is None:
            user = accounts.create_user(session=session, email=ADMIN, password=PASSWORD, role="admin")
        accounts.grant_all_shops(session=session, user_id=user.id)
    sessions.kw["bind"].dispose()


def make_server_app(url: str):
    from app import create_app

    web = embedded.with_user(url, settings.WEB_ROLE)
    return create_app({"DATABASE_URL": url, "WEB_DATABASE_URL": web, "SECRET_KEY": "bench", "TESTING": True,
                       "SESSION_COOKIE_SECURE": False, "REMEMBER_COOKIE_SECURE": False,
                       "LOGIN_LIMIT_PER_ADDRESS": "1000/minute"})


def search(shop: str, start, end) -> str:
    return f"?shop={shop}&preset=custom&start={start}&end={end}&compare=previous_period"


def percentiles(times: list[float]) -> tuple[float, float]:
    times = sorted(times)
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)]


def time_callback(client, output: str, values: dict, repeats: int) -> tuple[float, float]:
    """p50 and p95 in ms of one callback, which must answer 200 (or 204: nothing to update)."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        response = callback(client, output, values)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code in (200, 204), (output, response.status_code, response.get_data()[:300])
    return percentiles(times)


class StatementTimes:
    """Every SQL statement's time while active (SQLAlchemy cursor events): what a callback waits on in the database."""

    def __init__(self):
        self.times: list[tuple[float, str]] | None = None
        event.listen(Engine, "before_cursor_execute", self.before)
        event.listen(Engine, "after_cursor_execute", self.after)

    def before(self, conn, cursor, statement, params, context, executemany):
        conn.info["bench_started"] = time.perf_counter()

    def after(self, conn, cursor, statement, params, context, executemany):
        if self.times is not None:
            self.times.append(((time.perf_counter() - conn.info["bench_started"]) * 1000, " ".join(statement.split())))


def profile_callback(client, output: str, values: dict, statements: StatementTimes) -> tuple[float, list]:
    """One more run of a callback: its total ms and its statements' (ms, SQL), slowest first."""
    statements.times = []
    started = time.perf_counter()
    callback(client, output, values)
    total, found, statements.times = (time.perf_counter() - started) * 1000, statements.times, None
    return total, sorted(found, reverse=True)


def measure_callbacks(server, url: str, repeats: int, profile: bool = False) -> list[tuple]:
    """(page, callback, scope, days, p50, p95) for every page, scope and range; `profile` prints each callback's
    slowest statements (as the web role, under RLS) after its timing."""
    client = server.test_client()
    assert login(client, ADMIN, PASSWORD).status_code == 302
    one, last_day, campaign = data_bounds(url)
    rows, statements = [], StatementTimes() if profile else None
    for days in RANGES:  # ending on the reporting bench's last day, as its own ranges do (rates cover them)
        start, end = reporting.TODAY - timedelta(days=days - 1), reporting.TODAY
        for scope, shop in (("one store", str(one)), ("all stores", "all")):
            query = search(shop, start, end)
            for page in PAGES:
                location = {"_pages_location.pathname": page, "_pages_location.search": query}
                calls = [(output, output, location) for output in ("_pages_content.children", *ON_LOAD)]
                for name, output, values in calls + interactions(page, query, last_day, campaign):
                    rows.append((page, name, scope, days, *time_callback(client, output, values, repeats)))
                    if statements is not None:
                        print_profile(rows[-1], *profile_callback(client, output, values, statements))
    return rows


def print_profile(row: tuple, total: float, statements: list[tuple[float, str]]) -> None:
    page, name, scope, days = row[:4]
    print(f"{page} {name}, {scope}, {days} days: {total:.0f} ms, {len(statements)} statements, "
          f"{sum(ms for ms, _ in statements):.0f} ms in SQL", flush=True)
    for ms, sql in statements[:PROFILE_STATEMENTS]:
        print(f"    {ms:7.1f} ms  {sql[:110]}", flush=True)


def interactions(page: str, query: str, last_day, campaign: str) -> list[tuple[str, str, dict]]:
    """The clicks each page answers: (name, an output of the callback, its input values)."""
    location = {"_pages_location.search": query}
    if page == "/":
        day = {"points": [{"x": (last_day - timedelta(days=3)).isoformat()}]}  # a day with orders
        return [("explain a day", "explain-modal.is_open", {"sales-chart.clickData": day, **location})]
    if page == "/marketing":  # a row of the campaign table selected
        return [("campaign trend", "campaign-trend-holder.children",
                 {"campaign-grid.selectedRows": [{"key": campaign, "campaign_name": "bench"}], **location})]
    if page == "/products":
        return [("products by units", "product-grid.rowData", {"product-level.value": "product",
                                                               "product-order.value": "units_sold", **location})]
    return []


def data_bounds(url: str):
    """The first store's id, its last day with sales (a fixed day, not today) and one of its campaigns' key."""
    sessions = scheduler_sessionmaker(url)
    with session_scope(sessions) as session:
        one = session.execute(text("SELECT min(id) FROM app_dashboard.shops")).scalar_one()
        last = session.execute(text("SELECT max(day) FROM reporting.daily_sales WHERE shop_id = :one"),
                               {"one": one}).scalar_one()
        campaign = session.execute(text("SELECT account_id || '-' || campaign_id FROM reporting.daily_campaigns "
                                        "WHERE shop_id = :one LIMIT 1"), {"one": one}).scalar_one()
    sessions.kw["bind"].dispose()
    return one, last, campaign


class Loopback(requests.Session):
    """A browser's HTTP over loopback, with the few methods of Flask's test client that tests.web uses."""

    def __init__(self, base: str):
        super().__init__()
        self.base = base

    def request(self, method, url, *args, **kwargs):
        response = super().request(method, self.base + url if url.startswith("/") else url, *args, **kwargs)
        response.get_json = response.json
        response.get_data = lambda as_text=False: response.text if as_text else response.content
        return response

    def get_cookie(self, name: str):
        value = self.cookies.get(name)
        return None if value is None else SimpleNamespace(value=value)


def first_load(server, url: str, runs: int) -> list[float]:
    """Seconds to load the Overview as a browser does on a cold cache: HTML, scripts, styles, layout, callbacks."""
    httpd = make_server("127.0.0.1", 0, server, threaded=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_port}"
    query = search("all", reporting.TODAY - timedelta(days=89), reporting.TODAY)
    seconds = []
    try:
        for _ in range(runs):
            browser = Loopback(base)
            login(browser, ADMIN, PASSWORD)
            started = time.perf_counter()
            html = browser.get("/" + query).text
            for asset in re.findall(r'(?:src|href)="(/[^"]+\.(?:js|css)[^"]*)"', html):
                browser.get(asset).raise_for_status()
            browser.get("/_dash-layout").raise_for_status()
            location = {"_pages_location.pathname": "/", "_pages_location.search": query}
            for output in ("_pages_content.children", *ON_LOAD[:2]):  # /_dash-dependencies is read by each
                assert callback(browser, output, location).status_code in (200, 204)
            seconds.append(time.perf_counter() - started)
    finally:
        httpd.shutdown()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=50)
    parser.add_argument("--orders", type=int, default=40_000, help="orders per store")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--as-built", action="store_true",
                        help="use the reporting bench's database as far as it is built, building nothing")
    parser.add_argument("--profile", action="store_true",
                        help="after each callback's timing, print its slowest SQL statements")
    parser.add_argument("--no-migrate", action="store_true",
                        help="with --as-built: leave the database's migrations as they are (another branch's too)")
    args = parser.parse_args()
    if args.as_built and args.no_migrate:
        url = open_unmigrated(args.stores, args.orders, args.seed)
    elif args.as_built:
        url = reporting.open_as_built(args.stores, args.orders, args.seed)
    else:
        url = reporting.ensure_database(args.stores, args.orders, args.seed)
    create_admin(url)
    server = make_server_app(url)
    rows = measure_callbacks(server, url, args.repeats, args.profile)
    loads = first_load(server, url, runs=5)
    report(args, url, rows, loads)


def open_unmigrated(stores: int, orders: int, seed: int) -> str:
    """The reporting bench's database as it is (reporting.open_as_built without its migrate): a branch runs on it
    after another applied a migration this branch does not have, which alembic would refuse."""
    server = embedded.start(settings.VAR_DIR / reporting.PGDATA, database="postgres")
    url = embedded.with_database(server, reporting.database_name(stores, orders, seed))
    reporting.load_rates(url)
    reporting.link_ad_accounts(url)
    return url


def report(args, url: str, rows: list[tuple], loads: list[float]) -> None:
    sessions = scheduler_sessionmaker(url)
    with session_scope(sessions) as session:
        stores, orders = session.execute(text("SELECT (SELECT count(*) FROM app_dashboard.shops), "
                                              "(SELECT count(*) FROM core_warehouse.orders)")).one()
    sessions.kw["bind"].dispose()
    print(f"\n{stores} stores, {orders:,} orders; {args.repeats} runs of each callback\n")
    print("| page | callback | scope | days | p50 ms | p95 ms |\n|---|---|---|---|---|---|")
    for page, name, scope, days, p50, p95 in rows:
        print(f"| {page} | {name} | {scope} | {days} | {p50:.1f} | {p95:.1f} |")
    print(f"\nfirst full page load (All stores, 90 days), median of {len(loads)}: "
          f"{statistics.median(loads):.2f} s (max {max(loads):.2f} s)")


if __name__ == "__main__":
    main()
