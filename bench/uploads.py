"""CSV upload speed and memory: a marketplace-orders file through the whole upload path beside a bare COPY.

Measured in the same run on the embedded PostgreSQL, each in a fresh migrated database and a child process
of its own (so its peak RSS is its own):
- upload: `receive` (keep the file, SHA-256) then the batch's job run as the scheduler runs it (the file COPYed
  typed straight into the batch's own table while the client checks each line's shape, set-based checks, the
  two indexes, the channel sums, promotion attaching the table to core_warehouse.marketplace_orders and adding
  the sums to the rollup), per phase from the batch's processing log;
- bare COPY: the same file COPYed (FORMAT csv, HEADER) into a table of nine text columns: nothing checked,
  nothing typed, no index (nothing loads it faster).
- typed floor: the same file COPYed into a new table of the warehouse's columns and types (money numeric, the
  instant timestamptz, nothing checked), then its two indexes built once, as a batch's table gets them: what
  any design must at least do to have the rows typed, durable and indexed;
- staging alone, both ways: the file COPYed as it is (since 0022 straight into the batch's table, typed, its
  lines' shapes checked by the client as it streams: more than before, when it went into a temporary table
  of text and numbers), and read row by row in Python into a temporary table of text (as a file COPY cannot
  take is), alternately.
Peak memory is measured at two sizes: flat means it does not grow with the file. Beside the wall clock, CPU
seconds (this process's and the embedded server's, its exited backends included): on a machine shared with
other work they move far less than the wall clock, so their ratio is the steadier comparison.
Run: `.venv/bin/python -m bench.uploads [--rows 1000000] [--small 100000]`. Files are cached under var/bench/.
"""

import argparse
import multiprocessing
import os
import time
from pathlib import Path

import psycopg2
from sqlalchemy import text

import embedded
import settings
from bench.ingest import add_shop, checkpoint, own_cpu, peak_rss_mb
from database import libpq_url, migrate, scheduler_sessionmaker, session_scope

CACHE = settings.VAR_DIR / "bench"
TEMPLATE = "bench_uploads_template"
HEADER = "Order ID,Date,Currency,Gross,Discounts,Refunds,Fees,Net,Channel\n"
CHANNELS = ("Amazon", "Zalando", "eBay", "Etsy")


def cpu_now() -> float:
    """CPU seconds so far of this process and of the embedded server (postmaster, its backends, and the exited
    ones it reaped)."""
    postmaster = int((settings.VAR_DIR / "bench-pgdata" / "postmaster.pid").read_text().split()[0])
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid, rest = stat.read_text().split(" (", 1)
        except (FileNotFoundError, ProcessLookupError):
            continue  # gone meanwhile
        fields = rest.rsplit(")", 1)[1].split()
        if int(pid) == postmaster:
            ticks += sum(int(f) for f in fields[11:15])  # its own and its reaped children's
        elif int(fields[1]) == postmaster:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK") + own_cpu()


def csv_file(rows: int) -> Path:
    """A marketplace-orders file of `rows` rows over a year (cached)."""
    path = CACHE / f"uploads-marketplace-{rows}.csv"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        with open(path, "w") as f:
            f.write(HEADER)
            for n in range(rows):
                gross = 10 + n % 990
                f.write(f"M-{n},2025-{1 + n % 12:02d}-{1 + n % 28:02d}T{n % 24:02d}:{n % 60:02d}:00+01:00,EUR,"
                        f"{gross}.90,1.00,0,{gross // 10}.10,{gross - 1 - gross // 10}.80,{CHANNELS[n % 4]}\n")
    return path


