"""Bulk orders ingestion speed and memory: land + promote against a bare COPY floor and a row-by-row baseline.

Measured in the same run on the embedded PostgreSQL, each load in a fresh migrated database and a child
process of its own (so its peak RSS is its own):
- end to end: `load.land` (COPY into staging) then `load.promote_batch` (set-based SQL), what HISTORICAL_INIT does;
- floor: the same file COPYed bare into a one-column jsonb table (nothing can load it faster), measured
  before and after the end-to-end run, the faster kept;
- baseline: a row-by-row upsert (json parsed in Python, one INSERT ... ON CONFLICT per row) of a sample;
- small store: the embedded default's first demo store (SANDBOX_SEED, 3 unless given) connected through the
  real connect path with a scheduler running, timed from the connect call to RECENT done and to
  HISTORICAL_INIT done (fixed costs: polling, planning, job pickup, not throughput).
Run: `.venv/bin/python -m bench.ingest [--orders 200000] [--small 50000] [--only throughput|small-store]`.
Bulk files are cached under var/bench/ by size and seed, so reruns skip the generation.
"""

import argparse
import json
import logging
import multiprocessing
import os
import time
from dataclasses import replace
from datetime import date
from decimal import Decimal
from itertools import islice
from pathlib import Path

import psycopg2
from graphql import parse
from sqlalchemy import text

import embedded
import settings
from database import make_engine, make_sessionmaker, migrate, scheduler_sessionmaker, session_scope
from ingest.shopify import load, queries
from models import Shop

TODAY = date(2026, 1, 31)  # fixed, so a cached file is the same file
DAYS = 120
SAMPLE = 2_000
CACHE = settings.VAR_DIR / "bench"
TEMPLATE = "bench_ingest_template"
FLOOR_COPY = ("COPY bare (payload) FROM STDIN WITH (FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01')")


def write_bulk_file(store, part: str, path: Path, *, orders: int | None = None) -> int:
    """Write what a bulk query of `part` over `store` returns (its first `orders` orders); return the orders."""
    from sandbox.bulk import Operation, Walker
    from sandbox.shopify_graphql import load_schema

    document = parse(queries.bulk_query(part, ""))
    operation = next(d for d in document.definitions if d.kind == "operation_definition")
    fragments = {d.name.value: d for d in document.definitions if d.kind == "fragment_definition"}
    root = operation.selection_set.selections[0]
    items = islice(store.iter_orders(), orders) if root.name.value == "orders" else getattr(store, root.name.value)
    op = Operation(id="bench", shop=store.spec.domain, query="", group_objects=False, created_at=None)
    partial = path.with_suffix(".partial")
    with open(partial, "w") as out:
        out.writelines(Walker(load_schema("2026-01"), fragments).lines(root, items, op))
    partial.rename(path)  # a cut-off generation is never mistaken for a cached file
    return op.root_object_count


def bulk_file(orders: int, seed: int) -> Path:
    """The cached bulk orders file of exactly `orders` orders (generated once per size and seed)."""
    from sandbox.generator import build_store, demo_specs

    path = CACHE / f"orders-{orders}-seed{seed}.jsonl"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        spec = demo_specs(stores=1, seed=seed, days=DAYS, today=TODAY)[0]
        # A quarter more per day than needed (seasonality varies), then cut at exactly `orders`.
        store = build_store(replace(spec, orders_per_day=1.25 * orders / DAYS))
        started = time.perf_counter()
        written = write_bulk_file(store, "orders", path, orders=orders)
        assert written == orders, f"the store had only {written} orders"
        print(f"generated {path.name} ({path.stat().st_size / 1e6:,.0f} MB) in {time.perf_counter() - started:.0f} s")
    return path


# -- one measurement per child process -------------------------------------------------------------------

def fresh_database(server: str, name: str) -> str:
    """A new database cloned from the migrated template, with one shop; return its URL."""
    embedded.drop_database(server, name)
    embedded.create_database(server, name, template=TEMPLATE)
    return embedded.with_database(server, name)


