"""Report query speed: p50/p95 of every report for one store and all stores, against the warehouse itself.

`ensure_database(stores, orders, seed)` builds (once) a database through the real load path: each store's
sandbox bulk JSONL (`orders` and `order_sales` parts, cached under var/bench/), loaded by `load-bulk`'s own
function (ownership check, COPY into staging, promotion; the rollups kept by the load itself), a year of Meta
facts per store through the Meta loader's upsert, and the sandbox's ECB rates. The database is kept in its
own embedded server (var/bench-reporting-pgdata) and reused by the next run of the same size and seed
(bench/dashboard.py times its pages on it); an interrupted build resumes at the first store not loaded.
The bench then times every report of dashboard.queries (what the pages and the export CLI run) for one
store and for all stores over 30, 90 and 365 days ending on the data's last day, beside the same daily
sales computed straight from the warehouse (core_warehouse.shop_daily_sales: agreements and sales) in the
same run.
Run: `.venv/bin/python -m bench.reporting [--stores 50] [--orders 40000] [--repeats 20] [--role web]` (orders per
store; `--role web` reads as the pages do, through RLS, for a member granted every store).
"""

import argparse
import fcntl
import random
import statistics
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import text

import embedded
import settings
from bench.ingest import CACHE, write_bulk_file
from dashboard import queries
from database import make_engine, migrate, scheduler_sessionmaker, session_scope, set_app_user, web_sessionmaker
from ingest import fx
from ingest.meta import load as meta_load
from models import Shop

TODAY = date(2026, 1, 31)  # fixed, so a cached file is the same file
DAYS = 365
PGDATA = "bench-reporting-pgdata"
RANGES = (30, 90, 365)
PARTS = ("orders", "order_sales")
CAMPAIGNS = ("Prospecting", "Retargeting", "Brand")
WAREHOUSE = """SELECT day, sum(total_sales) FROM core_warehouse.shop_daily_sales
               WHERE (CAST(:shop_id AS bigint) IS NULL OR shop_id = :shop_id) AND day BETWEEN :start AND :end
               GROUP BY day"""
WAREHOUSE_NAME = "daily sales from the warehouse"
READER = "bench-reporting-reader@example.com"
PASSWORD = "reporting bench reader horse staple"


def store_spec(index: int, seed: int):
    """The spec of demo store `index` (cheap: no orders generated)."""
    from sandbox.generator import demo_specs

    return demo_specs(stores=index + 1, seed=seed, days=DAYS, today=TODAY)[index]


def store_files(spec, orders: int, seed: int) -> dict:
    """The cached bulk files of a demo store, holding exactly `orders` orders (generated on first use)."""
    from sandbox.generator import build_store

    stem = f"reporting-{spec.domain}-{{part}}-{orders}-seed{seed}"
    paths = {part: CACHE / f"{stem.format(part=part)}.jsonl" for part in PARTS}
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"{stem.format(part='files')}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process generating the same store: wait for its files
        if not all(p.exists() for p in paths.values()):
            store = build_store(replace(spec, orders_per_day=1.25 * orders / DAYS))
            for part, path in paths.items():
                written = write_bulk_file(store, part, path, orders=orders)
                assert written == orders, f"the store had only {written} orders"
    return paths


def database_name(stores: int, orders: int, seed: int) -> str:
    return f"bench_reporting_{stores}x{orders}_seed{seed}"


def ensure_database(stores: int = 50, orders: int = 40_000, seed: int = 5) -> str:
    """The URL of the bench database of `stores` stores of `orders` orders each: built once, then reused."""
    server = embedded.start(settings.VAR_DIR / PGDATA, database="postgres")
    url = embedded.with_database(server, database_name(stores, orders, seed))
    embedded.create_database(server, database_name(stores, orders, seed))
    migrate(url)  # a reused database gets the migrations added since it was built
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE IF NOT EXISTS public.bench_built (domain text PRIMARY KEY, "
                                   "seconds float NOT NULL)")
        built = {row[0] for row in connection.exec_driver_sql("SELECT domain FROM public.bench_built")}
    engine.dispose()
    if len(built) < stores + 1:  # the stores, then the rates
        build(url, stores, orders, seed, frozenset(built), keep_files=False)
    link_ad_accounts(url)
    return url


def open_as_built(stores: int, orders: int, seed: int) -> str:
    """The URL of the bench database as far as its build went (an unfinished build), with its rates."""
    server = embedded.start(settings.VAR_DIR / PGDATA, database="postgres")
    url = embedded.with_database(server, database_name(stores, orders, seed))
    migrate(url)
    load_rates(url)
    link_ad_accounts(url)
    return url


