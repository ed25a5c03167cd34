"""Shopify sync jobs: RECENT (the last days, paged), HISTORICAL_INIT (bulk, by date slices), INCREMENTAL.

Each handler keeps what it has done in `ctx.state` and saves it with `ctx.checkpoint()`, so a scheduler
killed at any point resumes: a bulk operation's id is saved the moment it exists, a landed file is promoted
from the chunk it had reached, and cursors only move in the transaction that commits the rows.
"""

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

import settings
from database import session_scope
from ingest.errors import PermanentError, TransientError
from ingest.runner import JobContext, handler
from ingest.shopify import bulk, load, promote, queries
from ingest.shopify.auth import client_for_shop
from ingest.shopify.client import ShopifyClient

log = logging.getLogger(__name__)

ORDER_PARTS = ["orders", "order_sales"]
RESOURCES = {  # resource -> (paged document, connection path, parts its lines hold)
    "orders": (queries.ORDERS_PAGE, "orders", ORDER_PARTS),
    "customers": (queries.CUSTOMERS_PAGE, "customers", ["customers"]),
    "products": (queries.PRODUCTS_PAGE, "products", ["products"]),
}
DOWNLOAD_TRIES = 3
MIN_SLICE = timedelta(hours=1)  # a date slice is never cut finer, however many orders it holds
ACCESS_HINT = ("Shopify denied the bulk query an access scope: reconnect the store and approve "
               + ", ".join(settings.SHOPIFY_SCOPES) + ".")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- paged loads ------------------------------------------------------------------------------------------

def load_lines(*, session: Session, shop_id: int, job_id: int | None, origin: str, parts: list[str],
               lines) -> load.Landed:
    """Land and promote a few lines (a page, a webhook refetch) in the caller's transaction."""
    batch = load.create_batch(session=session, shop_id=shop_id, job_id=job_id, origin=origin, parts=parts)
    landed = load.land(session=session, shop_id=shop_id, batch_id=batch, lines=lines)
    for second_pass in (False, True):
        promote.lines(session=session, shop_id=shop_id, batch_id=batch, parts=parts, lo=0, hi=landed.last_line,
                      second_pass=second_pass)
    return landed


def load_pages(client: ShopifyClient, *, sessions: sessionmaker, shop_id: int, resource: str, search: str,
               job_id: int | None = None, on_page=None) -> tuple[int, set[str]]:
    """Page through a resource matching `search` (sorted by update time) and load each page as it comes.

    Returns (nodes loaded, ids of orders whose nested lists were longer than a page holds). `on_page(nodes,
    newest_updated_at, session)` runs inside each page's transaction (cursors move there).
    """
    document, path, parts = RESOURCES[resource]
    loaded, truncated = 0, set()
    variables: dict[str, Any] = {"first": queries.PAGE_SIZES[resource], "search": search}
    if resource == "orders":
        variables["sortKey"] = "UPDATED_AT"
    for nodes in client.pages(document, variables, path):
        if not nodes:
            continue
        lines = [line for node in nodes for line in load.flatten(node, truncated)]
        with session_scope(sessions) as session:
            load_lines(session=session, shop_id=shop_id, job_id=job_id, origin=f"page:{resource}", parts=parts,
                       lines=load.encode(lines))
            loaded += len(nodes)
            if on_page:
                on_page(loaded, max(node["updatedAt"] for node in nodes), session)
    return loaded, truncated


def orders_count(client: ShopifyClient, search: str) -> int:
    return int(client.execute(queries.ORDERS_COUNT, {"search": search})["ordersCount"]["count"])


# -- RECENT -------------------------------------------------------------------------------------------------

@handler("shopify", "RECENT")
def recent(ctx: JobContext) -> None:
    """The last few days of orders, so a newly connected store shows data within seconds."""
    client = client_for_shop(ctx.sessions, ctx.job.shop_id)
    since = ctx.state.setdefault("since", iso(datetime.now(UTC) - timedelta(days=settings.SHOPIFY_RECENT_DAYS)))
    loaded = sync_changes(ctx, client, "orders", since=datetime.fromisoformat(since), move_cursor=False)
    ctx.log("INFO", f"Loaded {loaded} recent orders")


# -- INCREMENTAL --------------------------------------------------------------------------------------------

