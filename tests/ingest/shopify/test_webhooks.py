"""Shopify webhooks: HMAC, the inbox, and the drain against the sandbox over HTTP (and one end-to-end run)."""

import base64
import copy
import hashlib
import hmac
import json
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import text
from werkzeug.serving import make_server

from database import session_scope, web_session_scope
from ingest import jobs
from ingest.shopify import sync, webhooks
from ingest.shopify.auth import client_for_shop
from ingest.shopify.client import REVOKED_HINT
from sandbox.shopify_api import shop_number
from sandbox.webhooks import rest_order, sign
from tests.conftest import scalar, wait_for

# -- HMAC -------------------------------------------------------------------------------------------------


def test_verify_accepts_shopifys_base64_hmac_of_the_raw_body():
    body = b'{"id": 1, "note": "caf\\u00e9"}'
    header = base64.b64encode(hmac.new(b"s3cret", body, hashlib.sha256).digest()).decode()
    assert webhooks.verify(body, header, ["s3cret"])
    assert webhooks.verify(body, sign(body, "s3cret"), ["s3cret"])  # the sandbox signs the same way


def test_verify_rejects_a_wrong_secret_a_changed_body_and_a_missing_header():
    body = b'{"id": 1}'
    header = sign(body, "s3cret")
    assert not webhooks.verify(body, header, ["other"])
    assert not webhooks.verify(body + b" ", header, ["s3cret"])
    assert not webhooks.verify(body, None, ["s3cret"])
    assert not webhooks.verify(body, "", ["s3cret"])
    assert not webhooks.verify(body, header, [])
    assert not webhooks.verify(body, hashlib.sha256(body).hexdigest(), ["s3cret"])  # hex is the OAuth form


def test_verify_accepts_any_secret_of_a_rotation():
    body = b'{"id": 2}'
    assert webhooks.verify(body, sign(body, "new"), ["old", "new"])
    assert webhooks.verify(body, sign(body, "old"), ["old", "new"])


# -- helpers ----------------------------------------------------------------------------------------------


def deliver(web_sessions, domain: str, topic: str, payload: dict, *, webhook_id: str | None = None,
            triggered_at: datetime | None = None) -> bool:
    """Land a delivery as the web does (as the web role), with Shopify's headers."""
    headers = {"X-Shopify-Topic": topic, "X-Shopify-Shop-Domain": domain,
               "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()), "X-Shopify-Event-Id": str(uuid.uuid4()),
               "X-Shopify-Triggered-At": (triggered_at or datetime.now(UTC)).isoformat(),
               "X-Shopify-API-Version": "2026-01"}
    with web_session_scope(web_sessions, user_id=None) as session:
        return webhooks.accept(session=session, headers=headers, raw_body=json.dumps(payload).encode()).new


def number(gid: str) -> int:
    return int(gid.rsplit("/", 1)[1])


def order_row(sessions, shop_id: int, gid: str) -> dict | None:
    from sqlalchemy import text

    with session_scope(sessions) as session:
        row = session.execute(text("SELECT order_id, note, email, updated_at, deleted_at, md5(raw::text) AS raw "
                                   "FROM core_warehouse.orders WHERE shop_id = :s AND order_id = :o"),
                              {"s": shop_id, "o": gid}).mappings().first()
        return dict(row) if row else None


def warehouse_snapshot(sessions, shop_id: int) -> list:
    from sqlalchemy import text

    with session_scope(sessions) as session:
        orders = session.execute(text(
            "SELECT order_id, updated_at, deleted_at, md5(raw::text) FROM core_warehouse.orders "
            "WHERE shop_id = :s ORDER BY order_id"), {"s": shop_id}).all()
        children = [session.execute(text(f"SELECT count(*) FROM core_warehouse.{t} WHERE shop_id = :s"),
                                    {"s": shop_id}).scalar()
                    for t in ("order_line_items", "transactions", "refunds", "order_sales")]
    return [orders, children]


def outcomes(sessions) -> list[tuple[str, str]]:
    from sqlalchemy import text

    with session_scope(sessions) as session:
        return [tuple(r) for r in session.execute(text(
            "SELECT topic, outcome FROM staging_ingest.webhook_inbox ORDER BY id"))]


