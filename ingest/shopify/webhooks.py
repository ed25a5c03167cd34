"""Shopify webhooks: verify and land them in the inbox (web), then drain the inbox (scheduler).

The web only checks the HMAC and inserts the delivery (deduplicated on X-Shopify-Webhook-Id), so it answers
in milliseconds. The scheduler drains the inbox: order topics re-fetch the orders by id over GraphQL and load
them through the same idempotent upsert as every sync (so a late or duplicated webhook changes nothing),
deletions, uninstalls and the compliance topics act on the database directly. Facts: reference/shopify.md §4.

Shopify's HMAC covers the body, not the X-Shopify-Topic header: a body captured from one delivery can be sent
again under another topic. So every delivery must have the shape of its topic and name its own store, and
nothing destructive happens on a header's word: an uninstall or a deletion is confirmed with Shopify first.
A delivery that fails these checks is refused: marked "refused: why", logged as a WARN, and changes nothing.
"""

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

import settings
from database import session_scope
from ingest import jobs
from ingest.errors import PermanentError
from ingest.shopify import load, queries, signing
from ingest.shopify.auth import CLIENT_HINT, REFRESH_HINT, client_for_shop
from ingest.shopify.client import REVOKED_HINT
from ingest.shopify.sync import RESOURCES, load_lines

log = logging.getLogger(__name__)

# Topics whose effect is "Shopify's current version of these orders": they are re-fetched, never trusted.
REFETCH_TOPICS = {"orders/create", "orders/updated", "orders/cancelled", "orders/edited", "orders/paid",
                  "orders/fulfilled", "orders/partially_fulfilled", "refunds/create"}
# The payload key under which the web lands why a signed body could not be read (see accept()).
UNREADABLE = "_unreadable"
HEADERS = {"topic": "X-Shopify-Topic", "shop_domain": "X-Shopify-Shop-Domain", "webhook_id": "X-Shopify-Webhook-Id",
           "event_id": "X-Shopify-Event-Id", "triggered_at": "X-Shopify-Triggered-At",
           "api_version": "X-Shopify-API-Version"}
# Shops whose last drain failed for a passing reason (Shopify 5xx) -> monotonic time they rest until: this
# process leaves their deliveries alone meanwhile, so one store's outage neither hammers Shopify nor holds up
# the other stores' webhooks.
resting: dict[str, float] = {}
# The warehouse and staging tables holding a shop's data (children before parents), for shop/redact.
SHOP_TABLES = (
    "core_warehouse.order_sales", "core_warehouse.order_agreements", "core_warehouse.refund_line_items",
    "core_warehouse.refunds", "core_warehouse.transactions", "core_warehouse.order_discount_applications",
    "core_warehouse.order_shipping_lines", "core_warehouse.order_line_items", "core_warehouse.orders",
    "core_warehouse.customers", "core_warehouse.product_variants", "core_warehouse.products",
    "staging_ingest.quarantine", "staging_ingest.load_batches", "app_dashboard.sync_cursors",
)


# -- the web side ---------------------------------------------------------------------------------------

verify = signing.verify  # the HMAC check in Python (for the public app's secret, which the web holds)


@dataclass(frozen=True)
class Accepted:
    """What landing a delivery did: `new` is False for one already there (same webhook id); `refused` says why
    a body could not be read."""

    new: bool
    refused: str | None = None