@handler("shopify", "INCREMENTAL")
def incremental(ctx: JobContext) -> None:
    """Everything updated since each resource's cursor (less an overlap), oldest change first."""
    client = client_for_shop(ctx.sessions, ctx.job.shop_id)
    for resource in RESOURCES:
        if resource in ctx.state.setdefault("done", []):
            continue
        since = read_cursor(sessions=ctx.sessions, shop_id=ctx.job.shop_id, resource=resource)
        loaded = sync_changes(ctx, client, resource, move_cursor=True,
                              since=since - timedelta(seconds=settings.SHOPIFY_OVERLAP_SECONDS))
        ctx.state["done"].append(resource)
        ctx.state["loaded"] = ctx.state.get("loaded", 0) + loaded
        ctx.checkpoint()
    ctx.checkpoint(done=ctx.state["loaded"], total=ctx.state["loaded"], label="Up to date")


def sync_changes(ctx: JobContext, client: ShopifyClient, resource: str, *, since: datetime,
                 move_cursor: bool) -> int:
    """Load a resource's changes since `since`: paged when they are few, by bulk query when many.

    The cursor moves to the newest change loaded, but never past our own clock at the start: a store whose
    clock runs ahead can then only make us read a change twice, never skip one.
    """
    started = ctx.state.setdefault("started", iso(datetime.now(UTC)))
    search = f"updated_at:>='{iso(since)}'"
    shop_id = ctx.job.shop_id
    if resource == "orders":
        total = ctx.state.setdefault("orders_total", orders_count(client, search))
        ctx.checkpoint(done=0, total=total, label="Changed orders")
        if total > settings.SHOPIFY_PAGED_MAX_ORDERS:
            run_parts(ctx, client, ctx.state.setdefault("bulk", [new_part(p, search) for p in ORDER_PARTS]),
                      total=total)
            if move_cursor:
                with session_scope(ctx.sessions) as session:
                    newest = session.execute(text(
                        "SELECT max(updated_at) FROM core_warehouse.orders WHERE shop_id = :s AND updated_at >= :t"),
                        {"s": shop_id, "t": since}).scalar()
                    if newest:
                        save_cursor(session=session, shop_id=shop_id, resource="orders",
                                    at=min(iso(newest), started))
            return total

    def advance(done, newest, session):
        if move_cursor:
            save_cursor(session=session, shop_id=shop_id, resource=resource, at=min(newest, started))
        ctx.checkpoint(done=done, label=f"Changed {resource}")

    loaded, truncated = load_pages(client, sessions=ctx.sessions, shop_id=shop_id, resource=resource,
                                   search=search, job_id=ctx.job.id, on_page=advance)
    complete_truncated(ctx, client, truncated)
    return loaded


def read_cursor(*, sessions: sessionmaker, shop_id: int, resource: str) -> datetime:
    """Where the last incremental sync of a resource got to (connect time when it never ran)."""
    with session_scope(sessions) as session:
        at = session.execute(text(
            "SELECT cursor_at FROM app_dashboard.sync_cursors WHERE shop_id = :s AND source = 'shopify' "
            "AND resource = :r AND target = ''"), {"s": shop_id, "r": resource}).scalar()
    return at or datetime.now(UTC) - timedelta(days=settings.SHOPIFY_RECENT_DAYS)


def save_cursor(*, session: Session, shop_id: int, resource: str, at: str) -> None:
    """Move a cursor forward (never back), in the transaction that committed the rows it covers."""
    session.execute(text(
        "INSERT INTO app_dashboard.sync_cursors (shop_id, source, resource, cursor_at, updated_at) "
        "VALUES (:s, 'shopify', :r, :at, now()) ON CONFLICT (shop_id, source, resource, target) DO UPDATE "
        "SET cursor_at = greatest(sync_cursors.cursor_at, EXCLUDED.cursor_at), updated_at = now()"),
        {"s": shop_id, "r": resource, "at": at})


def complete_truncated(ctx: JobContext, client: ShopifyClient, order_ids: set[str]) -> None:
    """Orders with more line items or sales than a page holds: fetch them whole with a bulk query."""
    if not order_ids:
        return
    search = " OR ".join(f"id:{gid.rsplit('/', 1)[1]}" for gid in sorted(order_ids))
    ctx.state["extra"] = ctx.state.get("extra") or [new_part(p, search) for p in ORDER_PARTS]
    run_parts(ctx, client, ctx.state["extra"], total=None)


