"""A signed body replayed under a forged topic changes nothing; genuine uninstalls and redactions still act.

Shopify's HMAC covers the body, not X-Shopify-Topic: these tests post real signed bodies to the real route
(`/webhooks/shopify`) with another topic and a fresh webhook id, then run the real drain.
"""

import json
import uuid

import pytest
import requests
from sqlalchemy import text

from database import session_scope
from ingest.shopify import webhooks
from sandbox.shopify_api import shop_number
from sandbox.webhooks import rest_order, sign
from tests.conftest import scalar
from tests.ingest.shopify.test_webhooks import warehouse_snapshot


@pytest.fixture(autouse=True)
def no_resting_shops():
    webhooks.resting.clear()
    yield
    webhooks.resting.clear()


def post(client, store, topic: str, body: bytes):
    """Deliver `body` as Shopify would, signed with the store's secret, under `topic` and a fresh id."""
    headers = {"Content-Type": "application/json", "X-Shopify-Topic": topic,
               "X-Shopify-Shop-Domain": store.spec.domain, "X-Shopify-Webhook-Id": str(uuid.uuid4()),
               "X-Shopify-Hmac-Sha256": sign(body, store.spec.client_secret), "X-Shopify-API-Version": "2026-01"}
    response = client.post("/webhooks/shopify", data=body, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)


@pytest.fixture
def loaded(client, scheduler_sessions, shop_id, store, orders):
    """The store's orders in the warehouse (through signed orders/updated deliveries) and a 100 % figure."""
    captured = [json.dumps(rest_order(order)).encode() for order in orders]
    for body in captured:
        post(client, store, "orders/updated", body)
    assert webhooks.drain(sessions=scheduler_sessions) == len(orders)
    with session_scope(scheduler_sessions) as session:
        session.execute(text("UPDATE app_dashboard.shops SET shopify_order_count = 3, warehouse_order_count = 3, "
                             "completeness_checked_at = now() WHERE id = :s"), {"s": shop_id})
    return captured


def shop_state(sessions, shop_id) -> tuple:
    return tuple(scalar(sessions, f"SELECT {column}::text FROM app_dashboard.shops WHERE id = :s", s=shop_id)
                 for column in ("status", "disconnected_at", "warehouse_order_count", "completeness_checked_at"))


def refusals(sessions) -> list[tuple[str, str]]:
    with session_scope(sessions) as session:
        return [tuple(row) for row in session.execute(text(
            "SELECT topic, outcome FROM staging_ingest.webhook_inbox WHERE outcome LIKE 'refused:%' ORDER BY id"))]


def warnings(sessions) -> list[str]:
    with session_scope(sessions) as session:
        return list(session.execute(text(
            "SELECT message FROM app_dashboard.sync_events WHERE level = 'WARN' ORDER BY id")).scalars())


def disconnect(sessions, shop_id, *, hours_ago: float) -> None:
    with session_scope(sessions) as session:
        session.execute(text("UPDATE app_dashboard.shops SET status = 'disconnected' WHERE id = :s"), {"s": shop_id})
        session.execute(text("UPDATE app_dashboard.shops SET disconnected_at = now() - make_interval(hours => :h) "
                             "WHERE id = :s"), {"s": shop_id, "h": hours_ago})


@pytest.mark.parametrize("topic", ["shop/redact", "app/uninstalled", "orders/delete", "customers/redact"])
def test_a_signed_order_body_under_a_forged_topic_changes_nothing(client, scheduler_sessions, shop_id, store,
                                                                  loaded, topic):
    before = warehouse_snapshot(scheduler_sessions, shop_id), shop_state(scheduler_sessions, shop_id)
    post(client, store, topic, loaded[0])  # the web cannot tell: the signature is Shopify's
    assert webhooks.drain(sessions=scheduler_sessions) == 1
    assert (warehouse_snapshot(scheduler_sessions, shop_id), shop_state(scheduler_sessions, shop_id)) == before
    assert before[1][0] == "active" and len(before[0][0]) == 3
    [(refused_topic, outcome)] = refusals(scheduler_sessions)
    assert refused_topic == topic and outcome.startswith("refused: ")
    assert warnings(scheduler_sessions) == [f"Webhook {topic} refused: {outcome.removeprefix('refused: ')}"]


def test_a_well_shaped_uninstall_is_refused_while_shopify_accepts_the_token(client, scheduler_sessions, shop_id,
                                                                          store, loaded):
    body = json.dumps({"id": shop_number(store.spec.domain), "myshopify_domain": store.spec.domain}).encode()
    post(client, store, "app/uninstalled", body)
    webhooks.drain(sessions=scheduler_sessions)
    assert shop_state(scheduler_sessions, shop_id)[0] == "active"
    assert refusals(scheduler_sessions) == [
        ("app/uninstalled", "refused: Shopify still accepts the store's token: the app is installed")]


def test_a_shop_redact_naming_another_store_or_too_early_is_refused(client, scheduler_sessions, shop_id, store,
                                                                    sandbox, loaded):
    domain = store.spec.domain
    sandbox.world.shopify.uninstall(domain)
    before = warehouse_snapshot(scheduler_sessions, shop_id)
    post(client, store, "shop/redact", json.dumps({"shop_id": 1, "shop_domain": domain}).encode())
    disconnect(scheduler_sessions, shop_id, hours_ago=47)
    post(client, store, "shop/redact", json.dumps({"shop_id": shop_number(domain), "shop_domain": domain}).encode())
    webhooks.drain(sessions=scheduler_sessions)
    assert warehouse_snapshot(scheduler_sessions, shop_id) == before
    assert [outcome for _, outcome in refusals(scheduler_sessions)] == [
        f"refused: the body names another store ({domain}, 1)",
        "refused: the store has not been disconnected for 48 hours"]


def test_a_genuine_uninstall_still_disconnects(client, scheduler_sessions, shop_id, store, sandbox, loaded):
    requests.post(f"{sandbox.base_url}/sandbox/faults/{store.spec.domain}", json={"revoke_tokens": True},
                  timeout=10).raise_for_status()
    body = json.dumps({"id": shop_number(store.spec.domain), "name": store.spec.name,
                       "myshopify_domain": store.spec.domain}).encode()
    post(client, store, "app/uninstalled", body)
    assert webhooks.drain(sessions=scheduler_sessions) == 1
    status, disconnected_at, _, _ = shop_state(scheduler_sessions, shop_id)
    assert status == "disconnected" and disconnected_at is not None
    assert refusals(scheduler_sessions) == []


def test_a_genuine_shop_redact_48_hours_after_disconnection_erases_and_clears_completeness(
        client, scheduler_sessions, shop_id, store, sandbox, loaded):
    domain = store.spec.domain
    sandbox.world.shopify.uninstall(domain)
    disconnect(scheduler_sessions, shop_id, hours_ago=49)
    post(client, store, "shop/redact", json.dumps({"shop_id": shop_number(domain), "shop_domain": domain}).encode())
    assert webhooks.drain(sessions=scheduler_sessions) == 1
    assert scalar(scheduler_sessions, "SELECT count(*) FROM core_warehouse.orders WHERE shop_id = :s", s=shop_id) == 0
    _, _, warehouse_count, checked_at = shop_state(scheduler_sessions, shop_id)
    assert (warehouse_count, checked_at) == (None, None)  # the status page says "not checked yet", not 100 %
    assert refusals(scheduler_sessions) == []