@pytest.fixture(autouse=True)
def no_resting_shops():
    """A shop resting after a failure in one test must not rest in the next (the state is per process)."""
    webhooks.resting.clear()
    yield
    webhooks.resting.clear()


# -- the drain --------------------------------------------------------------------------------------------


def test_duplicate_delivery_is_landed_once_and_changes_nothing(scheduler_sessions, web_sessions, shop_id, store,
                                                              orders):
    payload = rest_order(orders[0])
    assert deliver(web_sessions, store.spec.domain, "orders/create", payload, webhook_id="w-1")
    assert not deliver(web_sessions, store.spec.domain, "orders/create", payload, webhook_id="w-1")
    assert scalar(scheduler_sessions, "SELECT count(*) FROM staging_ingest.webhook_inbox") == 1
    assert webhooks.drain(sessions=scheduler_sessions) == 1
    before = warehouse_snapshot(scheduler_sessions, shop_id)
    assert before[0] and before[0][0][0] == orders[0]["id"]
    assert not deliver(web_sessions, store.spec.domain, "orders/create", payload, webhook_id="w-1")
    assert webhooks.drain(sessions=scheduler_sessions) == 0
    assert warehouse_snapshot(scheduler_sessions, shop_id) == before
    assert outcomes(scheduler_sessions) == [("orders/create", "refetched (1 found)")]


def test_drain_refetches_many_orders_in_one_search_and_is_idempotent(scheduler_sessions, web_sessions, shop_id,
                                                                     store, orders):
    for order in orders:
        deliver(web_sessions, store.spec.domain, "orders/updated", rest_order(order))
    deliver(web_sessions, store.spec.domain, "refunds/create", {"id": 1, "order_id": number(orders[0]["id"])})
    assert webhooks.drain(sessions=scheduler_sessions) == 4
    first = warehouse_snapshot(scheduler_sessions, shop_id)
    assert [row[0] for row in first[0]] == sorted(o["id"] for o in orders)
    assert scalar(scheduler_sessions, "SELECT count(*) FROM staging_ingest.load_batches") == 1  # one refetch, one batch
    assert webhooks.drain(sessions=scheduler_sessions) == 0  # nothing pending: nothing done
    for order in orders:  # the same events again (Shopify's retries carry new ids after a lost answer)
        deliver(web_sessions, store.spec.domain, "orders/updated", rest_order(order))
    assert webhooks.drain(sessions=scheduler_sessions) == 3
    assert warehouse_snapshot(scheduler_sessions, shop_id) == first