# -- HISTORICAL_INIT ----------------------------------------------------------------------------------------

@handler("shopify", "HISTORICAL_INIT")
def historical_init(ctx: JobContext) -> None:
    """Every order the store ever had, its customers and products, by bulk operations; then check the count."""
    client = client_for_shop(ctx.sessions, ctx.job.shop_id)
    if "parts" not in ctx.state:
        plan(ctx, client)
    let_recent_go_first(ctx)
    run_parts(ctx, client, ctx.state["parts"], total=ctx.state["expected"])
    check_completeness(ctx, client)
    if "since" not in ctx.params:
        hand_over_cursors(ctx)


def let_recent_go_first(ctx: JobContext) -> None:
    """Start no bulk operation while the store's RECENT runs (for SHOPIFY_RECENT_HEAD_START_SECONDS at most):
    its last days are what a newly connected store's owner looks at first, and the backfill's operations would
    share Shopify's five slots and the store's query budget with them."""
    deadline = time.monotonic() + settings.SHOPIFY_RECENT_HEAD_START_SECONDS
    while time.monotonic() < deadline:
        with session_scope(ctx.sessions) as session:
            if not session.execute(text(
                    "SELECT 1 FROM app_dashboard.sync_jobs WHERE shop_id = :s AND source = 'shopify' "
                    "AND kind = 'RECENT' AND status IN ('queued', 'running')"), {"s": ctx.job.shop_id}).first():
                return
        ctx.wait(settings.SHOPIFY_BULK_FIRST_POLL_SECONDS)


def hand_over_cursors(ctx: JobContext) -> None:
    """Every resource was read as it stood at the plan's end or later: INCREMENTAL goes on from there."""
    with session_scope(ctx.sessions) as session:
        for resource in RESOURCES:
            save_cursor(session=session, shop_id=ctx.job.shop_id, resource=resource, at=ctx.state["until"])


def plan(ctx: JobContext, client: ShopifyClient) -> None:
    """Split the history into date slices of bulk parts, and learn how many orders Shopify counts."""
    until = datetime.fromisoformat(ctx.params.get("until") or iso(datetime.now(UTC)))
    first = client.execute(queries.FIRST_ORDER)["orders"]["nodes"]
    start = datetime.fromisoformat(ctx.params.get("since") or (first[0]["createdAt"] if first else iso(until)))
    lo = start.replace(hour=0, minute=0, second=0, microsecond=0)
    parts = [new_part(p, created_range(a, b), lo=iso(a), hi=iso(b))
             for a, b in date_slices(client, lo, until + timedelta(seconds=1)) for p in ORDER_PARTS]
    if "since" not in ctx.params:  # a whole-history load also takes every customer and product
        parts += [new_part("customers"), new_part("products")]
    ctx.state.update(until=iso(until), since=iso(start), parts=parts,
                     expected=orders_count(client, f"created_at:>='{iso(start)}' AND created_at:<='{iso(until)}'"))
    ctx.checkpoint(done=0, total=ctx.state["expected"], label=f"Planned {len(parts)} bulk queries")


def date_slices(client: ShopifyClient, lo: datetime, hi: datetime) -> list[tuple[datetime, datetime]]:
    """[lo, hi) cut in halves until each piece holds at most SHOPIFY_BULK_SLICE_ORDERS orders (or is an hour).

    Shopify counts a range's orders cheaply, so a small store is one slice and a large one as few as its
    orders need, whatever the days they span.
    """
    if hi - lo <= MIN_SLICE or orders_count(client, created_range(lo, hi)) <= settings.SHOPIFY_BULK_SLICE_ORDERS:
        return [(lo, hi)]
    middle = (lo + (hi - lo) / 2).replace(microsecond=0)
    return date_slices(client, lo, middle) + date_slices(client, middle, hi)


def created_range(lo: datetime, hi: datetime) -> str:
    return f"created_at:>='{iso(lo)}' AND created_at:<'{iso(hi)}'"


def new_part(part: str, search: str = "", **extra: Any) -> dict[str, Any]:
    return {"part": part, "search": search, "op": None, "status": "pending", "attempts": 0, "orders": 0, **extra}


