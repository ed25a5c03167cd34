"""The sandbox as clients nobody here wrote see it, over real HTTP: ids, node(id:), zeros, clock, versions, REST."""

import time
from datetime import UTC, datetime

import pytest
import requests

from sandbox.server import SandboxServer, build_world

NOW = datetime(2026, 11, 21, 15, 30, tzinfo=UTC)  # the sandbox's clock: the last day is still under way


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    world = build_world(stores=2, seed=7, today=NOW.date(), files=tmp_path_factory.mktemp("bulk"), now=lambda: NOW)
    server = SandboxServer(world).start()
    yield server
    server.stop()


def graphql(sandbox, query, *, store=0, version="2026-01", **variables) -> dict:
    """POST a query as a well-behaved client (waiting out THROTTLED); the JSON answer."""
    return post(sandbox, query, store=store, version=version, **variables).json()


def post(sandbox, query, *, store=0, version="2026-01", **variables) -> requests.Response:
    spec = sandbox.world.stores[store].spec
    while True:
        response = requests.post(f"{sandbox.base_url}/shopify/{spec.domain}/admin/api/{version}/graphql.json",
                                 json={"query": query, "variables": variables},
                                 headers={"X-Shopify-Access-Token": spec.access_token}, timeout=30)
        assert response.status_code == 200, response.text
        body = response.json()
        if body.get("errors", [{}])[0].get("extensions", {}).get("code") != "THROTTLED":
            return response
        cost = body["extensions"]["cost"]
        bucket = cost["throttleStatus"]
        time.sleep((cost["requestedQueryCost"] - bucket["currentlyAvailable"]) / bucket["restoreRate"])


def _ids(value) -> set[str]:
    """Every gid in an answer."""
    if isinstance(value, dict):
        return set().union(*(_ids(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_ids(v) for v in value)) if value else set()
    return {value} if isinstance(value, str) and value.startswith("gid://shopify/") else set()


IDS = """{
  orders(first: 40, sortKey: CREATED_AT) { nodes { id transactions { id } refunds { id }
    lineItems(first: 5) { nodes { id } } } }
  customers(first: 100) { nodes { id } }
  products(first: 10) { nodes { id variants(first: 20) { nodes { id } } } }
}"""


def test_every_store_has_its_own_ids(sandbox):
    first, second = (graphql(sandbox, IDS, store=k)["data"] for k in (0, 1))
    kinds = ("Order/", "Customer/", "Product/", "ProductVariant/", "LineItem/", "OrderTransaction/", "Refund/")
    for kind in kinds:
        assert any(kind in i for i in _ids(first)), kind
    assert not _ids(first) & _ids(second)
