"""Shopify webhooks: verify and land them in the inbox (web), then drain the inbox (scheduler).

The web only checks the HMAC and inserts the delivery (deduplicated on X-Shopify-Webhook-Id), so it answers
in milliseconds. The scheduler drains the inbox: order topics re-fetch the orders by id over GraphQL and load
them through the same idempotent upsert as every sync (so a late or duplicated webhook changes nothing),
deletions, uninstalls and the compliance topics act on the database directly. Facts: reference/shopify.md §4.
"""

import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.fernet import InvalidToken
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

import settings
from database import session_scope
from ingest import crypto, jobs
from ingest.errors import PermanentError
from ingest.shopify import load, queries
from ingest.shopify.auth import client_for_shop
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

def verify(raw_body: bytes, header: str | None, secrets: list[str]) -> bool:
    """Whether `header` is the base64 HMAC-SHA256 of the raw body under any of the secrets (rotation)."""
    if not header or not secrets:
        return False
    given = header.strip().encode()
    matches = [hmac.compare_digest(base64.b64encode(hmac.new(s.encode(), raw_body, hashlib.sha256).digest()), given)
               for s in secrets]  # every secret is tried, so the time taken says nothing about which matched
    return any(matches)


def signing_secrets(*, session: Session, domain: str) -> list[str]:
    """The shop's webhook signing secrets (decrypted), plus the public app's secret when there is one."""
    encrypted = session.execute(text("SELECT app_dashboard.webhook_secrets(:d)"), {"d": domain}).scalars().all()
    secrets = []
    for token in encrypted:
        try:
            secrets.append(crypto.decrypt(token))
        except InvalidToken:
            log.error("webhook secret of %s does not decrypt with TOKEN_ENCRYPTION_KEYS", domain)
    return secrets + ([settings.SHOPIFY_API_SECRET] if settings.SHOPIFY_API_SECRET else [])