def link_ad_accounts(url: str) -> None:
    """Link each store's Meta accounts, as Settings does (the pages show Meta figures for linked accounts)."""
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("""
            INSERT INTO app_dashboard.ad_accounts (shop_id, account_id, name, currency)
            SELECT DISTINCT shop_id, account_id, account_id, currency FROM core_warehouse.fact_marketing_daily
            ON CONFLICT (shop_id, account_id) DO NOTHING""")
    engine.dispose()


def build(url: str, stores: int, orders: int, seed: int, built: frozenset[str] = frozenset(), *,
          keep_files: bool = True) -> None:
    """Load every store not yet built through `load-bulk`, then the rates; each step recorded when done."""
    from ingest.shopify.__main__ import load_bulk

    settings.DATABASE_URL = url  # load-bulk's database
    sessions = scheduler_sessionmaker(url)
    for index in range(stores):
        spec = store_spec(index, seed)
        if spec.domain in built:
            continue
        paths = store_files(spec, orders, seed)
        started = time.perf_counter()
        with session_scope(sessions) as session:  # a shop left by an interrupted build is loaded again
            shop_id = session.execute(text("SELECT id FROM app_dashboard.shops WHERE shop_domain = :d"),
                                      {"d": spec.domain}).scalar()
            if shop_id is None:
                shop = Shop(shop_domain=spec.domain, name=spec.name, currency=spec.currency,
                            iana_timezone=spec.iana_timezone)
                session.add(shop)
                session.flush()
                shop_id = shop.id
        for part, path in paths.items():
            load_bulk(shop=spec.domain, path=path, part=part)
        with session_scope(sessions) as session:
            add_marketing(session, shop_id, spec, seed)
        seconds = time.perf_counter() - started
        mark_built(url, spec.domain, seconds)
        for path in paths.values() if not keep_files else ():  # 50 stores' files would fill the disk
            path.unlink()
        print(f"loaded {index + 1}/{stores} {spec.domain} ({spec.currency}, {orders:,} orders) in {seconds:.0f} s",
              flush=True)
    sessions.kw["bind"].dispose()
    load_rates(url)
    mark_built(url, "ecb rates", 0)


def load_rates(url: str) -> None:
    """The sandbox's ECB rates for the year (loading them again changes nothing), then fresh statistics."""
    from sandbox import ecb

    sessions = scheduler_sessionmaker(url)
    with session_scope(sessions) as session:
        fx.load(session=session, content=ecb.reference_rates_csv(TODAY - timedelta(days=DAYS), TODAY))
    with session_scope(sessions) as session:
        session.execute(text("ANALYZE"))
    sessions.kw["bind"].dispose()


def mark_built(url: str, step: str, seconds: float) -> None:
    """Record a finished step of the build (as the owner: the bench's own table)."""
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO public.bench_built VALUES (:d, :s) ON CONFLICT (domain) DO NOTHING"),
                           {"d": step, "s": seconds})
    engine.dispose()


def add_marketing(session, shop_id: int, spec, seed: int) -> None:
    """A year of Meta insights per ad account and campaign, through the Meta loader's upsert (seeded)."""
    chooser = random.Random(f"{seed}-{spec.domain}")
    synced = datetime(2026, 2, 1, tzinfo=UTC)
    for account in spec.ad_accounts:
        rows = {"account": [], "campaign": []}
        for n in range(DAYS):
            day = (TODAY - timedelta(days=n)).isoformat()
            campaigns = [insights_row(chooser, day, account.currency) | {"campaign_id": str(k), "campaign_name": name}
                         for k, name in enumerate(CAMPAIGNS)]
            rows["campaign"] += campaigns
            rows["account"].append({"date_start": day, "account_currency": account.currency, **{
                key: str(sum(Decimal(c[key]) for c in campaigns)) for key in ("spend", "impressions", "clicks")},
                "actions": [{"action_type": "omni_purchase",
                             "value": str(sum(Decimal(c["actions"][0]["value"]) for c in campaigns))}],
                "action_values": [{"action_type": "omni_purchase",
                                   "value": str(sum(Decimal(c["action_values"][0]["value"]) for c in campaigns))}]})
        for level, level_rows in rows.items():
            meta_load.upsert_page(session=session, shop_id=shop_id, account_id=account.account_id, level=level,
                                  rows=level_rows, currency=account.currency, synced_at=synced)


def insights_row(chooser: random.Random, day: str, currency: str) -> dict:
    spend = Decimal(chooser.randint(2000, 40000)) / 100
    purchases = chooser.randint(0, 12)
    return {"date_start": day, "account_currency": currency, "spend": str(spend),
            "impressions": str(chooser.randint(1000, 90000)), "clicks": str(chooser.randint(10, 900)),
            "actions": [{"action_type": "omni_purchase", "value": str(purchases)}],
            "action_values": [{"action_type": "omni_purchase", "value": str(purchases * Decimal("41.50"))}]}