def upload(url: str, path: str) -> dict:
    """The whole upload path, as a scheduler runs it."""
    import ingest.uploads.job  # noqa: F401  (registers the handler)
    from ingest.runner import Worker
    from ingest.uploads import receive

    settings.UPLOAD_DIR = CACHE / "kept"  # the kept copy is deleted after the run
    sessions = scheduler_sessionmaker(url)
    shop_id = add_shop(sessions)
    started, cpu = time.perf_counter(), cpu_now()
    with session_scope(sessions) as session, open(path, "rb") as stream:
        received = receive.receive(session=session, shop_id=shop_id, kind="marketplace-orders", stream=stream,
                                   filename=Path(path).name)
    assert Worker(sessions, threads=1).run_one(received.job_id)
    seconds, cpu = time.perf_counter() - started, cpu_now() - cpu
    with session_scope(sessions) as session:
        steps = dict(session.execute(text(
            "SELECT step, extract(epoch FROM at) FROM app_dashboard.upload_log WHERE batch_id = :b"),
            {"b": received.batch_id}).all())
        read = session.execute(text("SELECT details->>'read' FROM app_dashboard.upload_log WHERE batch_id = :b "
                                    "AND step = 'parsed'"), {"b": received.batch_id}).scalar()
        loaded = session.execute(text("SELECT rows_loaded FROM app_dashboard.upload_batches WHERE id = :b"),
                                 {"b": received.batch_id}).scalar()
    for f in settings.UPLOAD_DIR.rglob("*.csv"):
        f.unlink()
    phases = {"receive": steps["received"], "stage+check": steps["parsed"] - steps["received"],
              "promote": steps["loaded"] - steps["parsed"], "reconcile": steps["reconciled"] - steps["loaded"]}
    return {"seconds": seconds, "cpu": cpu, "rows": loaded, "rss_mb": peak_rss_mb(), "phases": phases, "read": read}


def bare_copy(url: str, path: str) -> dict:
    """The floor: the file COPYed as it is into text columns."""
    connection = psycopg2.connect(libpq_url(url))
    with connection, connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bare (order_id text, ordered_at text, currency text, gross text, discounts text, "
                       "refunds text, fees text, net text, channel text)")
        started, cpu = time.perf_counter(), cpu_now()
        with open(path) as f:
            cursor.copy_expert("COPY bare FROM STDIN WITH (FORMAT csv, HEADER)", f, size=256 * 1024)
        seconds, cpu = time.perf_counter() - started, cpu_now() - cpu
        cursor.execute("SELECT count(*) FROM bare")
        rows = cursor.fetchone()[0]
    connection.close()
    return {"seconds": seconds, "cpu": cpu, "rows": rows, "rss_mb": peak_rss_mb()}


def typed_floor(url: str, path: str) -> dict:
    """The floor of any design: the file COPYed into the warehouse's types, then indexed as the warehouse is."""
    connection = psycopg2.connect(libpq_url(url))
    with connection, connection.cursor() as cursor:
        started, cpu = time.perf_counter(), cpu_now()
        cursor.execute("CREATE TABLE typed (shop_id bigint NOT NULL DEFAULT 1, batch_id bigint NOT NULL DEFAULT 1, "
                       "line_no bigint GENERATED BY DEFAULT AS IDENTITY, order_id text, ordered_at timestamptz, "
                       "currency text, gross numeric, discounts numeric, refunds numeric, fees numeric, net numeric, "
                       "channel text)")
        with open(path) as f:
            cursor.copy_expert("COPY typed (order_id, ordered_at, currency, gross, discounts, refunds, fees, net, "
                               "channel) FROM STDIN WITH (FORMAT csv, HEADER)", f, size=256 * 1024)
        copied = time.perf_counter() - started
        cursor.execute("SET maintenance_work_mem = '256MB'")
        cursor.execute("CREATE UNIQUE INDEX ON typed (shop_id, order_id, channel, batch_id)")
        cursor.execute("CREATE INDEX ON typed (shop_id, ordered_at)")
        seconds, cpu = time.perf_counter() - started, cpu_now() - cpu
        cursor.execute("SELECT count(*) FROM typed")
        rows = cursor.fetchone()[0]
    connection.close()
    return {"seconds": seconds, "cpu": cpu, "rows": rows, "rss_mb": peak_rss_mb(), "copy": copied}


