"""What the rollups' upkeep adds to a backfill: the same bulk files loaded with and without the triggers.

Each run loads a store's bulk `orders` and `order_sales` files (land with COPY, then promote, as
HISTORICAL_INIT does) into a fresh database cloned from a migrated template; "without" disables the
rollup triggers first. Runs alternate (with, without, with, without...) on the shared machine and the
median of each is kept.
Run: `.venv/bin/python -m bench.rollup_upkeep [--orders 50000] [--runs 2] [--parts orders,order_sales]`.
`--profile` instead loads once with the rollups under `track_functions = 'all'` and prints each rollup
function's seconds (self and total, pg_stat_user_functions): where the upkeep's time goes.
"""

import argparse
import statistics
import time
from dataclasses import replace
from pathlib import Path

from sqlalchemy import text

import embedded
import settings
from bench.ingest import CACHE, DAYS, TODAY, add_shop, backends, checkpoint, cpu_seconds, write_bulk_file
from database import make_engine, migrate, scheduler_sessionmaker, session_scope
from ingest.shopify import load, promote

TEMPLATE = "bench_rollups_template"
PARTS = ("orders", "order_sales")


def bulk_files(orders: int, seed: int) -> dict[str, Path]:
    """The cached bulk files of one store, a part each, holding exactly `orders` orders."""
    from sandbox.generator import build_store, demo_specs

    paths = {part: CACHE / f"rollups-{part}-{orders}-seed{seed}.jsonl" for part in PARTS}
    if not all(p.exists() for p in paths.values()):
        CACHE.mkdir(parents=True, exist_ok=True)
        spec = demo_specs(stores=1, seed=seed, days=DAYS, today=TODAY)[0]
        store = build_store(replace(spec, orders_per_day=1.25 * orders / DAYS))
        for part, path in paths.items():
            written = write_bulk_file(store, part, path, orders=orders)
            assert written == orders, f"the store had only {written} orders"
    return paths


def fresh_database(server: str, name: str) -> str:
    """A new database cloned from the migrated template; return its URL."""
    embedded.drop_database(server, name)
    embedded.create_database(server, name, template=TEMPLATE)
    return embedded.with_database(server, name)


def disable_rollups(url: str) -> None:
    """Switch off every rollup trigger (the owner may; the load then runs as it did before migration 0010)."""
    engine = make_engine(url)
    with engine.begin() as connection:
        triggers = connection.exec_driver_sql(
            "SELECT tgrelid::regclass::text, tgname FROM pg_trigger WHERE tgname LIKE 'rollups\\_%%'").all()
        for table, name in triggers:
            connection.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER {name}")
    engine.dispose()


def backfill(url: str, paths: dict[str, Path]) -> tuple[float, float, int]:
    """Land and promote every part; the seconds it took and the database's CPU seconds (on a shared machine
    the wall clock measures the neighbours too)."""
    sessions = scheduler_sessionmaker(url)
    shop_id = add_shop(sessions)
    with session_scope(sessions) as session:
        before = {pid: cpu_seconds([pid]) for pid in backends(session)}
    started = time.perf_counter()
    for part, path in paths.items():
        with session_scope(sessions) as session, open(path, "rb") as lines:
            batch = load.create_batch(session=session, shop_id=shop_id, job_id=None, origin="bench", parts=[part])
            load.land(session=session, shop_id=shop_id, batch_id=batch, lines=lines)
        load.promote_batch(sessions=sessions, shop_id=shop_id, batch_id=batch, parts=[part])
    seconds = time.perf_counter() - started
    with session_scope(sessions) as session:
        days = session.execute(text("SELECT count(*) FROM reporting.daily_sales")).scalar_one()
        pids = backends(session) - {session.execute(text("SELECT pg_backend_pid()")).scalar_one()} | set(before)
        cpu = sum(cpu_seconds([pid]) - before.get(pid, 0) for pid in pids if Path(f"/proc/{pid}").exists())
    sessions.kw["bind"].dispose()
    return seconds, cpu, days


