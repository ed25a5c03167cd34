"""Report query speed: p50/p95 of every report for one store and all stores, against the warehouse itself.

Builds a database through the real load path (each store's sandbox bulk JSONL, `orders` and `order_sales`
parts, landed with COPY and promoted, the rollups kept by the load itself), loads the sandbox's ECB rates, then
times every report of dashboard.queries (what the pages and the export CLI run) for one store and for all
stores over 30, 90 and 365 days ending on the data's last day, beside the same daily sales computed straight
from the warehouse (core_warehouse.shop_daily_sales: the agreements and sales) in the same run.
Run: `.venv/bin/python -m bench.reporting [--stores 5] [--orders 20000] [--repeats 20]`. Bulk files are cached
under var/bench/ by size and seed.
"""

import argparse
import statistics
import time
from dataclasses import replace
from datetime import date, timedelta

from sqlalchemy import text

import embedded
import settings
from bench.ingest import CACHE, write_bulk_file
from dashboard import queries
from database import migrate, scheduler_sessionmaker, session_scope
from ingest import fx
from ingest.shopify import load
from models import Shop

TODAY = date(2026, 1, 31)  # fixed, so a cached file is the same file
DAYS = 365
DATABASE = "bench_reporting"
RANGES = (30, 90, 365)
PARTS = ("orders", "order_sales")
WAREHOUSE = """SELECT day, sum(total_sales) FROM core_warehouse.shop_daily_sales
               WHERE (CAST(:shop_id AS bigint) IS NULL OR shop_id = :shop_id) AND day BETWEEN :start AND :end
               GROUP BY day"""


def store_files(index: int, orders: int, seed: int):
    """The spec and cached bulk files of demo store `index`, holding exactly `orders` orders."""
    from sandbox.generator import build_store, demo_specs

    spec = demo_specs(stores=index + 1, seed=seed, days=DAYS, today=TODAY)[index]
    paths = {part: CACHE / f"reporting-{spec.domain}-{part}-{orders}-seed{seed}.jsonl" for part in PARTS}
    if not all(p.exists() for p in paths.values()):
        CACHE.mkdir(parents=True, exist_ok=True)
        store = build_store(replace(spec, orders_per_day=1.25 * orders / DAYS))
        for part, path in paths.items():
            written = write_bulk_file(store, part, path, orders=orders)
            assert written == orders, f"the store had only {written} orders"
    return spec, paths


def build(url: str, stores: int, orders: int, seed: int) -> float:
    """Load every store through land + promote; the seconds it took."""
    from sandbox import ecb

    sessions = scheduler_sessionmaker(url)
    started = time.perf_counter()
    for index in range(stores):
        spec, paths = store_files(index, orders, seed)
        with session_scope(sessions) as session:
            shop = Shop(shop_domain=spec.domain, name=spec.name, currency=spec.currency,
                        iana_timezone=spec.iana_timezone)
            session.add(shop)
            session.flush()
            shop_id = shop.id
        for part, path in paths.items():
            with session_scope(sessions) as session, open(path, "rb") as lines:
                batch = load.create_batch(session=session, shop_id=shop_id, job_id=None, origin="bench", parts=[part])
                load.land(session=session, shop_id=shop_id, batch_id=batch, lines=lines)
            load.promote_batch(sessions=sessions, shop_id=shop_id, batch_id=batch, parts=[part])
        print(f"loaded {spec.domain} ({spec.currency}, {orders:,} orders)", flush=True)
    with session_scope(sessions) as session:
        fx.load(session=session, content=ecb.reference_rates_csv(TODAY - timedelta(days=DAYS), TODAY))
        session.execute(text("ANALYZE"))
    sessions.kw["bind"].dispose()
    return time.perf_counter() - started


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
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)]


def measure(url: str, repeats: int) -> list[tuple]:
    sessions = scheduler_sessionmaker(url)
    rows = []
    with session_scope(sessions) as session:
        one = session.execute(text("SELECT min(id) FROM app_dashboard.shops")).scalar_one()
        for days in RANGES:
            params = {"start": TODAY - timedelta(days=days - 1), "end": TODAY}
            for scope, shop_id in (("one store", one), ("all stores", None)):
                for report in (*queries.REPORTS, WAREHOUSE):
                    p50, p95 = timings(session, report, {**params, "shop_id": shop_id}, repeats)
                    name = report if report in queries.REPORTS else "daily sales from the warehouse"
                    rows.append((name, scope, days, p50, p95))
    sessions.kw["bind"].dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=5)
    parser.add_argument("--orders", type=int, default=20_000, help="orders per store")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    for index in range(args.stores):  # generated before the clock starts
        store_files(index, args.orders, args.seed)
    server = embedded.start(settings.VAR_DIR / "bench-pgdata", database="postgres")
    embedded.drop_database(server, DATABASE)
    embedded.create_database(server, DATABASE)
    url = embedded.with_database(server, DATABASE)
    migrate(url)
    seconds = build(url, args.stores, args.orders, args.seed)
    rows = measure(url, args.repeats)
    embedded.drop_database(server, DATABASE)
    report(args, seconds, rows)


def report(args, seconds: float, rows: list[tuple]) -> None:
    print(f"\n{args.stores} stores x {args.orders:,} orders over {DAYS} days, loaded in {seconds:.0f} s; "
          f"{args.repeats} runs each\n")
    print("| report | scope | days | p50 ms | p95 ms |\n|---|---|---|---|---|")
    for name, scope, days, p50, p95 in rows:
        print(f"| {name} | {scope} | {days} | {p50:.1f} | {p95:.1f} |")


if __name__ == "__main__":
    main()