def run_parts(ctx: JobContext, client: ShopifyClient, parts: list[dict], *, total: int | None) -> None:
    """Run the parts' bulk operations, a few at once, loading each result as soon as it is ready.

    Polling starts fast and slows down while nothing changes: a small store's operations are done in a
    moment, a large store's take minutes.
    """
    first = min(settings.SHOPIFY_BULK_FIRST_POLL_SECONDS, settings.SHOPIFY_BULK_POLL_SECONDS)
    delay = first
    while True:
        waiting = [p for p in parts if p["status"] != "loaded"]
        if not waiting:
            return
        moved = start_parts(ctx, client, parts)
        for part in [p for p in waiting if p["status"] in ("running", "promoting")]:
            moved |= advance_part(ctx, client, parts, part, total)
        if moved:
            delay = first
        else:
            ctx.wait(delay)
            delay = min(delay * 2, settings.SHOPIFY_BULK_POLL_SECONDS)


def start_parts(ctx: JobContext, client: ShopifyClient, parts: list[dict]) -> bool:
    """Start pending parts while slots are free.

    A start is announced in the checkpoint before it is asked for ("starting"), so a part found "starting" is
    one whose operation a killed scheduler may have started without saving its id: that operation is looked
    up by its query text and adopted rather than run twice.
    """
    pending = [p for p in parts if p["status"] in ("pending", "starting")]
    orphans, started = None, False
    for part in pending:
        if sum(p["status"] == "running" for p in parts) >= settings.SHOPIFY_BULK_CONCURRENCY:
            break
        query = queries.bulk_query(part["part"], part["search"])
        if part["status"] == "starting" and orphans is None:
            orphans = find_orphans(client, pending)
        operation = (orphans or {}).pop(query, None)
        if operation is None:
            part.update(status="starting", asked=iso(datetime.now(UTC)))
            ctx.checkpoint()
            try:
                operation = bulk.start(client, query)
            except bulk.LimitReached:
                part["status"] = "pending"  # Shopify runs enough of ours: wait for one to finish, not an error
                break
        part.update(op=operation, status="running")
        ctx.checkpoint(label=f"Started a bulk query for {describe(part)}")  # the id is saved before anything else
        ctx.log("INFO", f"Started a bulk query for {describe(part)}", operation=operation)
        started = True
    return started


def find_orphans(client: ShopifyClient, parts: list[dict]) -> dict[str, str]:
    """Operations started for the parts left "starting", by query text (allowing the store's clock to lag ours)."""
    asked = min(datetime.fromisoformat(p["asked"]) for p in parts if p["status"] == "starting")
    return bulk.ours_since(client, asked - timedelta(minutes=1))


def advance_part(ctx: JobContext, client: ShopifyClient, parts: list[dict], part: dict, total: int | None) -> bool:
    """Move one part on: load a finished operation, rerun a failed one. Return whether anything changed."""
    if part["status"] == "promoting":
        promote_part(ctx, parts, part, total)
        return True
    status = bulk.poll(client, part["op"])
    if status is None or status.status in ("EXPIRED", "CANCELED"):
        return restart(ctx, part, f"the bulk operation was {status.status.lower() if status else 'forgotten'}")
    if status.status == "COMPLETED":
        if status.url:
            land_part(ctx, client, part, status.url)
            promote_part(ctx, parts, part, total)
        else:
            part["status"] = "loaded"  # no results, no file
            ctx.checkpoint()
        return True
    if status.status == "FAILED":
        return fail_part(ctx, client, parts, part, status, total)
    return False