def accept(*, session: Session, headers: Mapping[str, str], raw_body: bytes) -> Accepted:
    """Land a verified delivery in the inbox.

    A body that cannot be read is landed as {UNREADABLE: reason, "body": its start}, and
    the drain refuses it with that reason: answered with an error, Shopify would send the same body again and
    again, then drop the subscription. Raises ValueError for a delivery without topic, shop or webhook id.
    """
    values: dict[str, Any] = {key: (headers.get(name) or "").strip() or None for key, name in HEADERS.items()}
    missing = [HEADERS[key] for key in ("topic", "shop_domain", "webhook_id") if not values[key]]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    # The signature covers the body only: headers are anybody's, so only short printable text is landed.
    malformed = [HEADERS[key] for key, value in values.items()
                 if value and (len(value) > 255 or not value.isprintable())]
    if malformed:
        raise ValueError(f"malformed {', '.join(malformed)}")
    values["triggered_at"] = parse_time(values["triggered_at"])
    refused = None
    try:
        payload = read_payload(raw_body)
    except UnreadableBody as error:
        refused = str(error)
        payload = {UNREADABLE: refused, "body": raw_body[:1000].decode("utf-8", "replace").replace("\0", "\ufffd")}
    values["payload"] = json.dumps(payload)
    # No conflict target: the web role may not read webhook_id, and it is the only other unique column.
    new = session.execute(text(
        "INSERT INTO staging_ingest.webhook_inbox (shop_domain, topic, webhook_id, event_id, triggered_at, "
        "api_version, payload) VALUES (:shop_domain, :topic, :webhook_id, :event_id, :triggered_at, :api_version, "
        "CAST(:payload AS jsonb)) ON CONFLICT DO NOTHING"), values).rowcount == 1
    return Accepted(new=new, refused=refused)


class UnreadableBody(ValueError):
    """A signed body the inbox cannot hold as a JSON object; the message says why."""


def read_payload(raw_body: bytes) -> dict:
    """The body as a JSON object PostgreSQL's jsonb can hold, or UnreadableBody."""
    try:
        payload = json.loads(raw_body, parse_constant=_refuse_constant, parse_float=_finite)
    except RecursionError:
        raise UnreadableBody("the body is nested too deeply") from None
    except ValueError as error:  # malformed JSON, bad UTF-8, an integer of over 4,300 digits
        raise UnreadableBody(f"the body is not JSON ({str(error)[:200]})") from None
    if not isinstance(payload, dict):
        raise UnreadableBody("the body is not a JSON object")
    strings = [payload]
    while strings:  # jsonb holds neither NUL nor unpaired surrogates; looked for iteratively (depth is free)
        value = strings.pop()
        if isinstance(value, dict):
            strings.extend(value.keys())
            strings.extend(value.values())
        elif isinstance(value, list):
            strings.extend(value)
        elif isinstance(value, str) and ("\0" in value or not _is_utf8(value)):
            raise UnreadableBody("the body holds a NUL character or an unpaired surrogate (\\u0000, \\ud800)")
    return payload


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _finite(number: str) -> float:
    value = float(number)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{number[:20]} is too large a number")
    return value