def test_out_of_order_updates_never_roll_an_order_back(scheduler_sessions, web_sessions, shop_id, store, orders):
    order, domain = orders[0], store.spec.domain
    original = copy.deepcopy(order)
    old_payload = rest_order(order)
    deliver(web_sessions, domain, "orders/create", old_payload)
    webhooks.drain(sessions=scheduler_sessions)
    # The merchant edits the order: Shopify now answers the newer version.
    newer = (datetime.fromisoformat(order["updatedAt"]) + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    try:
        order.update(updatedAt=newer, note="edited")
        deliver(web_sessions, domain, "orders/updated", rest_order(order))
        webhooks.drain(sessions=scheduler_sessions)
        assert order_row(scheduler_sessions, shop_id, order["id"])["note"] == "edited"
        after_edit = order_row(scheduler_sessions, shop_id, order["id"])
        # The older update arrives late: its payload is ignored (the order is re-fetched).
        deliver(web_sessions, domain, "orders/updated", old_payload,
                triggered_at=datetime.now(UTC) - timedelta(hours=2))
        webhooks.drain(sessions=scheduler_sessions)
        assert order_row(scheduler_sessions, shop_id, order["id"]) == after_edit
        # Even a stale read from Shopify (the old version) loses to the newer row: the upsert's guard.
        order.clear()
        order.update(copy.deepcopy(original))
        deliver(web_sessions, domain, "orders/updated", old_payload)
        webhooks.drain(sessions=scheduler_sessions)
        assert order_row(scheduler_sessions, shop_id, order["id"]) == after_edit
    finally:
        order.clear()
        order.update(original)


def test_orders_delete_soft_deletes_and_a_late_update_does_not_resurrect(scheduler_sessions, web_sessions, shop_id,
                                                                          store, sandbox, orders):
    order, domain = orders[1], store.spec.domain
    deliver(web_sessions, domain, "orders/create", rest_order(order))
    webhooks.drain(sessions=scheduler_sessions)
    sandbox.world.shopify.delete_order(domain, order["id"])
    deliver(web_sessions, domain, "orders/delete", {"id": number(order["id"])})
    webhooks.drain(sessions=scheduler_sessions)
    deleted_at = order_row(scheduler_sessions, shop_id, order["id"])["deleted_at"]
    assert deleted_at is not None
    deliver(web_sessions, domain, "orders/updated", rest_order(order))  # late, from before the deletion
    webhooks.drain(sessions=scheduler_sessions)
    assert order_row(scheduler_sessions, shop_id, order["id"])["deleted_at"] == deleted_at
    assert outcomes(scheduler_sessions)[1:] == [("orders/delete", "deleted"), ("orders/updated", "refetched (0 found)")]


def test_customers_redact_erases_personal_data_for_good(scheduler_sessions, web_sessions, shop_id, store, orders):
    order, domain = orders[2], store.spec.domain
    customer_gid = order["customer"]["id"]
    client = client_for_shop(scheduler_sessions, shop_id)
    sync.load_pages(client, sessions=scheduler_sessions, shop_id=shop_id, resource="customers",
                    search=f"id:{number(customer_gid)}")
    deliver(web_sessions, domain, "orders/create", rest_order(order))
    webhooks.drain(sessions=scheduler_sessions)
    assert order_row(scheduler_sessions, shop_id, order["id"])["email"]
    email = scalar(scheduler_sessions, "SELECT email FROM core_warehouse.customers WHERE customer_id = :c",
                   c=customer_gid)
    assert email
    deliver(web_sessions, domain, "customers/redact", {
        "shop_id": shop_number(domain), "shop_domain": domain,
        "customer": {"id": number(customer_gid), "email": email, "phone": None},
        "orders_to_redact": [number(order["id"])]})
    webhooks.drain(sessions=scheduler_sessions)
    pii = ("SELECT concat_ws(',', first_name, last_name, display_name, email, phone, city, raw->>'email', "
           "raw->>'firstName') FROM core_warehouse.customers WHERE customer_id = :c AND redacted_at IS NOT NULL")
    assert scalar(scheduler_sessions, pii, c=customer_gid) == ""
    assert scalar(scheduler_sessions, "SELECT concat_ws(',', email, phone, raw->>'email') FROM core_warehouse.orders "
                  "WHERE order_id = :o", o=order["id"]) == ""
    assert scalar(scheduler_sessions, "SELECT count(*) FROM staging_ingest.shopify_lines "
                  "WHERE payload::text LIKE '%' || :e || '%'", e=email) == 0
    # Loading the customer and the order again does not bring the data back.
    sync.load_pages(client, sessions=scheduler_sessions, shop_id=shop_id, resource="customers",
                    search=f"id:{number(customer_gid)}")
    sync.load_pages(client, sessions=scheduler_sessions, shop_id=shop_id, resource="orders",
                    search=f"id:{number(order['id'])}")
    assert scalar(scheduler_sessions, pii, c=customer_gid) == ""
    assert scalar(scheduler_sessions, "SELECT concat_ws(',', email, phone, raw->>'email') FROM core_warehouse.orders "
                  "WHERE order_id = :o", o=order["id"]) == ""


def test_shop_redact_deletes_the_shops_data_and_data_request_is_recorded(scheduler_sessions, web_sessions, shop_id,
                                                                         store, sandbox, orders):
    domain = store.spec.domain
    deliver(web_sessions, domain, "orders/create", rest_order(orders[0]))
    webhooks.drain(sessions=scheduler_sessions)
    assert scalar(scheduler_sessions, "SELECT count(*) FROM core_warehouse.orders") == 1
    deliver(web_sessions, domain, "customers/data_request",
            {"shop_id": shop_number(domain), "shop_domain": domain, "customer": {"id": 42}, "orders_requested": []})
    webhooks.drain(sessions=scheduler_sessions)
    # Shopify sends shop/redact 48 hours after the uninstall.
    sandbox.world.shopify.uninstall(domain)
    with session_scope(scheduler_sessions) as session:
        session.execute(text("UPDATE app_dashboard.shops SET status = 'disconnected' WHERE id = :s"), {"s": shop_id})
        session.execute(text("UPDATE app_dashboard.shops SET disconnected_at = now() - interval '49 hours' "
                             "WHERE id = :s"), {"s": shop_id})
    deliver(web_sessions, domain, "shop/redact", {"shop_id": shop_number(domain), "shop_domain": domain})
    webhooks.drain(sessions=scheduler_sessions)
    for table in ("core_warehouse.orders", "core_warehouse.order_line_items", "staging_ingest.load_batches",
                  "staging_ingest.shopify_lines"):
        assert scalar(scheduler_sessions, f"SELECT count(*) FROM {table}") == 0, table
    messages = scalar(scheduler_sessions, "SELECT string_agg(message, ' | ') FROM app_dashboard.sync_events "
                      "WHERE shop_id = :s", s=shop_id)
    assert "Customer data request received: 42; respond within 30 days" in messages
    assert "shop/redact" in messages


def test_unknown_shop_is_marked_processed(scheduler_sessions, web_sessions):
    deliver(web_sessions, "nobody.myshopify.com", "orders/create", {"id": 1})
    assert webhooks.drain(sessions=scheduler_sessions) == 1
    assert outcomes(scheduler_sessions) == [("orders/create", "unknown shop")]


def test_a_shopify_outage_leaves_deliveries_for_a_later_drain(scheduler_sessions, web_sessions, shop_id, store,
                                                              sandbox, orders):
    domain = store.spec.domain
    deliver(web_sessions, domain, "orders/updated", rest_order(orders[0]))
    requests.post(f"{sandbox.base_url}/sandbox/faults/{domain}", json={"requests": {"server_errors": 50}})
    assert webhooks.drain(sessions=scheduler_sessions) == 0
    assert outcomes(scheduler_sessions) == [("orders/updated", None)]
    requests.post(f"{sandbox.base_url}/sandbox/faults/{domain}", json={})
    deliver(web_sessions, "nobody.myshopify.com", "orders/create", {"id": 1})
    assert webhooks.drain(sessions=scheduler_sessions) == 1  # the shop rests; others' deliveries go on
    assert outcomes(scheduler_sessions) == [("orders/updated", None), ("orders/create", "unknown shop")]
    webhooks.resting.pop(domain)  # its rest is over
    assert webhooks.drain(sessions=scheduler_sessions) == 1
    assert order_row(scheduler_sessions, shop_id, orders[0]["id"]) is not None


def test_app_uninstalled_disconnects_cancels_and_later_refetches_fail_for_good(scheduler_sessions, web_sessions,
                                                                                shop_id, store, sandbox, orders):
    domain = store.spec.domain
    with session_scope(scheduler_sessions) as session:
        job_id, _ = jobs.enqueue(session=session, shop_id=shop_id, source="shopify", kind="INCREMENTAL")
    sandbox.world.shopify.uninstall(domain)
    # In one drain with the uninstall, an order update fails (the token is dead) without undoing the uninstall.
    deliver(web_sessions, domain, "orders/updated", rest_order(orders[1]))
    deliver(web_sessions, domain, "app/uninstalled", {"id": shop_number(domain), "myshopify_domain": domain})
    assert webhooks.drain(sessions=scheduler_sessions) == 2
    assert outcomes(scheduler_sessions)[1] == ("app/uninstalled", "disconnected")
    assert scalar(scheduler_sessions, "SELECT status FROM app_dashboard.shops WHERE id = :s", s=shop_id) == \
        "disconnected"
    reason = scalar(scheduler_sessions, "SELECT status_reason FROM app_dashboard.shops WHERE id = :s", s=shop_id)
    assert reason.startswith("The app was uninstalled from the store on ") and "reconnect it in Settings" in reason
    assert scalar(scheduler_sessions, "SELECT status FROM app_dashboard.sync_jobs WHERE id = :j", j=job_id) == \
        "cancelled"
    with session_scope(scheduler_sessions) as session:
        assert sync.enqueue_due(session=session) == 0  # disconnected shops get no INCREMENTAL
    deliver(web_sessions, domain, "orders/updated", rest_order(orders[0]))
    assert webhooks.drain(sessions=scheduler_sessions) == 1
    topic, outcome = outcomes(scheduler_sessions)[-1]
    assert outcome.startswith("failed:") and REVOKED_HINT in outcome
    assert scalar(scheduler_sessions, "SELECT count(*) FROM app_dashboard.sync_events WHERE level = 'ERROR' "
                  "AND details->>'hint' = :h", h=REVOKED_HINT) == 2


# -- end to end: the sandbox delivers over HTTP to the running web ----------------------------------------


@pytest.fixture
def web(server):
    """The Flask app on a loopback port, threaded, as gunicorn would serve it."""
    http = make_server("127.0.0.1", 0, server, threaded=True)
    threading.Thread(target=http.serve_forever, name="web", daemon=True).start()
    yield f"http://127.0.0.1:{http.server_port}"
    http.shutdown()


def test_sandbox_deliveries_over_http_are_verified_landed_and_drained(scheduler_sessions, shop_id, store, sandbox,
                                                                      web, orders):
    domain, shopify = store.spec.domain, sandbox.world.shopify
    for topic in ("ORDERS_CREATE", "ORDERS_UPDATED", "ORDERS_DELETE", "APP_UNINSTALLED"):
        assert shopify.webhooks.create(domain, topic, f"{web}/webhooks/shopify")["userErrors"] == []
    # Shopify's habits: every second event twice, due deliveries shuffled.
    requests.post(f"{sandbox.base_url}/sandbox/faults/{domain}",
                  json={"webhooks": {"duplicate_every": 2, "reorder": True}})

    def landed(topic, count):
        """Every queued delivery was answered, and `count` of `topic` are in the inbox."""
        return lambda: not shopify.webhooks.pending and scalar(
            scheduler_sessions, "SELECT count(*) FROM staging_ingest.webhook_inbox WHERE topic = :t", t=topic) >= count

    created = sum(shopify.emit_order(domain, "ORDERS_CREATE", order) for order in orders)
    updated = shopify.emit_order(domain, "ORDERS_UPDATED", orders[0])
    assert created + updated > 4  # the quirk duplicated some: same event, another delivery
    # The sandbox's own thread delivers every second.
    wait_for(landed("orders/create", created), what="orders/create deliveries")
    wait_for(landed("orders/updated", updated), what="orders/updated deliveries")
    assert all(d.attempts == 1 for d in shopify.webhooks.delivered)  # each answered 2xx the first time
    # (>=: the sandbox's clock may announce a refund made since, with its orders/updated)
    assert webhooks.drain(sessions=scheduler_sessions) >= created + updated
    assert {o["id"] for o in orders} <= set(scalar(scheduler_sessions, "SELECT array_agg(order_id) FROM "
                                                   "core_warehouse.orders WHERE deleted_at IS NULL"))

    shopify.delete_order(domain, orders[1]["id"])
    wait_for(landed("orders/delete", 1), what="orders/delete")
    webhooks.drain(sessions=scheduler_sessions)
    assert order_row(scheduler_sessions, shop_id, orders[1]["id"])["deleted_at"] is not None

    shopify.uninstall(domain)
    wait_for(landed("app/uninstalled", 1), what="app/uninstalled")
    webhooks.drain(sessions=scheduler_sessions)
    assert scalar(scheduler_sessions, "SELECT status FROM app_dashboard.shops WHERE id = :s", s=shop_id) == \
        "disconnected"


def test_the_scheduler_drains_the_inbox_by_itself(db_url, scheduler_sessions, web_sessions):
    from apscheduler.schedulers.background import BackgroundScheduler

    import scheduler

    deliver(web_sessions, "nobody.myshopify.com", "orders/create", {"id": 1})
    service = scheduler.SchedulerService(db_url, scheduler=BackgroundScheduler(), listen=False)
    assert service.scheduler.get_job("shopify_incremental") is not None
    service.start()
    try:
        wait_for(lambda: outcomes(scheduler_sessions) == [("orders/create", "unknown shop")], what="the drain duty")
    finally:
        service.stop(grace_seconds=1)