def land_part(ctx: JobContext, client: ShopifyClient, part: dict, url: str) -> None:
    """Download the result into staging, in one transaction: a cut-off download lands nothing."""
    ctx.checkpoint(label=f"Downloading {describe(part)}")
    for attempt in range(1, DOWNLOAD_TRIES + 1):
        try:
            with session_scope(ctx.sessions) as session:
                batch = load.create_batch(session=session, shop_id=ctx.job.shop_id, job_id=ctx.job.id,
                                          origin="bulk", parts=[part["part"]])
                landed = load.land(session=session, shop_id=ctx.job.shop_id, batch_id=batch,
                                   lines=bulk.download(url, http=client.http))
            break
        except bulk.Expired:
            part.update(op=None, status="pending")
            ctx.checkpoint()
            return
        except bulk.TruncatedDownload as error:
            ctx.log("WARN", f"{describe(part)}: {error}; downloading again ({attempt}/{DOWNLOAD_TRIES})")
            if attempt == DOWNLOAD_TRIES:
                raise
    if landed.quarantined:
        ctx.log("WARN", f"{describe(part)}: {landed.quarantined} malformed line(s) quarantined",
                reasons=landed.reasons)
    part.update(status="promoting", batch=batch, resume=[1, 0], quarantined=part.get("quarantined", 0)
                + landed.quarantined)
    ctx.checkpoint(label=f"Loading {describe(part)}")


def promote_part(ctx: JobContext, parts: list[dict], part: dict, total: int | None) -> None:
    before = sum(p["orders"] for p in parts if p is not part)

    def saved(position, orders):
        part["resume"] = list(position)
        part["orders"] = max(part["orders"], orders)
        ctx.checkpoint(done=before + part["orders"], total=total, label=f"Loading {describe(part)}")

    load.promote_batch(sessions=ctx.sessions, shop_id=ctx.job.shop_id, batch_id=part["batch"],
                       parts=[part["part"]], resume=tuple(part["resume"]), on_chunk=saved)
    part["status"] = "loaded"
    ctx.checkpoint(done=before + part["orders"], total=total, label=f"Loaded {describe(part)}")


def fail_part(ctx: JobContext, client: ShopifyClient, parts: list[dict], part: dict, status: bulk.Status,
              total: int | None) -> bool:
    """FAILED: ACCESS_DENIED is permanent; TIMEOUT and INTERNAL_SERVER_ERROR keep their partial data and rerun
    (a timed-out date slice is split in two, as Shopify advises asking for less)."""
    if status.error_code == "ACCESS_DENIED":
        raise PermanentError(f"{describe(part)}: bulk query denied (ACCESS_DENIED)", hint=ACCESS_HINT)
    if status.partial_url:
        land_part(ctx, client, part, status.partial_url)
        promote_part(ctx, parts, part, total)
    part["attempts"] += 1
    if part["attempts"] >= settings.SHOPIFY_BULK_ATTEMPTS:
        part.update(op=None, status="pending", attempts=0)
        ctx.checkpoint()
        raise TransientError(f"{describe(part)}: bulk query failed {settings.SHOPIFY_BULK_ATTEMPTS} times "
                             f"({status.error_code})")
    if status.error_code == "TIMEOUT" and part.get("lo"):
        lo, hi = datetime.fromisoformat(part["lo"]), datetime.fromisoformat(part["hi"])
        middle = lo + (hi - lo) / 2
        halves = [new_part(part["part"], created_range(a, b), lo=iso(a), hi=iso(b), attempts=part["attempts"])
                  for a, b in ((lo, middle), (middle, hi))]
        parts[parts.index(part):parts.index(part) + 1] = halves
        ctx.log("WARN", f"{describe(part)} timed out: splitting it in two")
        ctx.checkpoint()
        return True
    return restart(ctx, part, f"the bulk operation failed ({status.error_code})")


def restart(ctx: JobContext, part: dict, why: str) -> bool:
    ctx.log("WARN", f"{describe(part)}: {why}; running it again")
    part.update(op=None, status="pending", orders=0 if part["status"] != "loaded" else part["orders"])
    ctx.checkpoint()
    return True


def describe(part: dict) -> str:
    if part.get("lo"):
        return f"{part['part'].replace('_', ' ')} {part['lo'][:10]} to {part['hi'][:10]}"
    return part["part"].replace("_", " ")


