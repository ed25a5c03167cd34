"""Webhooks over real HTTP on loopback: subscriptions, Shopify's headers, valid HMACs, retries, quirks."""

import json
import threading
from datetime import datetime, timedelta

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from sandbox.webhooks import Quirks, sign
from tests.sandbox.conftest import NOW, TinyStore, gql

SHOP = "tiny.myshopify.com"
CREATE = """mutation($topic: WebhookSubscriptionTopic!, $uri: String!) {
    webhookSubscriptionCreate(topic: $topic, webhookSubscription: {uri: $uri, format: JSON}) {
        webhookSubscription { id topic uri } userErrors { field message } } }"""


class Receiver:
    """An app's webhook endpoint on 127.0.0.1 that records what arrives and answers `status`."""

    def __init__(self):
        self.received = []
        self.status = 200
        self.server = make_server("127.0.0.1", 0, self.app)
        self.url = f"http://127.0.0.1:{self.server.server_port}/webhooks/shopify"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @Request.application
    def app(self, request):
        self.received.append((dict(request.headers), request.get_data()))
        return Response("ok", status=self.status)


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()


def subscribe(client, receiver, topic="ORDERS_CREATE"):
    _, body = gql(client, CREATE, topic=topic, uri=receiver.url)
    return body["data"]["webhookSubscriptionCreate"]


def test_subscribe_list_and_delete(client, receiver):
    created = subscribe(client, receiver)
    assert created["userErrors"] == [] and created["webhookSubscription"]["topic"] == "ORDERS_CREATE"
    assert subscribe(client, receiver)["userErrors"][0]["message"].endswith("has already been taken")
    _, listing = gql(client, "{ webhookSubscriptions(first: 10) { nodes { id uri } } }")
    assert listing["data"]["webhookSubscriptions"]["nodes"] == [{"id": created["webhookSubscription"]["id"],
                                                                 "uri": receiver.url}]
    _, deleted = gql(client, "mutation($id: ID!) { webhookSubscriptionDelete(id: $id) { deletedWebhookSubscriptionId"
                             " } }", id=created["webhookSubscription"]["id"])
    assert deleted["data"]["webhookSubscriptionDelete"]["deletedWebhookSubscriptionId"]


def test_deliveries_carry_shopifys_headers_and_a_valid_hmac(client, api, receiver):
    subscribe(client, receiver)
    order = TinyStore().orders()[4]
    assert api.emit_order(SHOP, "ORDERS_CREATE", order) == 1
    assert api.webhooks.deliver_due() == 1
    headers, body = receiver.received[0]
    assert headers["X-Shopify-Topic"] == "orders/create" and headers["X-Shopify-Shop-Domain"] == SHOP
    assert headers["X-Shopify-Hmac-Sha256"] == sign(body, "tiny-client-secret")
    assert headers["X-Shopify-Api-Version"] == "2026-01" and headers["X-Shopify-Webhook-Id"]
    assert b'"admin_graphql_api_id": "gid://shopify/Order/1004"' in body


def test_failed_deliveries_are_retried_with_the_same_webhook_id(client, api, receiver, now):
    subscribe(client, receiver)
    receiver.status = 500
    api.emit_order(SHOP, "ORDERS_CREATE", TinyStore().orders()[0])
    assert api.webhooks.deliver_due() == 0
    assert api.webhooks.deliver_due() == 0 and len(receiver.received) == 1  # not due yet
    receiver.status = 200
    now.value += timedelta(minutes=1)
    assert api.webhooks.deliver_due() == 1
    ids = {headers["X-Shopify-Webhook-Id"] for headers, _ in receiver.received}
    assert len(receiver.received) == 2 and len(ids) == 1


def test_on_demand_some_events_arrive_twice_and_out_of_order(client, api, receiver):
    subscribe(client, receiver)
    api.webhooks.quirks[SHOP] = Quirks(duplicate_every=2, reorder=True)
    orders = TinyStore().orders()[:10]
    for order in orders:
        api.emit_order(SHOP, "ORDERS_CREATE", order)
    api.webhooks.deliver_due()
    events = [headers["X-Shopify-Event-Id"] for headers, _ in receiver.received]
    assert len(events) == 15 and len(set(events)) == 10
    order_ids = [json.loads(body)["id"] for _, body in receiver.received]
    assert order_ids != sorted(order_ids)  # not in emission order


def test_uninstall_sends_app_uninstalled_and_revokes_tokens(client, api, receiver):
    subscribe(client, receiver, topic="APP_UNINSTALLED")
    api.uninstall(SHOP)
    api.webhooks.deliver_due()
    assert receiver.received[0][0]["X-Shopify-Topic"] == "app/uninstalled"
    assert gql(client, "{ shop { name } }")[0] == 401


def test_orders_appear_and_are_announced_as_the_clock_passes_them(client, now, tmp_path, receiver):
    from flask import Flask

    from sandbox.shopify_api import ShopifyAPI, blueprint

    now.value = NOW - timedelta(days=60)
    api = ShopifyAPI([TinyStore()], now=now, files=tmp_path)
    app = Flask(__name__)
    app.register_blueprint(blueprint(api))
    client = app.test_client()
    for topic in ("ORDERS_CREATE", "REFUNDS_CREATE", "ORDERS_DELETE"):
        gql(client, CREATE, topic=topic, uri=receiver.url)
    before = gql(client, "{ ordersCount { count } }")[1]["data"]["ordersCount"]["count"]
    window_start = now.value
    now.value += timedelta(days=10)
    placed = [o for o in TinyStore().orders()
              if window_start < datetime.fromisoformat(o["createdAt"].replace("Z", "+00:00")) <= now.value]
    api.announce_due_events()
    api.webhooks.deliver_due()
    after = gql(client, "{ ordersCount { count } }")[1]["data"]["ordersCount"]["count"]
    topics = [headers["X-Shopify-Topic"] for headers, _ in receiver.received]
    assert after - before == topics.count("orders/create") == len(placed) == 3  # one order every 3 days
    assert topics.count("refunds/create") == 1
    assert api.announce_due_events() == 0  # nothing new happened
    api.delete_order(SHOP, TinyStore().orders()[0]["id"])
    api.webhooks.deliver_due()
    assert receiver.received[-1][0]["X-Shopify-Topic"] == "orders/delete"
