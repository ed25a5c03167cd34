"""Fixtures for the sandbox's tests: a tiny hand-made store and HTTP clients for the APIs."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask

from sandbox.shopify_api import ShopifyAPI, blueprint
from sandbox.shopify_auth import Grant

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
URL = "/shopify/tiny.myshopify.com/admin/api/2026-01/graphql.json"


@dataclass(frozen=True)
class Spec:
    domain: str = "tiny.myshopify.com"
    name: str = "Tiny"
    currency: str = "EUR"
    iana_timezone: str = "Europe/Berlin"
    plan: str = "Basic"
    taxes_included: bool = True
    presentment_currencies: tuple = ("EUR", "USD")
    access_token: str = "shpat_full"
    client_id: str = "tiny-client-id"
    client_secret: str = "tiny-client-secret"
    scopes: tuple = ("read_orders", "read_all_orders", "read_customers", "read_products")


def _money(amount):
    return {"shopMoney": {"amount": amount, "currencyCode": "EUR"},
            "presentmentMoney": {"amount": amount, "currencyCode": "EUR"}}


def _order(n: int) -> dict:
    created = NOW - timedelta(days=100 - 3 * n)  # one order every 3 days, the last ones recent
    return {
        "id": f"gid://shopify/Order/{1000 + n}", "name": f"#{1000 + n}", "legacyResourceId": str(1000 + n),
        "createdAt": created.isoformat().replace("+00:00", "Z"),
        "processedAt": created.isoformat().replace("+00:00", "Z"),
        "updatedAt": (created + timedelta(days=n % 5)).isoformat().replace("+00:00", "Z"),
        "test": n == 3, "currencyCode": "EUR", "totalPriceSet": _money(f"{10 * n}.00"),
        "lineItems": [{"id": f"gid://shopify/LineItem/{n}{i}", "name": f"Item {i}", "quantity": i + 1}
                      for i in range(3)],
        "refunds": [{"id": f"gid://shopify/Refund/{n}", "createdAt": (created + timedelta(days=2)).isoformat()
                     .replace("+00:00", "Z"), "refundLineItems": [{"lineItem": {"id": f"gid://shopify/LineItem/{n}0"},
                                                                  "quantity": 1}]}] if n % 10 == 5 else [],
    }


@dataclass
class TinyStore:
    spec: Spec = field(default_factory=Spec)
    products: list = field(default_factory=list)
    customers: list = field(default_factory=list)

    def orders(self):
        return [_order(n) for n in range(30)]

    def orders_as_of(self, now):
        return [o for o in self.orders() if o["createdAt"] <= _stamp(now)]

    def iter_orders(self, *, as_of=None):
        yield from self.orders() if as_of is None else self.orders_as_of(as_of)

    def customers_as_of(self, now):
        return [c for c in self.customers if c["createdAt"] <= _stamp(now)]

    def products_as_of(self, now):
        return [p for p in self.products if p["createdAt"] <= _stamp(now)]


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


@pytest.fixture
def clock():
    return Clock()


class Now:
    """A settable wall clock for the sandbox (URL expiry, the 60-day window)."""

    def __init__(self):
        self.value = NOW

    def __call__(self):
        return self.value


@pytest.fixture
def now():
    return Now()


@pytest.fixture
def api(clock, now, tmp_path):
    api = ShopifyAPI([TinyStore()], clock=clock, now=now, files=tmp_path / "bulk")
    api.credentials.tokens["shpat_recent_only"] = Grant("tiny.myshopify.com", ("read_orders",))
    return api


@pytest.fixture
def client(api):
    app = Flask(__name__)
    app.register_blueprint(blueprint(api))
    return app.test_client()


def gql(client, query, token="shpat_full", **variables):
    response = client.post(URL, json={"query": query, "variables": variables},
                           headers={"X-Shopify-Access-Token": token})
    return response.status_code, response.get_json()