def timings(session, sql_or_report: str, params: dict, repeats: int) -> tuple[float, float]:
    """p50 and p95 in milliseconds of a report (or a SQL statement) run `repeats` times."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        if sql_or_report in queries.REPORTS:
            queries.read_report(session=session, report=sql_or_report, **params)
        else:
            session.execute(text(sql_or_report), params).all()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[max(0, -(-len(times) * 95 // 100) - 1)]


def reader_id(url: str) -> int:
    """The bench's web reader: a member granted every store (again each run: stores loaded since are granted)."""
    from dashboard import accounts

    sessions = scheduler_sessionmaker(url)
    with session_scope(sessions) as session:
        user = accounts.get_user_by_email(session=session, email=READER)
        user = user or accounts.create_user(session=session, email=READER, password=PASSWORD, role="member")
        accounts.grant_all_shops(session=session, user_id=user.id)
        user_id = user.id
    sessions.kw["bind"].dispose()
    return user_id


def measure(url: str, repeats: int, warehouse_repeats: int, role: str = "scheduler") -> list[tuple]:
    """(report, scope, days, p50, p95) for every report, scope and range, and the warehouse's daily sales; as the
    scheduler, or as the web role for a member granted every store (RLS applies, as on the pages)."""
    if role == "web":
        user_id, sessions = reader_id(url), web_sessionmaker(embedded.with_user(url, settings.WEB_ROLE))
    else:
        user_id, sessions = None, scheduler_sessionmaker(url)
    rows = []
    with session_scope(sessions) as session:
        if user_id is not None:
            set_app_user(session, user_id)
        one = session.execute(text("SELECT min(id) FROM app_dashboard.shops")).scalar_one()
        for scope, shop_id in (("one store", one), ("all stores", None)):
            for report in (*queries.REPORTS, *((WAREHOUSE,) if role == "scheduler" else ())):  # web: no warehouse
                for days in RANGES:
                    params = {"start": TODAY - timedelta(days=days - 1), "end": TODAY, "shop_id": shop_id}
                    timings(session, report, params, 1)  # warm: the first call pays for planning and cache
                    n = repeats if report in queries.REPORTS else warehouse_repeats
                    p50, p95 = timings(session, report, params, n)
                    rows.append((report if report in queries.REPORTS else WAREHOUSE_NAME, scope, days, p50, p95))
    sessions.kw["bind"].dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=50)
    parser.add_argument("--orders", type=int, default=40_000, help="orders per store")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warehouse-repeats", type=int, default=5)
    parser.add_argument("--role", choices=("scheduler", "web"), default="scheduler",
                        help="read as the scheduler (the export CLI) or as the web role for a member granted every "
                             "store (the pages; RLS applies)")
    parser.add_argument("--build-only", action="store_true", help="build (or resume) the database, measure nothing")
    parser.add_argument("--as-built", action="store_true",
                        help="measure the database as far as it is built (an unfinished build), building nothing")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.as_built:
        url = open_as_built(args.stores, args.orders, args.seed)
    else:
        url = ensure_database(args.stores, args.orders, args.seed)
    if args.build_only:
        print(f"database ready: {url} ({time.perf_counter() - started:.0f} s)")
        return
    report(args, url, measure(url, args.repeats, args.warehouse_repeats, args.role))


def report(args, url: str, rows: list[tuple]) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        orders, stores, built = connection.exec_driver_sql(
            "SELECT (SELECT count(*) FROM core_warehouse.orders), (SELECT count(*) FROM app_dashboard.shops), "
            "(SELECT sum(seconds) FROM public.bench_built)").one()
    engine.dispose()
    print(f"\n{stores} stores, {orders:,} orders over {DAYS} days (built through load-bulk in {built / 60:.0f} min); "
          f"reports {args.repeats} runs each, the warehouse {args.warehouse_repeats}, read as the {args.role} role\n")
    table = {(name, scope): {} for name, scope, *_ in rows}
    for name, scope, days, p50, p95 in rows:
        table[(name, scope)][days] = (p50, p95)
    print("| report | scope | 30 days p50 / p95 ms | 90 days p50 / p95 ms | 365 days p50 / p95 ms |")
    print("|---|---|---|---|---|")
    for (name, scope), by_days in table.items():
        cells = " | ".join(f"{by_days[d][0]:.1f} / {by_days[d][1]:.1f}" for d in RANGES)
        print(f"| {name} | {scope} | {cells} |")


if __name__ == "__main__":
    main()