def staging(url: str, path: str) -> dict:
    """Staging alone, the file COPYed as it is against read row by row in Python (the fallback), alternately:
    the least noisy view of the step, each seconds and CPU (this process's and its backend's) at its best."""
    from bench.ingest import cpu_seconds
    from ingest.uploads import formats, stage

    sessions = scheduler_sessionmaker(url)
    shop_id = add_shop(sessions)
    best = {}
    for _ in range(2):
        for way, copy_file in (("copy", True), ("python", False)):
            with sessions() as session:
                pid = session.execute(text("SELECT pg_backend_pid()")).scalar()
                started, server, client = time.perf_counter(), cpu_seconds([pid]), own_cpu()
                staged = stage.stage(session=session, shop_id=shop_id, batch_id=0, fmt=formats.MARKETPLACE_ORDERS,
                                     path=Path(path), copy_file=copy_file)
                figures = (time.perf_counter() - started, cpu_seconds([pid]) - server + own_cpu() - client)
                assert staged.copied == copy_file and staged.rows > 0
                session.rollback()
            best[way] = min(best.get(way, figures), figures)
    return best


TASKS = {"upload": upload, "bare": bare_copy, "typed": typed_floor, "stage": staging}


def measure(server: str, task: str, path: Path) -> dict:
    """One measurement in a fresh database and a fresh child process."""
    name = f"bench_uploads_{task}"
    embedded.drop_database(server, name)
    embedded.create_database(server, name, template=TEMPLATE)
    checkpoint(server)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        figures = pool.apply(TASKS[task], (embedded.with_database(server, name), str(path)))
    embedded.drop_database(server, name)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000, help="the second size, for the memory comparison")
    args = parser.parse_args()
    server = embedded.start(settings.VAR_DIR / "bench-pgdata", database="postgres")
    embedded.drop_database(server, TEMPLATE)
    embedded.create_database(server, TEMPLATE)
    migrate(embedded.with_database(server, TEMPLATE))
    big, small = csv_file(args.rows), csv_file(args.small)
    bare = measure(server, "bare", big)
    typed = measure(server, "typed", big)
    full = measure(server, "upload", big)
    bare_again = measure(server, "bare", big)
    typed_again = measure(server, "typed", big)
    lesser = measure(server, "upload", small)
    staged = measure(server, "stage", big)
    embedded.drop_database(server, TEMPLATE)
    floor = min(bare, bare_again, key=lambda f: f["seconds"])
    typed = min(typed, typed_again, key=lambda f: f["seconds"])
    size_mb = big.stat().st_size / 1e6
    print(f"file: {args.rows:,} rows, {size_mb:.0f} MB\n")
    print("| what | rows | seconds | rows/s | CPU s | peak RSS MB |\n|---|---|---|---|---|---|")
    for what, f in (("bare COPY (floor)", floor), ("typed COPY + indexes (any design's floor)", typed),
                    ("upload, end to end", full), ("upload, small file", lesser)):
        print(f"| {what} | {f['rows']:,} | {f['seconds']:.1f} | {f['rows'] / f['seconds']:,.0f} | {f['cpu']:.1f} "
              f"| {f['rss_mb']:.0f} |")
    print(f"\nupload / bare COPY: {full['seconds'] / floor['seconds']:.2f}x the floor's time, "
          f"{full['cpu'] / floor['cpu']:.2f}x its CPU seconds; the file read by {full['read'] or 'python'}")
    print(f"typed floor / bare COPY: {typed['seconds'] / floor['seconds']:.2f}x its time "
          f"({typed['copy']:.1f} s COPY, {typed['seconds'] - typed['copy']:.1f} s indexes), "
          f"{typed['cpu'] / floor['cpu']:.2f}x its CPU seconds; upload / typed floor: "
          f"{full['seconds'] / typed['seconds']:.2f}x, {full['cpu'] / typed['cpu']:.2f}x")
    print("phases (s): " + ", ".join(f"{k} {v:.1f}" for k, v in full["phases"].items() if k != "receive"))
    print("staging alone (best of 2; s, CPU s): " + ", ".join(
        f"{way} {seconds:.1f}, {cpu:.1f}" for way, (seconds, cpu) in staged.items()))
    print(f"peak RSS: {lesser['rss_mb']:.0f} MB at {lesser['rows']:,} rows, {full['rss_mb']:.0f} MB at "
          f"{full['rows']:,} rows")


if __name__ == "__main__":
    main()
