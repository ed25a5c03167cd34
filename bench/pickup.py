"""Latency from enqueue to handler start, p50/p95 over 200 jobs: NOTIFY-woken versus polling only.

Run: `make bench` (or `.venv/bin/python -m bench.pickup`). Both modes run in the same process on the
same embedded PostgreSQL, one after the other, with the default poll interval (JOB_POLL_SECONDS).
"""

import argparse
import random
import statistics
import threading
import time

from apscheduler.schedulers.background import BackgroundScheduler

import embedded
import settings
from database import migrate, scheduler_sessionmaker, session_scope
from ingest import jobs
from models import Shop
from scheduler import SchedulerService


def run(url: str, *, listen: bool, count: int, shop_id: int) -> list[float]:
    """Enqueue `count` jobs one by one; return each one's enqueue-to-start latency in ms."""
    committed: dict[int, float] = {}
    started: dict[int, float] = {}
    done = threading.Event()

    def record_start(ctx):
        started[ctx.job.id] = time.perf_counter()
        if len(started) == count:
            done.set()

    service = SchedulerService(url, scheduler=BackgroundScheduler(), listen=listen,
                               handlers={("upload", "BENCH"): record_start})
    service.start()
    if service.listener:
        service.listener.ready.wait(5)
    sessions = scheduler_sessionmaker(url)
    tag = "notify" if listen else "poll"
    for i in range(count):
        with session_scope(sessions) as session:
            job_id, _ = jobs.enqueue(session=session, shop_id=shop_id, source="upload", kind="BENCH",
                                     target=f"{tag}-{i}")
        committed[job_id] = time.perf_counter()
        time.sleep(random.uniform(0.005, 0.03))  # jobs arrive one at a time, not in a burst
    done.wait(settings.JOB_POLL_SECONDS * 3 + 30)
    service.stop(grace_seconds=5)
    return [(started[j] - committed[j]) * 1000 for j in committed if j in started]


def summary(name: str, latencies: list[float]) -> dict:
    ordered = sorted(latencies)
    return {
        "mode": name,
        "jobs": len(ordered),
        "p50_ms": statistics.median(ordered),
        "p95_ms": ordered[int(0.95 * (len(ordered) - 1))],
        "max_ms": ordered[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    args = parser.parse_args()
    server = embedded.start(settings.VAR_DIR / "bench-pgdata", database="postgres")
    embedded.drop_database(server, "bench_pickup")
    embedded.create_database(server, "bench_pickup")
    url = embedded.with_database(server, "bench_pickup")
    migrate(url)
    with session_scope(scheduler_sessionmaker(url)) as session:
        shop = Shop(shop_domain="bench.myshopify.com", name="Bench", currency="EUR", iana_timezone="UTC")
        session.add(shop)
        session.flush()
        shop_id = shop.id
    results = [summary("LISTEN/NOTIFY", run(url, listen=True, count=args.jobs, shop_id=shop_id)),
               summary(f"polling every {settings.JOB_POLL_SECONDS:g} s",
                       run(url, listen=False, count=args.jobs, shop_id=shop_id))]
    print(f"\nPickup latency, enqueue commit -> handler start, {args.jobs} jobs each\n")
    print("| mode | jobs | p50 ms | p95 ms | max ms |\n|---|---|---|---|---|")
    for r in results:
        print(f"| {r['mode']} | {r['jobs']} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['max_ms']:.1f} |")
    ratio = results[1]["p95_ms"] / results[0]["p95_ms"]
    print(f"\np95 polling / p95 NOTIFY = {ratio:.0f}x")
    embedded.drop_database(server, "bench_pickup")


if __name__ == "__main__":
    main()