def function_profile(server: str, paths: dict[str, Path], explain_ms: int | None) -> None:
    """One backfill with the rollups, every function timed; print the reporting functions' seconds.

    With `explain_ms`, auto_explain logs the plans (rows counted) of statements that took longer, to the server's
    log (var/bench-pgdata/log)."""
    url = fresh_database(server, "bench_rollups_run")
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("ALTER DATABASE bench_rollups_run SET track_functions = 'all'")
        if explain_ms is not None:
            for setting in ("session_preload_libraries = 'auto_explain'",
                            f"auto_explain.log_min_duration = {explain_ms}", "auto_explain.log_nested_statements = on",
                            "auto_explain.log_analyze = on", "auto_explain.log_timing = off"):
                connection.exec_driver_sql(f"ALTER DATABASE bench_rollups_run SET {setting}")
    checkpoint(server)
    seconds, cpu, days = backfill(url, paths)
    print(f"with rollups, profiled: {seconds:.1f} s, database CPU {cpu:.1f} s ({days} rollup days)\n")
    with engine.begin() as connection:  # the load's backends are gone, their counts reported as they exited
        connection.exec_driver_sql("SELECT pg_stat_clear_snapshot()")
        rows = connection.exec_driver_sql(
            "SELECT schemaname || '.' || funcname, calls, self_time / 1000, total_time / 1000 "
            "FROM pg_stat_user_functions WHERE schemaname = 'reporting' ORDER BY self_time DESC").all()
        analyzed = connection.exec_driver_sql(
            "SELECT relname, analyze_count, autoanalyze_count FROM pg_stat_user_tables "
            "WHERE schemaname = 'core_warehouse' AND relname IN ('orders', 'order_agreements', 'order_sales', "
            "'order_line_items') ORDER BY relname").all()
        timed = []
        for table, _, _ in analyzed:  # what one more of the loader's costs at the end, the largest the tables get
            started = time.perf_counter()
            connection.exec_driver_sql(f"ANALYZE core_warehouse.{table} ({promote.ROLLUP_READS[table]})")
            timed.append(time.perf_counter() - started)
    engine.dispose()
    print("| function | calls | self s | total s |\n|---|---|---|---|")
    for name, calls, self_s, total_s in rows:
        print(f"| {name} | {calls} | {self_s:.2f} | {total_s:.2f} |")
    print(f"| (all) | | {sum(r[2] for r in rows):.2f} | |")
    print("\n| table | ANALYZE (loader, autovacuum) | one ANALYZE at the end, s |\n|---|---|---|")
    for (table, manual, auto), seconds in zip(analyzed, timed, strict=True):
        print(f"| {table} | {manual}, {auto} | {seconds:.2f} |")
    embedded.drop_database(server, "bench_rollups_run")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=2, help="runs of each kind, alternating")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--parts", default=",".join(PARTS),
                        help="which bulk parts to load (orders alone is what bench.ingest loads)")
    parser.add_argument("--profile", action="store_true", help="one load with the rollups, timed per function")
    parser.add_argument("--explain-ms", type=int, help="with --profile: log the plans of statements this slow")
    args = parser.parse_args()
    paths = {part: path for part, path in bulk_files(args.orders, args.seed).items() if part in args.parts.split(",")}
    server = embedded.start(settings.VAR_DIR / "bench-pgdata", database="postgres")
    embedded.drop_database(server, TEMPLATE)
    embedded.create_database(server, TEMPLATE)
    migrate(embedded.with_database(server, TEMPLATE))
    if args.profile:
        function_profile(server, paths, args.explain_ms)
        embedded.drop_database(server, TEMPLATE)
        return
    times: dict[str, list[float]] = {"with": [], "without": []}
    cpus: dict[str, list[float]] = {"with": [], "without": []}
    for _ in range(args.runs):
        for kind in ("with", "without"):
            url = fresh_database(server, "bench_rollups_run")
            if kind == "without":
                disable_rollups(url)
            checkpoint(server)
            seconds, cpu, days = backfill(url, paths)
            times[kind].append(seconds)
            cpus[kind].append(cpu)
            print(f"{kind} rollups: {seconds:.1f} s, database CPU {cpu:.1f} s ({days} rollup days)", flush=True)
            embedded.drop_database(server, "bench_rollups_run")
    embedded.drop_database(server, TEMPLATE)
    with_s, without_s = statistics.median(times["with"]), statistics.median(times["without"])
    with_c, without_c = statistics.median(cpus["with"]), statistics.median(cpus["without"])
    print(f"\nBackfill of {args.orders:,} orders (parts {', '.join(paths)}), median of {args.runs} runs each\n")
    print("| rollup upkeep | seconds | database CPU seconds |\n|---|---|---|")
    print(f"| without (triggers disabled) | {without_s:.1f} | {without_c:.1f} |")
    print(f"| with | {with_s:.1f} | {with_c:.1f} |")
    print(f"\nThe upkeep adds {100 * (with_s / without_s - 1):.1f} % to the backfill's time, "
          f"{100 * (with_c / without_c - 1):.1f} % to the database's CPU seconds.")


if __name__ == "__main__":
    main()
