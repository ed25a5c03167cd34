"""The sandbox's demo stores over HTTP, with the Shopify settings pointed at it, for the connect tests."""

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

import settings
from sandbox.server import SandboxServer, World, build_world, handed_over
from tests.clock import DEFAULT


@dataclass
class Sandbox:
    """A running sandbox: its world, its base URL and what each store's admin was handed."""

    world: World
    base_url: str
    stores: list[dict]

    def authorize(self, store: dict, *, scope: str = ",".join(settings.SHOPIFY_SCOPES), state: str = "nonce",
                  redirect_uri: str = "http://app.test/shopify/callback") -> dict:
        """Approve the app on a store as a merchant would; return the signed callback query."""
        response = requests.get(f"{self.base_url}/shopify/{store['shop_domain']}/admin/oauth/authorize",
                                params={"client_id": store["client_id"], "scope": scope, "state": state,
                                        "redirect_uri": redirect_uri, "expiring": "1"},
                                allow_redirects=False, timeout=10)
        assert response.status_code == 302, response.text
        return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}

    def revoke(self, store: dict) -> None:
        """Revoke every token issued for the store (what uninstalling the app does)."""
        requests.post(f"{self.base_url}/sandbox/faults/{store['shop_domain']}", json={"revoke_tokens": True},
                      timeout=10).raise_for_status()

    def subscriptions(self, store: dict) -> list[dict]:
        return self.world.shopify.webhooks.of_shop(store["shop_domain"])

    def issued_tokens(self, store: dict) -> int:
        return sum(1 for grant in self.world.shopify.credentials.tokens.values() if grant.shop == store["shop_domain"])


@pytest.fixture
def shopify_world(monkeypatch):
    """Two demo stores; the first's client id and secret double as the public app's (SHOPIFY_API_KEY/SECRET)."""
    world = build_world(stores=2, seed=1, today=DEFAULT.date())  # history of a fixed day, not of today's
    server = SandboxServer(world, port=0).start()
    base = server.base_url
    monkeypatch.setattr(settings, "SHOPIFY_ADMIN_URL", base + "/shopify/{shop}/admin/api/{version}/graphql.json")
    monkeypatch.setattr(settings, "SHOPIFY_OAUTH_URL", base + "/shopify/{shop}/admin/oauth/{endpoint}")
    monkeypatch.setattr(settings, "META_GRAPH_URL", base + "/meta")
    monkeypatch.setattr(settings, "WEBHOOK_BASE_URL", "http://127.0.0.1:1/app")  # nothing listens: no deliveries
    stores = handed_over(world)
    monkeypatch.setattr(settings, "SHOPIFY_API_KEY", stores[0]["client_id"])
    monkeypatch.setattr(settings, "SHOPIFY_API_SECRET", stores[0]["client_secret"])
    yield Sandbox(world=world, base_url=base, stores=stores)
    server.stop()
