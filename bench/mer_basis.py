"""What MER's basis costs the mer-roas report: the report as it reads now (either basis) beside the same report
without the basis (Shopify's sales alone, the SQL before migration 0015), in the same run and database.

It uses bench.reporting's database (built once through the real load path), adds `--marketplace` uploaded
marketplace orders per store spread over the year (in a transaction rolled back at the end: the database is
left as found), and times each variant for one store and all stores over 30, 90 and 365 days.
Run: `.venv/bin/python -m bench.mer_basis [--stores 5] [--orders 5000] [--marketplace 5000] [--repeats 20]`.
"""

import argparse
import statistics
import time
from datetime import timedelta

from sqlalchemy import text

from bench.reporting import RANGES, TODAY, ensure_database
from dashboard import queries
from database import scheduler_sessionmaker

VARIANTS = ("before (Shopify's sales, no basis)", "now, basis shopify", "now, basis all_channels")


def add_marketplace_orders(session, per_store: int) -> None:
    """`per_store` marketplace orders a store, one every few hours back from TODAY, in the store's currency."""
    session.execute(text("""
        INSERT INTO core_warehouse.marketplace_orders (shop_id, channel, order_id, batch_id, line_no, ordered_at,
                                                      currency, gross, discounts, refunds, fees, net)
        SELECT s.id, CASE WHEN n % 3 = 0 THEN 'Zalando' ELSE 'Amazon' END, 'M-' || n, 1, n + 1,
               CAST(:today AS timestamptz) - n * interval '1 hour' * (8760.0 / :n), s.currency,
               20 + n % 50, n % 5, 0, 2, 18 + n % 50 - n % 5
        FROM app_dashboard.shops s CROSS JOIN generate_series(1, :n) n
    """), {"n": per_store, "today": TODAY.isoformat()})


def sql_of(session, variant: str, all_shops: bool) -> str:
    """The report's SQL as read_report builds it (the basis read first), or the SQL before the basis."""
    if variant == VARIANTS[0]:
        return queries._mer_roas(all_shops)
    return queries._mer_roas_on_basis(all_shops, queries.get_mer_basis(session=session))


def time_variants(session, params: dict, repeats: int) -> dict[str, tuple[float, float]]:
    """p50 and p95 in ms of each variant, run in turn `repeats` times (interleaved: a busy machine's drift falls
    on all of them alike)."""
    times: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    for round_ in range(repeats + 1):
        for variant in VARIANTS:
            if variant != VARIANTS[0]:
                session.execute(text("UPDATE app_dashboard.agency_settings SET mer_basis = :b"),
                                {"b": variant.rsplit(" ", 1)[-1]})
            started = time.perf_counter()  # the basis's read and the planning count: read_report pays both
            session.execute(text(sql_of(session, variant, params["shop_id"] is None)), params).all()
            if round_:  # the first round warms
                times[variant].append((time.perf_counter() - started) * 1000)
    return {variant: _percentiles(sorted(ms)) for variant, ms in times.items()}


def _percentiles(ms: list[float]) -> tuple[float, float]:
    return statistics.median(ms), ms[max(0, -(-len(ms) * 95 // 100) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=5)
    parser.add_argument("--orders", type=int, default=5000, help="Shopify orders per store")
    parser.add_argument("--marketplace", type=int, default=5000, help="marketplace orders per store")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    sessions = scheduler_sessionmaker(ensure_database(args.stores, args.orders, args.seed))
    session = sessions()
    try:
        add_marketplace_orders(session, args.marketplace)
        one = session.execute(text("SELECT min(id) FROM app_dashboard.shops")).scalar_one()
        print(f"\n{args.stores} stores, {args.orders:,} Shopify and {args.marketplace:,} marketplace orders each; "
              f"{args.repeats} runs each\n")
        print("| mer-roas | scope | " + " | ".join(f"{d} days p50 / p95 ms" for d in RANGES) + " | 365 days x before |")
        print("|---|---|" + "---|" * (len(RANGES) + 1))
        for scope, shop_id in (("one store", one), ("all stores", None)):
            by_days = [time_variants(session, {"shop_id": shop_id, "start": TODAY - timedelta(days=d - 1),
                                               "end": TODAY}, args.repeats) for d in RANGES]
            for variant in VARIANTS:
                cells = [timed[variant] for timed in by_days]
                print(f"| {variant} | {scope} | " + " | ".join(f"{p50:.1f} / {p95:.1f}" for p50, p95 in cells)
                      + f" | {cells[-1][0] / by_days[-1][VARIANTS[0]][0]:.2f} |")
    finally:
        session.rollback()
        session.close()
        sessions.kw["bind"].dispose()


if __name__ == "__main__":
    main()