def checkpoint(server: str) -> None:
    """Flush what earlier measurements left dirty, so none pays for the one before it."""
    connection = psycopg2.connect(server)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")
    connection.close()


def add_shop(sessions) -> int:
    with session_scope(sessions) as session:
        shop = Shop(shop_domain="bench.myshopify.com", name="Bench", currency="EUR", iana_timezone="UTC")
        session.add(shop)
        session.flush()
        return shop.id


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pids) -> float:
    """User + system CPU seconds the processes used so far (the embedded server runs on this machine)."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def backends(session) -> set[int]:
    """The server processes connected to this database (the session pool's)."""
    return set(session.execute(text(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()")).scalars())


def own_cpu() -> float:
    times = os.times()
    return times.user + times.system


def end_to_end(url: str, path: str) -> dict:
    """Land the file and promote it, as HISTORICAL_INIT does; the timings, CPU seconds (the database's and
    this process's: on a shared machine they say what the wall clock cannot) and this process's peak RSS."""
    sessions = scheduler_sessionmaker(url)
    shop_id = add_shop(sessions)
    started, client = time.perf_counter(), own_cpu()
    with session_scope(sessions) as session, open(path, "rb") as lines:
        pids = backends(session)
        server = cpu_seconds(pids)
        batch = load.create_batch(session=session, shop_id=shop_id, job_id=None, origin="bench", parts=["orders"])
        landed = load.land(session=session, shop_id=shop_id, batch_id=batch, lines=lines)
    copied, land_cpu, land_client = time.perf_counter(), cpu_seconds(pids) - server, own_cpu() - client
    orders = load.promote_batch(sessions=sessions, shop_id=shop_id, batch_id=batch, parts=["orders"])
    done = time.perf_counter()
    with session_scope(sessions) as session:
        pids |= backends(session)
    return {"orders": orders, "lines": landed.lines, "land_s": copied - started, "promote_s": done - copied,
            "seconds": done - started, "rss_mb": peak_rss_mb(), "land_cpu": land_cpu, "land_client_cpu": land_client,
            "promote_cpu": cpu_seconds(pids) - server - land_cpu}


def floor(url: str, path: str) -> dict:
    """The same bytes COPYed bare into a one-column jsonb table."""
    engine = make_engine(url)
    with engine.begin() as connection:  # created beforehand, as staging is: no same-transaction COPY shortcut
        connection.exec_driver_sql("CREATE TABLE bare (payload jsonb NOT NULL)")
    with engine.begin() as connection:
        cursor = connection.connection.dbapi_connection.cursor()
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
        started, server = time.perf_counter(), cpu_seconds([pid])
        with open(path, "rb") as lines:
            cursor.copy_expert(FLOOR_COPY, lines)
        seconds, server = time.perf_counter() - started, cpu_seconds([pid]) - server
    engine.dispose()
    return {"seconds": seconds, "rss_mb": peak_rss_mb(), "cpu": server}


def row_by_row(url: str, path: str, sample: int) -> dict:
    """The naive baseline: each line parsed in Python and upserted on its own, the first `sample` orders."""
    from sqlalchemy import MetaData
    from sqlalchemy.dialects.postgresql import insert

    lines = sample_lines(path, sample)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine, role=settings.SCHEDULER_ROLE)
    shop_id = add_shop(sessions)
    meta = MetaData(schema="core_warehouse")
    meta.reflect(engine, only=["orders", "order_line_items", "order_shipping_lines", "order_discount_applications",
                               "transactions", "refunds"])
    tables = {name.split(".")[1]: table for name, table in meta.tables.items()}
    updated: dict[str, str] = {}
    started = time.perf_counter()
    with session_scope(sessions) as session:
        for raw in lines:
            node = json.loads(raw)
            for table, row in naive_rows(node, updated):
                keys = [c.name for c in tables[table].primary_key]
                statement = insert(tables[table]).values(shop_id=shop_id, **row)
                statement = statement.on_conflict_do_update(
                    index_elements=keys, set_={k: statement.excluded[k] for k in row if k not in keys})
                session.execute(statement)
    seconds = time.perf_counter() - started
    engine.dispose()
    return {"orders": len(updated), "seconds": seconds}


def sample_lines(path: str, orders: int) -> list[bytes]:
    """The first `orders` order lines and their children (written after every 200 parents, before the next)."""
    taken, ids = [], set()
    with open(path, "rb") as lines:
        for raw in lines:
            node = json.loads(raw)
            if "__parentId" not in node:
                if len(ids) == orders:
                    break
                ids.add(node["id"])
            if node.get("__parentId") in ids or node.get("id") in ids:
                taken.append(raw)
    return taken


def amount(value: dict | None, currency: str = "shopMoney") -> Decimal | None:
    return Decimal(value[currency]["amount"]) if value and value.get(currency) else None


def naive_rows(node: dict, updated: dict[str, str]):
    """The typed rows a line becomes, computed in Python (the main columns of each table, and the raw line)."""
    kind = node["__typename"]
    if kind == "Order":
        updated[node["id"]] = node["updatedAt"]
        yield "orders", {
            "order_id": node["id"], "legacy_id": int(node["legacyResourceId"]), "name": node["name"],
            "created_at": node["createdAt"], "processed_at": node["processedAt"], "updated_at": node["updatedAt"],
            "cancelled_at": node["cancelledAt"], "is_test": node["test"], "currency": node["currencyCode"],
            "financial_status": node["displayFinancialStatus"], "customer_id": (node["customer"] or {}).get("id"),
            "email": node["email"], "source_name": node["sourceName"], "tags": node["tags"],
            **{f"{column}_shop": amount(node.get(field)) for column, field in ORDER_MONEY.items()},
            **{f"{column}_presentment": amount(node.get(field), "presentmentMoney")
               for column, field in ORDER_MONEY.items()},
            "raw": node}
        for item in node.get("transactions") or []:
            yield "transactions", {
                "transaction_id": item["id"], "order_id": node["id"], "order_updated_at": node["updatedAt"],
                "kind": item["kind"], "status": item["status"], "gateway": item["gateway"],
                "amount_shop": amount(item["amountSet"]), "created_at": item["createdAt"], "raw": item}
        for item in node.get("refunds") or []:
            yield "refunds", {
                "refund_id": item["id"], "order_id": node["id"], "order_updated_at": node["updatedAt"],
                "created_at": item["createdAt"], "updated_at": item["updatedAt"],
                "total_refunded_shop": amount(item["totalRefundedSet"]), "raw": item}
    elif kind == "LineItem":
        yield "order_line_items", {
            "line_item_id": node["id"], "order_id": node["__parentId"], "order_updated_at": updated[node["__parentId"]],
            "name": node["name"], "sku": node["sku"], "quantity": node["quantity"],
            "product_id": (node["product"] or {}).get("id"), "variant_id": (node["variant"] or {}).get("id"),
            "original_total_shop": amount(node["originalTotalSet"]),
            "discounted_total_shop": amount(node["discountedTotalSet"]),
            "tax_shop": sum((amount(t["priceSet"]) for t in node["taxLines"]), Decimal(0)), "raw": node}
    elif kind == "ShippingLine":
        yield "order_shipping_lines", {
            "shipping_line_id": node["id"], "order_id": node["__parentId"],
            "order_updated_at": updated[node["__parentId"]], "title": node["title"],
            "original_price_shop": amount(node["originalPriceSet"]), "raw": node}
    elif kind.endswith("DiscountApplication"):
        yield "order_discount_applications", {
            "order_id": node["__parentId"], "position": node["index"], "order_updated_at": updated[node["__parentId"]],
            "kind": kind, "code": node.get("code") or node.get("title"), "raw": node}


ORDER_MONEY = {"subtotal": "subtotalPriceSet", "total_discounts": "totalDiscountsSet",
               "total_shipping": "totalShippingPriceSet", "total_tax": "totalTaxSet", "total_price": "totalPriceSet",
               "total_refunded": "totalRefundedSet"}


def warm_sandbox(spec) -> float:
    """Pay the sandbox's one-time costs before timing (loading the GraphQL schema, rendering the store's
    orders on first use: real Shopify has neither); return how long they took."""
    from ingest.shopify.client import ShopifyClient, StaticToken

    started = time.perf_counter()
    client = ShopifyClient(spec.domain, StaticToken(spec.access_token))
    client.execute(queries.FIRST_ORDER)
    return time.perf_counter() - started


def small_store(url: str, sandbox_seed: int) -> dict:
    """Connect a demo store with a scheduler already running; seconds to RECENT done and HISTORICAL_INIT done."""
    import scheduler
    from ingest.shopify.connect import connect_store
    from models import SyncJob
    from sandbox.server import SandboxServer, build_world

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the sandbox's request lines
    world = build_world(stores=1, seed=sandbox_seed)
    sandbox = SandboxServer(world).start()
    settings.SHOPIFY_ADMIN_URL = sandbox.base_url + "/shopify/{shop}/admin/api/{version}/graphql.json"
    spec = world.stores[0].spec
    warmed = warm_sandbox(spec)
    service = scheduler.start_in_background(url)
    sessions = scheduler_sessionmaker(url)
    started = time.perf_counter()
    with session_scope(sessions) as session:
        shop_id = connect_store(session=session, domain=spec.domain, access_token=spec.access_token).id
    connected = time.perf_counter()
    done: dict[str, float] = {}
    while len(done) < 2 and time.perf_counter() - started < 120:
        with session_scope(sessions) as session:
            for kind, status in session.query(SyncJob.kind, SyncJob.status).filter_by(shop_id=shop_id):
                if kind in ("RECENT", "HISTORICAL_INIT") and kind not in done and status != "queued" \
                        and status != "running":
                    assert status == "succeeded", (kind, status)
                    done[kind] = time.perf_counter() - started
        time.sleep(0.01)  # a poll of the outcome, not synchronisation: the timings are what we measure
    service.stop()
    sandbox.stop()
    with session_scope(sessions) as session:
        orders = session.execute(text("SELECT count(*) FROM core_warehouse.orders WHERE shop_id = :s"),
                                 {"s": shop_id}).scalar_one()
    return {"domain": spec.domain, "orders": orders, "warm_s": warmed, "connect_s": connected - started,
            "recent_s": done["RECENT"], "historical_s": done["HISTORICAL_INIT"]}


TASKS = {"end_to_end": end_to_end, "floor": floor, "row_by_row": row_by_row, "small_store": small_store}


def measure(server: str, task: str, path: Path | None, name: str, *extra) -> dict:
    """One measurement in a fresh database and a fresh child process (a clean interpreter: its own peak RSS)."""
    url = fresh_database(server, name)
    checkpoint(server)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        figures = pool.apply(TASKS[task], (url, *([str(path)] if path else []), *extra))
    embedded.drop_database(server, name)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--small", type=int, default=50_000, help="the second size, for the memory comparison")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--sandbox-seed", type=int, default=int(os.environ.get("SANDBOX_SEED", "3")),
                        help="the small store: the first demo store of this sandbox seed")
    parser.add_argument("--only", choices=("throughput", "small-store"))
    args = parser.parse_args()
    server = embedded.start(settings.VAR_DIR / "bench-pgdata", database="postgres")
    embedded.drop_database(server, TEMPLATE)
    embedded.create_database(server, TEMPLATE)
    migrate(embedded.with_database(server, TEMPLATE))
    if args.only != "throughput":
        report_small_store(measure(server, "small_store", None, "bench_ingest_store", args.sandbox_seed),
                           args.sandbox_seed)
    if args.only != "small-store":
        throughput(server, args)
    embedded.drop_database(server, TEMPLATE)


def report_small_store(figures: dict, seed: int) -> None:
    print(f"\nSmall store: {figures['domain']} (sandbox seed {seed}), {figures['orders']:,} orders, connected "
          f"with a scheduler running\n")
    print(f"(before the timer: the sandbox's one-time warm-up, {figures['warm_s']:.1f} s)\n")
    print("| from the connect call to | seconds | target |\n|---|---|---|")
    print(f"| connected (token checked, webhooks registered, jobs queued) | {figures['connect_s']:.2f} | |")
    print(f"| RECENT done (recent days on the page) | {figures['recent_s']:.2f} | 2 |")
    print(f"| HISTORICAL_INIT done (every order, checked complete) | {figures['historical_s']:.2f} | 4 |")


def throughput(server: str, args) -> None:
    """The bulk orders file: end to end against the COPY floor and the row-by-row baseline."""
    big, small = bulk_file(args.orders, args.seed), bulk_file(args.small, args.seed)

    # The floor before and after the end-to-end run, the faster kept: the machine is shared, and a floor
    # measured in a slow moment would flatter the ratio.
    floors = [measure(server, "floor", big, "bench_ingest_floor")]
    full = measure(server, "end_to_end", big, "bench_ingest_e2e")
    floors.append(measure(server, "floor", big, "bench_ingest_floor"))
    bare = min(floors, key=lambda f: f["seconds"])
    lesser = measure(server, "end_to_end", small, "bench_ingest_small")
    naive = measure(server, "row_by_row", big, "bench_ingest_naive", SAMPLE)
    report(big, small, full, bare, lesser, naive, [f["seconds"] for f in floors])


def report(big: Path, small: Path, full: dict, bare: dict, lesser: dict, naive: dict,
           floors: list[float]) -> None:
    mb, small_mb = big.stat().st_size / 1e6, small.stat().st_size / 1e6
    orders = full["orders"]
    naive_rate = naive["orders"] / naive["seconds"]
    print(f"\nBulk orders ingestion, {orders:,} orders ({full['lines']:,} lines, {mb:,.0f} MB of JSONL)\n")
    print("| what | orders | seconds | orders/s | MB/s | peak RSS MB |\n|---|---|---|---|---|---|")
    print(f"| end to end: land (COPY to staging) + promote (set-based SQL) | {orders:,} | {full['seconds']:.1f} | "
          f"{orders / full['seconds']:,.0f} | {mb / full['seconds']:.1f} | {full['rss_mb']:.0f} |")
    print(f"| of which land | | {full['land_s']:.1f} | | {mb / full['land_s']:.1f} | |")
    print(f"| of which promote | | {full['promote_s']:.1f} | | | |")
    print(f"| floor: bare COPY into one jsonb column (faster of {floors[0]:.1f} s, {floors[1]:.1f} s) | "
          f"{orders:,} | {bare['seconds']:.1f} | "
          f"{orders / bare['seconds']:,.0f} | {mb / bare['seconds']:.1f} | {bare['rss_mb']:.0f} |")
    print(f"| end to end, smaller file | {lesser['orders']:,} | {lesser['seconds']:.1f} | "
          f"{lesser['orders'] / lesser['seconds']:,.0f} | {small_mb / lesser['seconds']:.1f} | "
          f"{lesser['rss_mb']:.0f} |")
    print(f"| baseline: row by row, json in Python, an upsert per row (sample) | {naive['orders']:,} | "
          f"{naive['seconds']:.1f} | {naive_rate:,.0f} | | |")
    cpu = full["land_cpu"] + full["promote_cpu"]
    print(f"\nDatabase CPU seconds: land {full['land_cpu']:.1f} (and {full['land_client_cpu']:.1f} in the loading "
          f"process), promote {full['promote_cpu']:.1f}, together {cpu / bare['cpu']:.2f}x the floor's "
          f"{bare['cpu']:.1f} (of the faster floor run)")
    ratio = full["seconds"] / bare["seconds"]
    print(f"\nend to end / COPY floor = {ratio:.2f}x (target under 2.5x); "
          f"end to end / row by row = {orders / full['seconds'] / naive_rate:.1f}x faster; "
          f"peak RSS {lesser['rss_mb']:.0f} MB at {lesser['orders']:,} orders, {full['rss_mb']:.0f} MB at "
          f"{orders:,} (target under 250 MB, flat)")


if __name__ == "__main__":
    main()