def _is_utf8(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_time(value: str | None) -> datetime | None:
    """An ISO timestamp from a header, or None when absent or malformed (it is informative only)."""
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


# -- the scheduler side ---------------------------------------------------------------------------------

@dataclass
class Delivery:
    """A claimed inbox row, with what the drain knows of its shop."""

    id: int
    shop_domain: str
    shop_id: int | None
    shop_gid: str | None
    topic: str
    payload: dict
    triggered_at: datetime | None


class Refused(Exception):
    """The delivery does not prove what its topic claims: it is kept, marked refused, and changes nothing."""


def drain(*, sessions: sessionmaker, limit: int = settings.WEBHOOK_DRAIN_LIMIT) -> int:
    """Process up to `limit` pending deliveries, shop by shop; return how many were marked processed.

    The claimed rows stay locked (SKIP LOCKED: other schedulers take other rows) until this transaction
    commits; each effect and its rows' "processed" marks share a savepoint: both or neither.
    """
    processed = 0
    with session_scope(sessions) as session:
        deliveries = claim(session=session, limit=limit)
        by_shop: dict[str, list[Delivery]] = {}
        for delivery in deliveries:
            by_shop.setdefault(delivery.shop_domain, []).append(delivery)
        for domain, group in by_shop.items():
            processed += drain_shop(sessions=sessions, session=session, domain=domain, deliveries=group)
    return processed


def claim(*, session: Session, limit: int) -> list[Delivery]:
    """Lock the oldest pending deliveries no other drain holds."""
    rows = session.execute(text(
        "SELECT i.id, i.shop_domain, s.id AS shop_id, s.shopify_gid AS shop_gid, i.topic, "
        "i.payload, i.triggered_at "
        "FROM staging_ingest.webhook_inbox i LEFT JOIN app_dashboard.shops s ON s.shop_domain = i.shop_domain "
        "WHERE i.processed_at IS NULL AND i.shop_domain <> ALL(CAST(:resting AS text[])) "
        "ORDER BY i.id LIMIT :limit FOR UPDATE OF i SKIP LOCKED"),
        {"limit": limit, "resting": [domain for domain, until in resting.items() if until > time.monotonic()]})
    return [Delivery(**row._mapping) for row in rows]


def drain_shop(*, sessions: sessionmaker, session: Session, domain: str, deliveries: list[Delivery]) -> int:
    """Apply one shop's deliveries: the order refetch first (one search), then each other topic."""
    shop_id = deliveries[0].shop_id
    if shop_id is None:
        mark(session=session, deliveries=deliveries, outcome="unknown shop")
        jobs.record_event(session=session, level="WARN", message=f"Webhooks from an unknown shop ignored: {domain}",
                          details={"topics": sorted({d.topic for d in deliveries})})
        return len(deliveries)
    done = 0
    refetch = []
    for delivery in deliveries:
        if UNREADABLE in delivery.payload:  # never acted on, whatever the topic
            done += settle(session=session, shop_id=shop_id, deliveries=[delivery],
                           effect=lambda d=delivery: refuse(d.payload[UNREADABLE]))
        elif delivery.topic in REFETCH_TOPICS:
            if order_number(delivery) is None:  # not an order, whatever the header says
                done += settle(session=session, shop_id=shop_id, deliveries=[delivery],
                               effect=lambda: refuse("the body is not an order"))
            else:
                refetch.append(delivery)
    if refetch:

        def reload() -> str:
            order_ids = {order_number(d) for d in refetch}
            found = refetch_orders(sessions=sessions, session=session, shop_id=shop_id, order_ids=order_ids)
            return f"refetched ({found} found)"

        done += settle(session=session, shop_id=shop_id, deliveries=refetch, effect=reload)
    for delivery in deliveries:
        if delivery.topic not in REFETCH_TOPICS and UNREADABLE not in delivery.payload:
            action = ACTIONS.get(delivery.topic, ignore)
            done += settle(session=session, shop_id=shop_id, deliveries=[delivery],
                           effect=lambda a=action, d=delivery: a(sessions=sessions, session=session,
                                                                 shop_id=shop_id, delivery=d))
    return done


def settle(*, session: Session, shop_id: int, deliveries: list[Delivery], effect) -> int:
    """Run an effect and mark its deliveries in one savepoint; return how many were marked.

    A refused delivery is marked with its reason and logged as a WARN; a permanent error (a revoked token)
    marks them failed with its hint; any other failure (Shopify 5xx, a network error) leaves them pending, and
    their shop rests for WEBHOOK_RETRY_SECONDS.
    """
    try:
        with session.begin_nested():
            mark(session=session, deliveries=deliveries, outcome=effect())
    except Refused as why:
        mark(session=session, deliveries=deliveries, outcome=f"refused: {why}")
        jobs.record_event(session=session, level="WARN", shop_id=shop_id,
                          message=f"Webhook {deliveries[0].topic} refused: {why}",
                          details={"inbox_ids": [d.id for d in deliveries], "topic": deliveries[0].topic})
    except PermanentError as error:
        mark(session=session, deliveries=deliveries, outcome=f"failed: {error} {error.hint}".strip())
        jobs.record_event(session=session, level="ERROR", shop_id=shop_id, message=f"Webhooks not applied: {error}",
                          details={"hint": error.hint, "inbox_ids": [d.id for d in deliveries]})
    except Exception:
        domain = deliveries[0].shop_domain
        resting[domain] = time.monotonic() + settings.WEBHOOK_RETRY_SECONDS
        log.exception("webhooks %s of %s left for a drain in %s s", [d.id for d in deliveries], domain,
                      settings.WEBHOOK_RETRY_SECONDS)
        return 0
    return len(deliveries)


def refuse(reason: str):
    raise Refused(reason)


def mark(*, session: Session, deliveries: list[Delivery], outcome: str) -> None:
    session.execute(text("UPDATE staging_ingest.webhook_inbox SET processed_at = now(), outcome = :o "
                         "WHERE id = ANY(:ids)"), {"o": outcome[:2000], "ids": [d.id for d in deliveries]})


def order_number(delivery: Delivery) -> int | None:
    """The order a delivery is about: `id` of an order, `order_id` of a refund or an order edit."""
    payload = delivery.payload
    if delivery.topic == "refunds/create":
        number = payload.get("order_id")
    elif delivery.topic == "orders/edited":
        number = (payload.get("order_edit") or {}).get("order_id")
    else:
        number = payload.get("id")
    return int(number) if str(number or "").isdigit() else None


def refetch_orders(*, sessions: sessionmaker, session: Session, shop_id: int, order_ids: set[int]) -> int:
    """Load Shopify's current version of the orders in the caller's transaction: one search, one batch.

    A deleted order is not found, so a late orders/updated cannot bring it back; an order found is upserted
    only over an older version, so an out-of-order webhook cannot roll it back.
    """
    if not order_ids:
        return 0
    document, path, parts = RESOURCES["orders"]
    search = " OR ".join(f"id:{number}" for number in sorted(order_ids))
    # An order with its nested lists costs over 600 points, so pages stay small (Shopify refuses a query
    # over 1,000); the pages' lines are landed and promoted together.
    variables = {"first": queries.PAGE_SIZES["orders"], "search": search, "sortKey": "UPDATED_AT"}
    nodes = [node for page in client_for_shop(sessions, shop_id).pages(document, variables, path) for node in page]
    truncated: set[str] = set()
    lines = [line for node in nodes for line in load.flatten(node, truncated)]
    if lines:
        load_lines(session=session, shop_id=shop_id, job_id=None, origin="webhook", parts=parts,
                   lines=load.encode(lines))
    if truncated:  # rare: longer lists than a page holds; the next INCREMENTAL reads them again, whole
        jobs.record_event(session=session, level="WARN", shop_id=shop_id,
                          message=f"{len(truncated)} order(s) from webhooks were larger than a page",
                          details={"orders": sorted(truncated)})
    return len(nodes)


# -- what a delivery must prove --------------------------------------------------------------------------

# The keys each topic's body has (Shopify's compliance payloads; app/uninstalled sends the shop itself).
SHAPES = {
    "shop/redact": {"shop_id", "shop_domain"},
    "customers/redact": {"shop_id", "shop_domain", "customer", "orders_to_redact"},
    "customers/data_request": {"shop_id", "shop_domain", "customer", "orders_requested"},
    "app/uninstalled": {"id", "myshopify_domain"},
}


def require_own_shop(delivery: Delivery) -> None:
    """Refuse a body without its topic's keys, or one naming another store (id and domain)."""
    payload, needed = delivery.payload, SHAPES[delivery.topic]
    if not needed <= payload.keys():
        raise Refused(f"the body lacks {', '.join(sorted(needed - payload.keys()))} for {delivery.topic}")
    if delivery.topic == "shop/redact" and payload.keys() != needed:  # another compliance body names a shop too
        raise Refused("the body is not a shop/redact body")
    shop_number = (delivery.shop_gid or "").rsplit("/", 1)[-1]
    named_id = payload.get("shop_id", payload.get("id"))
    named_domain = payload.get("shop_domain", payload.get("myshopify_domain"))
    if not shop_number or str(named_id) != shop_number or named_domain != delivery.shop_domain:
        raise Refused(f"the body names another store ({named_domain}, {named_id})")


def require_token_refused(*, sessions: sessionmaker, shop_id: int) -> None:
    """Refuse unless Shopify refuses the store's token (401/403), and a new one where the credential renews
    (client credentials, refresh token): only then is the app really uninstalled."""
    try:
        client_for_shop(sessions, shop_id).execute(queries.SHOP)
    except PermanentError as error:
        if error.hint in (REVOKED_HINT, CLIENT_HINT, REFRESH_HINT):
            return
        raise
    raise Refused("Shopify still accepts the store's token: the app is installed")


# -- topics acted on in the database ---------------------------------------------------------------------

def delete_order(*, sessions: sessionmaker, session: Session, shop_id: int, delivery: Delivery) -> str:
    """orders/delete, once Shopify no longer has the order: soft delete (reports exclude it)."""
    number = order_number(delivery)
    if number is None:
        raise Refused("the body is not an order")
    gid = f"gid://shopify/Order/{number}"
    if client_for_shop(sessions, shop_id).execute(queries.ORDER_EXISTS, {"id": gid})["order"] is not None:
        raise Refused(f"Shopify still has order {number}")
    return soft_delete_order(session=session, shop_id=shop_id, order_id=gid, at=delivery.triggered_at)


def soft_delete_order(*, session: Session, shop_id: int, order_id: str, at: datetime | None) -> str:
    """Mark an order deleted; the completeness counts lose it on both sides when it was counted (Shopify's
    count dropped too)."""
    created = session.execute(text(
        "UPDATE core_warehouse.orders SET deleted_at = coalesce(:at, now()) "
        "WHERE shop_id = :s AND order_id = :gid AND deleted_at IS NULL RETURNING created_at"),
        {"s": shop_id, "gid": order_id, "at": at}).scalar()
    if created is None:
        return "deleted (order not in the warehouse)"
    session.execute(text(
        "UPDATE app_dashboard.shops SET warehouse_order_count = warehouse_order_count - 1, "
        "shopify_order_count = shopify_order_count - 1 WHERE id = :s AND completeness_checked_at >= :c"),
        {"s": shop_id, "c": created})
    return "deleted"


def uninstall(*, sessions: sessionmaker, session: Session, shop_id: int, delivery: Delivery) -> str:
    """app/uninstalled, once Shopify refuses the token: the shop is disconnected and its Shopify jobs cancelled."""
    require_own_shop(delivery)
    require_token_refused(sessions=sessions, shop_id=shop_id)
    when = (delivery.triggered_at or datetime.now().astimezone()).date().isoformat()
    reason = f"The app was uninstalled from the store on {when}: reconnect it in Settings"
    session.execute(text("UPDATE app_dashboard.shops SET status = 'disconnected', status_reason = :r, "
                         "updated_at = now() WHERE id = :s"), {"r": reason, "s": shop_id})
    live = session.execute(text(
        "SELECT id FROM app_dashboard.sync_jobs WHERE shop_id = :s AND source = 'shopify' "
        "AND status IN ('queued', 'running')"), {"s": shop_id}).scalars().all()
    for job_id in live:
        jobs.cancel(session=session, job_id=job_id)
    jobs.record_event(session=session, level="WARN", shop_id=shop_id, message=reason,
                      details={"cancelled_jobs": list(live)})
    return "disconnected"


def redact_customer(*, sessions: sessionmaker, session: Session, shop_id: int, delivery: Delivery) -> str:
    """customers/redact: erase the customer's personal data from the warehouse, staging and the inbox.

    A tombstone row is written when the customer is not loaded yet, so a later load cannot bring the data in
    (the customers upsert skips redacted rows).
    """
    require_own_shop(delivery)
    customer = delivery.payload["customer"] if isinstance(delivery.payload["customer"], dict) else {}
    if not str(customer.get("id") or "").isdigit():
        raise Refused("the body names no customer")
    gid = f"gid://shopify/Customer/{customer.get('id')}"
    orders = [str(n) for n in delivery.payload.get("orders_to_redact") or []]
    params = {"s": shop_id, "gid": gid, "orders": orders, "email": customer.get("email") or "",
              "domain": delivery.shop_domain, "self": delivery.id}
    session.execute(text("""
        INSERT INTO core_warehouse.customers AS c (shop_id, customer_id, updated_at, redacted_at, raw)
        VALUES (:s, :gid, now(), now(), jsonb_build_object('id', CAST(:gid AS text)))
        ON CONFLICT (shop_id, customer_id) DO UPDATE SET first_name = NULL, last_name = NULL, display_name = NULL,
            email = NULL, phone = NULL, city = NULL, redacted_at = coalesce(c.redacted_at, now()),
            raw = c.raw - ARRAY['firstName', 'lastName', 'displayName', 'email', 'phone'] #- '{defaultAddress,city}'
    """), params)
    redacted = session.execute(text("""
        UPDATE core_warehouse.orders SET email = NULL, phone = NULL, billing_city = NULL, shipping_city = NULL,
            shipping_zip = NULL, raw = (raw - ARRAY['email', 'phone']) #- '{billingAddress,city}'
                #- '{shippingAddress,city}' #- '{shippingAddress,zip}'
        WHERE shop_id = :s AND (customer_id = :gid OR legacy_id::text = ANY(CAST(:orders AS text[])))
    """), params).rowcount
    # Raw copies kept for replay: the customer's own lines and their orders' lines, and inbox payloads.
    session.execute(text("""
        DELETE FROM staging_ingest.shopify_lines l USING staging_ingest.load_batches b
        WHERE l.batch_id = b.id AND b.shop_id = :s
          AND (l.payload->>'id' = :gid OR l.payload #>> '{customer,id}' = :gid
               OR l.payload->>'__typename' = 'Order'
                  AND l.payload->>'legacyResourceId' = ANY(CAST(:orders AS text[])))
    """), params)
    session.execute(text("""
        UPDATE staging_ingest.webhook_inbox SET payload = '{"redacted": true}'::jsonb
        WHERE shop_domain = :domain AND id <> :self AND processed_at IS NOT NULL
          AND ((:email <> '' AND payload->>'email' = :email) OR payload #>> '{customer,id}' = split_part(:gid, '/', 5))
    """), params)
    jobs.record_event(session=session, level="INFO", shop_id=shop_id,
                      message=f"Customer data erased on request: {customer.get('id')} ({redacted} order(s))")
    return f"redacted ({redacted} orders)"


def redact_shop(*, sessions: sessionmaker, session: Session, shop_id: int, delivery: Delivery) -> str:
    """shop/redact (48 hours after an uninstall): delete the shop's warehouse and staging data.

    Only a store disconnected SHOP_REDACT_AFTER_HOURS ago whose token Shopify refuses; its completeness figure
    is cleared with the data, so the status page says "not checked yet" rather than a stale 100 %.
    """
    require_own_shop(delivery)
    long_enough = session.execute(text(  # the database stamped the disconnection: its clock judges the wait
        "SELECT disconnected_at <= now() - :h * interval '1 hour' FROM app_dashboard.shops WHERE id = :s"),
        {"h": settings.SHOP_REDACT_AFTER_HOURS, "s": shop_id}).scalar()
    if not long_enough:
        raise Refused(f"the store has not been disconnected for {settings.SHOP_REDACT_AFTER_HOURS:g} hours")
    require_token_refused(sessions=sessions, shop_id=shop_id)
    for table in SHOP_TABLES:
        session.execute(text(f"DELETE FROM {table} WHERE shop_id = :s"), {"s": shop_id})
    session.execute(text("UPDATE staging_ingest.webhook_inbox SET payload = '{\"redacted\": true}'::jsonb "
                         "WHERE shop_domain = :d AND id <> :self AND processed_at IS NOT NULL"),
                    {"d": delivery.shop_domain, "self": delivery.id})
    session.execute(text("UPDATE app_dashboard.shops SET shopify_order_count = NULL, warehouse_order_count = NULL, "
                         "completeness_checked_at = NULL WHERE id = :s"), {"s": shop_id})
    jobs.record_event(session=session, level="INFO", shop_id=shop_id,
                      message="Shop data erased on Shopify's request (shop/redact)")
    return "shop data deleted"


def ignore(*, sessions: sessionmaker, session: Session, shop_id: int, delivery: Delivery) -> str:
    """A topic this app does not act on (subscribed by hand, or a new one)."""
    return "ignored"


def data_request(*, sessions: sessionmaker, session: Session, shop_id: int, delivery: Delivery) -> str:
    """customers/data_request: someone has to answer it; the event log says so."""
    require_own_shop(delivery)
    customer = (delivery.payload.get("customer") or {}).get("id")
    jobs.record_event(session=session, level="WARN", shop_id=shop_id,
                      message=f"Customer data request received: {customer}; respond within 30 days",
                      details={"payload": delivery.payload})
    return "recorded"


ACTIONS = {
    "orders/delete": delete_order,
    "app/uninstalled": uninstall,
    "customers/redact": redact_customer,
    "shop/redact": redact_shop,
    "customers/data_request": data_request,
}
