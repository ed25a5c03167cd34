"""Explain a number: the speed of reporting.sales_ledger (the rows behind a day or a period) beside its baseline.

On bench.reporting's database (each store's sandbox bulk files loaded through land + promote), times the ledger
of one day and of 30, 90 and 365 days (capped at the rows the modal shows, but computed whole) and what a KPI
card's modal runs over the same days (its latest days only), for one store and all stores, beside the
daily-revenue report over the same days (the figures the ledger explains), measured in the same run.
Run: `.venv/bin/python -m bench.explain [--stores 2] [--orders 20000] [--repeats 20]`.
"""

import argparse
import statistics
import time
from datetime import timedelta

from sqlalchemy import text

import embedded
import settings
from bench.reporting import TODAY, build
from dashboard import explain, queries, selection
from database import migrate, scheduler_sessionmaker, session_scope

DATABASE = "bench_explain"
RANGES = (1, 30, 90, 365)


def timed(function, repeats: int) -> tuple[float, float]:
    """p50 and p95 in milliseconds."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)]


def measure(url: str, repeats: int) -> list[tuple]:
    sessions = scheduler_sessionmaker(url)
    rows = []
    with session_scope(sessions) as session:
        one = session.execute(text("SELECT min(id) FROM app_dashboard.shops")).scalar_one()
        for days in RANGES:
            span = {"start": TODAY - timedelta(days=days - 1), "end": TODAY}
            for scope, shop_id in (("one store", one), ("all stores", None)):
                def ledger_read(shop_id=shop_id, span=span):
                    queries.read_sales_ledger(session=session, shop_id=shop_id, **span, limit=explain.SHOWN_ROWS + 1)

                def report_read(shop_id=shop_id, span=span):
                    queries.read_report(session=session, report="daily-revenue", shop_id=shop_id, **span)

                def modal(shop_id=shop_id, span=span):
                    chosen = selection.Selection(shop=str(shop_id or selection.ALL_STORES), preset="custom",
                                                 compare="none", **span)
                    explain.content(session=session, chosen=chosen, arg="total_sales")

                ledger, report = timed(ledger_read, repeats), timed(report_read, repeats)
                rows.append((scope, days, *ledger, *timed(modal, repeats), *report))
    sessions.kw["bind"].dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=2)
    parser.add_argument("--orders", type=int, default=20_000, help="orders per store")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    server = embedded.start(settings.VAR_DIR / "bench-pgdata", database="postgres")
    embedded.drop_database(server, DATABASE)
    embedded.create_database(server, DATABASE)
    url = embedded.with_database(server, DATABASE)
    migrate(url)
    build(url, args.stores, args.orders, args.seed)
    rows = measure(url, args.repeats)
    embedded.drop_database(server, DATABASE)
    print(f"\n{args.stores} stores x {args.orders:,} orders; {args.repeats} runs each; ledger capped at "
          f"{explain.SHOWN_ROWS + 1} rows\n")
    print("| scope | days | whole ledger p50 / p95 ms | card's modal p50 / p95 ms | daily-revenue p50 / p95 ms "
          "| modal / daily-revenue p95 |")
    print("|---|---|---|---|---|---|")
    for scope, days, l50, l95, m50, m95, r50, r95 in rows:
        print(f"| {scope} | {days} | {l50:.1f} / {l95:.1f} | {m50:.1f} / {m95:.1f} | {r50:.1f} / {r95:.1f} "
              f"| {m95 / r95:.1f} |")


if __name__ == "__main__":
    main()
