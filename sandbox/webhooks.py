"""Webhook subscriptions and deliveries, as Shopify sends them.

Each delivery is a POST of the JSON payload with `X-Shopify-Topic`, `X-Shopify-Hmac-Sha256` (base64 HMAC-SHA256
of the raw body with the app's client secret), `X-Shopify-Shop-Domain`, `X-Shopify-API-Version`,
`X-Shopify-Webhook-Id` (same across retries of one delivery), `X-Shopify-Event-Id` (same across duplicate
deliveries of one event) and `X-Shopify-Triggered-At`. A non-2xx answer (3xx included) is retried with backoff,
8 times in all; on demand some events are delivered twice and due deliveries go out of order.
Facts: ../shared/reference/shopify.md section 4.
"""

import base64
import hashlib
import hmac
import itertools
import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import requests

MAX_ATTEMPTS = 8


def topic_name(enum_value: str) -> str:
    """ORDERS_CREATE -> orders/create (the header's form)."""
    first, _, rest = enum_value.lower().partition("_")
    return f"{first}/{rest}"


def sign(body: bytes, secret: str) -> str:
    """The X-Shopify-Hmac-Sha256 header for a body."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@dataclass
class Delivery:
    shop: str
    uri: str
    topic: str
    body: bytes
    secret: str
    event_id: str
    triggered_at: datetime
    webhook_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    attempts: int = 0
    due: datetime | None = None


@dataclass
class Quirks:
    """Shopify's delivery habits, on demand: every Nth event twice, due deliveries shuffled."""

    duplicate_every: int = 0
    reorder: bool = False


class Webhooks:
    """Subscriptions per shop, and the queue of deliveries not yet accepted."""

    def __init__(self, *, now: Callable[[], datetime], api_version: str = "2026-01", seed: int = 0,
                 post: Callable[..., requests.Response] = requests.post):
        self.now = now
        self.api_version = api_version
        self.post = post
        self.random = random.Random(seed)
        self.subscriptions: dict[str, dict] = {}
        self.pending: list[Delivery] = []
        self.delivered: list[Delivery] = []
        self.quirks: dict[str, Quirks] = {}
        self._ids = itertools.count(1)
        self._events = itertools.count(1)

    # -- subscriptions (the GraphQL mutations) ---------------------------------------------------------

    def create(self, shop: str, topic: str, uri: str | None, fmt: str = "JSON") -> dict:
        if not uri or not uri.startswith(("https://", "http://")):
            return {"webhookSubscription": None,
                    "userErrors": [{"field": ["webhookSubscription", "callbackUrl"], "message": "Address is invalid"}]}
        duplicate = any(s["shop"] == shop and s["topic"] == topic and s["uri"] == uri
                        for s in self.subscriptions.values())
        if duplicate:
            return {"webhookSubscription": None, "userErrors": [
                {"field": ["webhookSubscription", "callbackUrl"], "message": "Address for this topic has already "
                                                                             "been taken"}]}
        number = next(self._ids)
        stamp = self.now().strftime("%Y-%m-%dT%H:%M:%SZ")  # whole seconds, as Shopify writes timestamps
        subscription = {"id": f"gid://shopify/WebhookSubscription/{number}", "legacyResourceId": str(number),
                        "topic": topic, "uri": uri, "callbackUrl": uri, "format": fmt, "createdAt": stamp,
                        "updatedAt": stamp, "apiVersion": {"handle": self.api_version}, "includeFields": [],
                        "shop": shop}
        self.subscriptions[subscription["id"]] = subscription
        return {"webhookSubscription": subscription, "userErrors": []}

    def delete(self, shop: str, subscription_id: str) -> dict:
        found = self.subscriptions.get(subscription_id)
        if found is None or found["shop"] != shop:
            return {"deletedWebhookSubscriptionId": None,
                    "userErrors": [{"field": ["id"], "message": "Webhook subscription does not exist"}]}
        del self.subscriptions[subscription_id]
        return {"deletedWebhookSubscriptionId": subscription_id, "userErrors": []}

    def of_shop(self, shop: str) -> list[dict]:
        return [s for s in self.subscriptions.values() if s["shop"] == shop]

    # -- deliveries ---------------------------------------------------------------------------------------

    def emit(self, shop: str, topic: str, payload: dict, *, secret: str) -> int:
        """Queue the event for every subscriber of `topic` (GraphQL enum form); return how many deliveries."""
        body = json.dumps(payload).encode()
        event_id, quirks = str(uuid.uuid4()), self.quirks.get(shop, Quirks())
        twice = quirks.duplicate_every and next(self._events) % quirks.duplicate_every == 0
        count = 0
        for subscription in self.of_shop(shop):
            if subscription["topic"] != topic:
                continue
            for _ in range(2 if twice else 1):
                self.pending.append(Delivery(shop=shop, uri=subscription["uri"], topic=topic_name(topic), body=body,
                                             secret=secret, event_id=event_id, triggered_at=self.now(),
                                             due=self.now()))
                count += 1
        return count

    def deliver_due(self) -> int:
        """Send every delivery that is due; failures come back later with backoff. Return how many succeeded."""
        now = self.now()
        due = [d for d in self.pending if d.due <= now]
        if any(self.quirks.get(d.shop, Quirks()).reorder for d in due):
            self.random.shuffle(due)
        succeeded = 0
        for delivery in due:
            self.pending.remove(delivery)
            delivery.attempts += 1
            if self._send(delivery):
                self.delivered.append(delivery)
                succeeded += 1
            elif delivery.attempts < MAX_ATTEMPTS:
                # Shopify spreads 8 attempts over about 4 hours.
                delivery.due = now + timedelta(seconds=60 * 2 ** (delivery.attempts - 1))
                self.pending.append(delivery)
        return succeeded

    def _send(self, delivery: Delivery) -> bool:
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": delivery.topic,
            "X-Shopify-Hmac-Sha256": sign(delivery.body, delivery.secret),
            "X-Shopify-Shop-Domain": delivery.shop,
            "X-Shopify-API-Version": self.api_version,
            "X-Shopify-Webhook-Id": delivery.webhook_id,
            "X-Shopify-Event-Id": delivery.event_id,
            "X-Shopify-Triggered-At": delivery.triggered_at.isoformat().replace("+00:00", "Z"),
        }
        try:
            response = self.post(delivery.uri, data=delivery.body, headers=headers, timeout=5, allow_redirects=False)
        except requests.RequestException:
            return False
        return 200 <= response.status_code < 300


