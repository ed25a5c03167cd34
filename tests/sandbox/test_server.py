"""The whole sandbox over real HTTP on loopback, with the real generator: what the ingestion will talk to."""

import csv
import io
import json
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
import requests

import settings
from sandbox.server import SandboxServer, build_world
from sandbox.shopify_graphql import parse_time
from tests.conftest import wait_for

NOW = datetime(2026, 11, 21, 15, 30, tzinfo=UTC)  # the sandbox's clock: later orders have not happened yet


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    world = build_world(stores=2, seed=7, today=NOW.date(), files=tmp_path_factory.mktemp("bulk"), now=lambda: NOW)
    server = SandboxServer(world).start()
    yield server
    server.stop()


def _store(sandbox):
    return sandbox.world.stores[0]


def _placed(sandbox) -> list[dict]:
    """The generated orders placed by the sandbox's now (the store's last day runs to local midnight)."""
    return [order for order in _store(sandbox).orders() if parse_time(order["createdAt"]) <= NOW]


def _graphql(sandbox, query, **variables):
    """POST a query as a well-behaved client: when THROTTLED, wait as long as the bucket needs, then retry."""
    spec = _store(sandbox).spec
    while True:
        response = requests.post(f"{sandbox.base_url}/shopify/{spec.domain}/admin/api/2026-01/graphql.json",
                                 json={"query": query, "variables": variables},
                                 headers={"X-Shopify-Access-Token": spec.access_token}, timeout=30)
        assert response.status_code == 200, response.text
        body = response.json()
        if body.get("errors", [{}])[0].get("extensions", {}).get("code") != "THROTTLED":
            return body
        cost = body["extensions"]["cost"]
        bucket = cost["throttleStatus"]
        time.sleep((cost["requestedQueryCost"] - bucket["currentlyAvailable"]) / bucket["restoreRate"])


def test_paging_over_http_visits_every_generated_order_once(sandbox):
    seen, after = [], None
    while True:
        body = _graphql(sandbox, """query($after: String) { orders(first: 250, after: $after, sortKey: UPDATED_AT) {
            nodes { id } pageInfo { hasNextPage endCursor } } }""",
                        after=after)
        assert "errors" not in body, body.get("errors")
        page = body["data"]["orders"]
        seen += [node["id"] for node in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    generated = [order["id"] for order in _placed(sandbox)]
    assert len(generated) < len(_store(sandbox).orders())  # some of today's orders are still to come
    assert len(seen) == len(set(seen)) == len(generated) and set(seen) == set(generated)


def test_a_broad_order_query_executes_against_generated_orders(sandbox):
    body = _graphql(sandbox, """{ orders(first: 5, sortKey: CREATED_AT) { nodes {
        id name createdAt updatedAt cancelledAt test currencyCode presentmentCurrencyCode sourceName
        totalPriceSet { shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } }
        customer { id email } shippingAddress { city countryCodeV2 }
        lineItems(first: 5) { nodes { id sku quantity originalUnitPriceSet { shopMoney { amount } } } }
        refunds { id createdAt totalRefundedSet { shopMoney { amount } } }
        agreements(first: 3) { nodes { id happenedAt __typename sales(first: 5) { nodes {
            actionType lineType totalAmount { shopMoney { amount } } } } } } } } }""")
    assert "errors" not in body, body.get("errors")
    assert body["extensions"]["cost"]["requestedQueryCost"] <= 1000
    assert len(body["data"]["orders"]["nodes"]) == 5


def test_bulk_jsonl_reassembles_into_exactly_the_generated_orders(sandbox):
    run = _graphql(sandbox, """mutation($q: String!) { bulkOperationRunQuery(query: $q) {
        bulkOperation { id } userErrors { message } } }""",
                   q="{ orders { edges { node { id updatedAt lineItems { edges { node { id quantity } } } } } } }")
    op_id = run["data"]["bulkOperationRunQuery"]["bulkOperation"]["id"]

    def completed():
        op = _graphql(sandbox, "query($id: ID!) { bulkOperation(id: $id) { status url objectCount } }",
                      id=op_id)["data"]["bulkOperation"]
        return op if op["status"] == "COMPLETED" else None

    op = wait_for(completed, timeout=60, what="the bulk operation")
    lines = [json.loads(line) for line in requests.get(op["url"], timeout=30).text.splitlines()]
    parents = {line["id"] for line in lines if "__parentId" not in line}
    children = defaultdict(list)
    for line in lines:
        if "__parentId" in line:
            children[line["__parentId"]].append(line["id"])
    generated = _placed(sandbox)
    assert parents == {order["id"] for order in generated}
    assert all(children[o["id"]] == [item["id"] for item in o["lineItems"]] for o in generated)
    assert int(op["objectCount"]) == len(lines)


def test_truth_and_catalog_endpoints(sandbox):
    spec = _store(sandbox).spec
    end = spec.end
    truth = requests.get(f"{sandbox.base_url}/sandbox/truth", params={
        "shop": spec.domain, "start": (end - timedelta(days=6)).isoformat(), "end": end.isoformat()}, timeout=30)
    expected = truth.json()
    assert len(expected["days"]) == 7 and expected["currency"] == spec.currency
    assert set(expected["ad_accounts"]) == {a.account_id for a in spec.ad_accounts}
    assert all(row["spend"] for account in expected["ad_accounts"].values() for row in account["days"])
    catalog = requests.get(f"{sandbox.base_url}/sandbox/catalog/{spec.domain}.csv", timeout=30).text
    rows = list(csv.DictReader(io.StringIO(catalog)))
    assert rows and rows[0]["URL handle"] and rows[0]["Title"]


def test_product_images_are_served_as_placeholders(sandbox):
    for image in _store(sandbox).products[0]["images"]:
        response = requests.get(sandbox.base_url + image["url"], timeout=5)
        assert response.status_code == 200 and response.headers["Content-Type"].startswith("image/svg+xml")
        assert response.text.startswith("<svg") and "<script" not in response.text


def test_cli_stores_is_the_same_for_the_same_seed():
    def stores():
        out = subprocess.run([sys.executable, "-m", "sandbox", "stores", "--stores", "2", "--seed", "3"],
                             cwd=settings.ROOT, capture_output=True, text=True, check=True).stdout
        return json.loads(out)

    first = stores()
    assert first == stores() and len(first) == 2
    assert first[0]["access_token"].startswith("shpat_") and first[0]["ad_accounts"]


def test_cli_truth_and_export_catalog():
    shop = json.loads(subprocess.run([sys.executable, "-m", "sandbox", "stores", "--stores", "1"],
                                     cwd=settings.ROOT, capture_output=True, text=True, check=True).stdout)[0]
    truth = subprocess.run([sys.executable, "-m", "sandbox", "truth", "--stores", "1", "--shop", shop["shop_domain"],
                            "--start", "2026-01-01", "--end", "2026-01-03"], cwd=settings.ROOT,
                           capture_output=True, text=True, check=True).stdout
    assert [row["date"] for row in json.loads(truth)["days"]] == ["2026-01-01", "2026-01-02", "2026-01-03"]
    catalog = subprocess.run([sys.executable, "-m", "sandbox", "export-catalog", "--stores", "1", "--shop",
                              shop["shop_domain"]], cwd=settings.ROOT, capture_output=True, text=True, check=True)
    assert catalog.stdout.startswith("Title,URL handle,")