def check_completeness(ctx: JobContext, client: ShopifyClient) -> None:
    """Compare the warehouse's order count with Shopify's for the backfilled range; reload the date slices
    that fall short once (a quarantined line costs its order), and report a gap that remains as an error."""
    since, until = ctx.state["since"], ctx.state["until"]
    expected, actual = orders_count(client, f"created_at:>='{since}' AND created_at:<='{until}'"), None
    with session_scope(ctx.sessions) as session:
        actual = count_orders(session=session, shop_id=ctx.job.shop_id, since=since, until=until)
    if actual != expected and not ctx.state.get("repaired"):
        short = short_slices(ctx, client)
        ctx.state["repaired"] = True
        ctx.log("WARN", f"{describe_gap(actual, expected)}: loading {len(short)} date slice(s) again")
        for part in ctx.state["parts"]:
            if (part.get("lo"), part.get("hi")) in short:
                part.update(op=None, status="pending", orders=0)
        run_parts(ctx, client, ctx.state["parts"], total=expected)
        with session_scope(ctx.sessions) as session:
            actual = count_orders(session=session, shop_id=ctx.job.shop_id, since=since, until=until)
    with session_scope(ctx.sessions) as session:
        session.execute(text(
            "UPDATE app_dashboard.shops SET shopify_order_count = :e, warehouse_order_count = :a, "
            "completeness_checked_at = now() WHERE id = :s"), {"e": expected, "a": actual, "s": ctx.job.shop_id})
    ctx.checkpoint(done=actual, total=expected, label="Checked completeness")
    if actual != expected:
        raise PermanentError(describe_gap(actual, expected), hint=GAP_HINTS[actual > expected])
    ctx.log("INFO", f"Complete: {actual} orders, as Shopify counts")


GAP_HINTS = {
    False: "Run a full resync of the store from Settings; if the gap stays, report it.",
    # A resync upserts: it cannot remove what Shopify no longer has.
    True: "The warehouse has orders Shopify no longer counts: deleted while no webhook arrived, or loaded from "
          "another store's file. A resync does not remove them: report it.",
}


def describe_gap(actual: int, expected: int) -> str:
    """`The warehouse holds 201 orders, 1 more than Shopify counts (200)`, or fewer."""
    way = "more" if actual > expected else "fewer"
    return f"The warehouse holds {actual:,} orders, {abs(actual - expected):,} {way} than Shopify counts ({expected:,})"


def short_slices(ctx: JobContext, client: ShopifyClient) -> set[tuple[str, str]]:
    """The (lo, hi) date slices whose warehouse order count differs from Shopify's."""
    short = set()
    for part in ctx.state["parts"]:
        if part["part"] != "orders" or not part.get("lo"):
            continue
        lo, hi = part["lo"], part["hi"]
        with session_scope(ctx.sessions) as session:
            have = count_orders(session=session, shop_id=ctx.job.shop_id, since=lo, until=hi, end_inclusive=False)
        if have != orders_count(client, created_range(datetime.fromisoformat(lo), datetime.fromisoformat(hi))):
            short.add((lo, hi))
    return short


def count_orders(*, session: Session, shop_id: int, since: str, until: str, end_inclusive: bool = True) -> int:
    return session.execute(text(
        "SELECT count(*) FROM core_warehouse.orders WHERE shop_id = :s AND deleted_at IS NULL "
        f"AND created_at >= :lo AND created_at {'<=' if end_inclusive else '<'} :hi"),
        {"s": shop_id, "lo": since, "hi": until}).scalar_one()


def enqueue_due(*, session: Session) -> int:
    """Queue an INCREMENTAL for every active store whose interval has passed since its last one, once its
    backfill is done (an INCREMENTAL beside a backfill would only read the same orders again)."""
    return session.execute(text("""
        INSERT INTO app_dashboard.sync_jobs (shop_id, source, kind, priority)
        SELECT s.id, 'shopify', 'INCREMENTAL', 0 FROM app_dashboard.shops s
        WHERE s.status = 'active'
          AND EXISTS (SELECT 1 FROM app_dashboard.shop_credentials c WHERE c.shop_id = s.id)
          AND NOT EXISTS (SELECT 1 FROM app_dashboard.sync_jobs j WHERE j.shop_id = s.id AND j.source = 'shopify'
              AND ((j.kind = 'INCREMENTAL'
                    AND (j.status IN ('queued', 'running')
                         OR j.created_at > now() - make_interval(mins => s.sync_interval_minutes)))
                   -- the backfill loads everything up to its end and hands INCREMENTAL its cursor there
                   OR (j.kind = 'HISTORICAL_INIT' AND j.status IN ('queued', 'running'))))
        ON CONFLICT (shop_id, source, kind, target) WHERE status IN ('queued', 'running') DO NOTHING
    """)).rowcount