def rest_order(order: dict) -> dict:
    """An order as webhooks carry it (the REST resource's snake_case shape), from the GraphQL-shaped dict."""

    def money(key: str) -> str | None:
        value = order.get(key)
        return value["shopMoney"]["amount"] if value else None

    number = int(order["id"].rsplit("/", 1)[1])
    return {
        "id": number,
        "admin_graphql_api_id": order["id"],
        "name": order.get("name"),
        "email": order.get("email"),
        "created_at": order.get("createdAt"),
        "updated_at": order.get("updatedAt"),
        "processed_at": order.get("processedAt"),
        "cancelled_at": order.get("cancelledAt"),
        "test": order.get("test", False),
        "currency": order.get("currencyCode"),
        "presentment_currency": order.get("presentmentCurrencyCode"),
        "total_price": money("totalPriceSet"),
        "subtotal_price": money("subtotalPriceSet"),
        "total_tax": money("totalTaxSet"),
        "total_discounts": money("totalDiscountsSet"),
        "financial_status": (order.get("displayFinancialStatus") or "").lower() or None,
        "line_items": [{"id": int(item["id"].rsplit("/", 1)[1]), "admin_graphql_api_id": item["id"],
                        "title": item.get("title") or item.get("name"), "quantity": item.get("quantity"),
                        "sku": item.get("sku")} for item in order.get("lineItems", [])],
    }


def rest_refund(order: dict, refund: dict) -> dict:
    """A refund as refunds/create carries it."""
    return {
        "id": int(refund["id"].rsplit("/", 1)[1]),
        "admin_graphql_api_id": refund["id"],
        "order_id": int(order["id"].rsplit("/", 1)[1]),
        "created_at": refund.get("createdAt"),
        "note": refund.get("note"),
        "refund_line_items": [{"line_item_id": int(item["lineItem"]["id"].rsplit("/", 1)[1]),
                               "quantity": item.get("quantity")}
                              for item in refund.get("refundLineItems") or [] if item.get("lineItem")],
    }