def accept(*, session: Session, headers: Mapping[str, str], raw_body: bytes) -> bool:
    """Land a verified delivery in the inbox; return False for a delivery already there (same webhook id).

    A body that cannot be read (unreadable() says why) is landed as {UNREADABLE: reason, "body": its start}, and
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
    try:
        payload = read_payload(raw_body)
    except UnreadableBody as error:
        payload = {UNREADABLE: str(error), "body": raw_body[:1000].decode("utf-8", "replace").replace("\0", "\ufffd")}
    values["payload"] = json.dumps(payload)
    # No conflict target: the web role may not read webhook_id, and it is the only other unique column.
    return session.execute(text(
        "INSERT INTO staging_ingest.webhook_inbox (shop_domain, topic, webhook_id, event_id, triggered_at, "
        "api_version, payload) VALUES (:shop_domain, :topic, :webhook_id, :event_id, :triggered_at, :api_version, "
        "CAST(:payload AS jsonb)) ON CONFLICT DO NOTHING"), values).rowcount == 1


def unreadable(raw_body: bytes) -> str | None:
    """Why the inbox cannot hold this body as it is, or None."""
    try:
        read_payload(raw_body)
    except UnreadableBody as error:
        return str(error)
    return None


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
    """A claimed inbox row."""

    id: int
    shop_domain: str
    shop_id: int | None
    topic: str
    payload: dict
    triggered_at: datetime | None


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
        "SELECT i.id, i.shop_domain, s.id AS shop_id, i.topic, i.payload, i.triggered_at "
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
    for delivery in [d for d in deliveries if UNREADABLE in d.payload]:  # never acted on, whatever the topic
        done += settle(session=session, shop_id=shop_id, deliveries=[delivery],
                       effect=lambda d=delivery: refuse_unreadable(session=session, shop_id=shop_id, delivery=d))
    deliveries = [d for d in deliveries if UNREADABLE not in d.payload]
    refetch = [d for d in deliveries if d.topic in REFETCH_TOPICS]
    if refetch:

        def reload() -> str:
            order_ids = {order_number(d) for d in refetch} - {None}
            found = refetch_orders(sessions=sessions, session=session, shop_id=shop_id, order_ids=order_ids)
            return f"refetched ({found} found)"

        done += settle(session=session, shop_id=shop_id, deliveries=refetch, effect=reload)
    for delivery in deliveries:
        if delivery.topic not in REFETCH_TOPICS:
            action = ACTIONS.get(delivery.topic, ignore)
            done += settle(session=session, shop_id=shop_id, deliveries=[delivery],
                           effect=lambda a=action, d=delivery: a(session=session, shop_id=shop_id, delivery=d))
    return done


def settle(*, session: Session, shop_id: int, deliveries: list[Delivery], effect) -> int:
    """Run an effect and mark its deliveries in one savepoint; return how many were marked.

    A permanent error (a revoked token) marks them failed with its hint; any other failure (Shopify 5xx, a
    network error) leaves them pending, and their shop rests for WEBHOOK_RETRY_SECONDS.
    """
    try:
        with session.begin_nested():
            mark(session=session, deliveries=deliveries, outcome=effect())
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


# -- topics acted on in the database ---------------------------------------------------------------------

def delete_order(*, session: Session, shop_id: int, delivery: Delivery) -> str:
    """orders/delete: soft delete (reports exclude it); the first deletion time is kept."""
    number = order_number(delivery)
    deleted = session.execute(text(
        "UPDATE core_warehouse.orders SET deleted_at = coalesce(deleted_at, :at, now()) "
        "WHERE shop_id = :s AND order_id = :gid"),
        {"s": shop_id, "gid": f"gid://shopify/Order/{number}", "at": delivery.triggered_at}).rowcount
    return "deleted" if deleted else "deleted (order not in the warehouse)"


def uninstall(*, session: Session, shop_id: int, delivery: Delivery) -> str:
    """app/uninstalled: the token is dead, so the shop is disconnected and its Shopify jobs cancelled."""
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


def redact_customer(*, session: Session, shop_id: int, delivery: Delivery) -> str:
    """customers/redact: erase the customer's personal data from the warehouse, staging and the inbox.

    A tombstone row is written when the customer is not loaded yet, so a later load cannot bring the data in
    (the customers upsert skips redacted rows).
    """
    customer = delivery.payload.get("customer") or {}
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


def redact_shop(*, session: Session, shop_id: int, delivery: Delivery) -> str:
    """shop/redact (48 hours after an uninstall): delete the shop's warehouse and staging data."""
    for table in SHOP_TABLES:
        session.execute(text(f"DELETE FROM {table} WHERE shop_id = :s"), {"s": shop_id})
    session.execute(text("UPDATE staging_ingest.webhook_inbox SET payload = '{\"redacted\": true}'::jsonb "
                         "WHERE shop_domain = :d AND id <> :self AND processed_at IS NOT NULL"),
                    {"d": delivery.shop_domain, "self": delivery.id})
    jobs.record_event(session=session, level="INFO", shop_id=shop_id,
                      message="Shop data erased on Shopify's request (shop/redact)")
    return "shop data deleted"


def refuse_unreadable(*, session: Session, shop_id: int, delivery: Delivery) -> str:
    """A signed body that could not be read (the web landed its reason instead): kept, refused, logged."""
    reason = delivery.payload[UNREADABLE]
    jobs.record_event(session=session, level="WARN", shop_id=shop_id,
                      message=f"A {delivery.topic} webhook was refused: {reason}", details={"inbox_id": delivery.id})
    return f"refused: {reason}"


def ignore(*, session: Session, shop_id: int, delivery: Delivery) -> str:
    """A topic this app does not act on (subscribed by hand, or a new one)."""
    return "ignored"


def data_request(*, session: Session, shop_id: int, delivery: Delivery) -> str:
    """customers/data_request: someone has to answer it; the event log says so."""
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
