"""Meta ingestion against the sandbox: account-days synced per second and HTTP requests per account-year.

Run: `make bench` (or `.venv/bin/python -m bench.meta`). Demo stores' ad accounts are connected through the
normal connect path, then a Worker runs their HISTORICAL_INIT backfills (default two years each) and one
INCREMENTAL (today plus the trailing 28 days) on an embedded PostgreSQL, talking HTTP to the sandbox on
loopback. Async report runs are polled without waiting (the sandbox advances one step a poll), so the figures
are the project's own cost: HTTP, parsing and loading.
"""

import argparse
import logging
import time
from datetime import date

from sqlalchemy import text

import embedded
import ingest.meta.sync  # noqa: F401  (registers the Meta job handlers)
import settings
from database import migrate, scheduler_sessionmaker, session_scope
from ingest import jobs
from ingest.meta import connect
from ingest.runner import Worker
from models import Shop, SyncJob
from sandbox.server import SandboxServer, build_world


def run_jobs(sessions, job_ids: list[int], *, threads: int) -> tuple[float, list[SyncJob]]:
    """Run the queued jobs to the end; return (seconds, finished jobs)."""
    worker = Worker(sessions, threads=threads)
    started = time.perf_counter()
    while True:
        worker.fill()
        with session_scope(sessions) as session:
            done = [session.get(SyncJob, j) for j in job_ids]
        if all(j.status in ("succeeded", "failed") for j in done):
            break
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    worker.stop()
    return elapsed, done


def connect_all(sessions, world) -> list[int]:
    """Connect every demo store's ad accounts; return the queued backfills."""
    job_ids = []
    for store in world.stores:
        with session_scope(sessions) as session:
            shop = Shop(shop_domain=store.spec.domain, name=store.spec.name, currency=store.spec.currency,
                        iana_timezone=store.spec.iana_timezone)
            session.add(shop)
            session.flush()
            for spec in store.spec.ad_accounts:
                info = connect.validate_account(spec.access_token, spec.account_id)
                job_ids.append(connect.link_account(session=session, shop_id=shop.id, token=spec.access_token,
                                                    info=info)[1])
    return job_ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=3)
    parser.add_argument("--threads", type=int, default=settings.SCHEDULER_THREADS)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per sandbox request otherwise
    server = embedded.start(settings.VAR_DIR / "bench-pgdata", database="postgres")
    embedded.drop_database(server, "bench_meta")
    embedded.create_database(server, "bench_meta")
    url = embedded.with_database(server, "bench_meta")
    migrate(url)
    sandbox = SandboxServer(build_world(stores=args.stores, seed=1)).start()
    settings.META_GRAPH_URL = f"{sandbox.base_url}/meta"
    settings.META_POLL_SECONDS = 0.0
    sessions = scheduler_sessionmaker(url)
    backfills = connect_all(sessions, sandbox.world)
    seconds, done = run_jobs(sessions, backfills, threads=args.threads)
    if any(j.status != "succeeded" for j in done):
        raise SystemExit(f"backfills failed: {[(j.id, j.error_message) for j in done if j.status != 'succeeded']}")
    account_days = sum((date.fromisoformat(j.state["until"]) - date.fromisoformat(j.state["since"])).days + 1
                       for j in done)
    requests = sum(j.state["requests"] for j in done)
    with session_scope(sessions) as session:
        # as on a day's first run: today plus the trailing window
        session.execute(text("DELETE FROM app_dashboard.sync_cursors WHERE source = 'meta'"))
        incrementals = [jobs.enqueue(session=session, shop_id=j.shop_id, source="meta", kind="INCREMENTAL",
                                     target=j.target)[0] for j in done]
    inc_seconds, inc_done = run_jobs(sessions, incrementals, threads=args.threads)
    inc_requests = sum(j.state["requests"] for j in inc_done) / len(inc_done)
    failed = [j.id for j in done + inc_done if j.status != "succeeded"]
    print(f"\nMeta ingestion, {len(done)} ad accounts of {args.stores} demo stores, {args.threads} threads, "
          f"sandbox on loopback\n")
    print("| run | account-days | seconds | account-days/s | HTTP requests | requests per account-year |")
    print("|---|---|---|---|---|---|")
    print(f"| backfill (HISTORICAL_INIT) | {account_days} | {seconds:.1f} | {account_days / seconds:.0f} | "
          f"{requests} | {requests / (account_days / 365):.0f} |")
    inc_days = (settings.META_RESTATEMENT_DAYS + 1) * len(inc_done)
    print(f"| daily INCREMENTAL (today + 28 days) | {inc_days} | {inc_seconds:.1f} | {inc_days / inc_seconds:.0f} | "
          f"{inc_requests * len(inc_done):.0f} | {inc_requests:.0f} per account-run |")
    if failed:
        print(f"\nfailed jobs: {failed}")
    sandbox.stop()
    embedded.drop_database(server, "bench_meta")


if __name__ == "__main__":
    main()
