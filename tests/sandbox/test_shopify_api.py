"""The sandbox's Shopify Admin API over HTTP: schema validation, tokens, paging, search, cost and throttling."""

from datetime import timedelta

import pytest

from sandbox.shopify_api import INVALID_TOKEN
from tests.sandbox.conftest import NOW, TinyStore, gql


def test_a_wrong_token_gets_shopifys_401(client):
    status, body = gql(client, "{ shop { name } }", token="shpat_wrong")
    assert (status, body) == (401, {"errors": INVALID_TOKEN})


def test_shop(client):
    status, body = gql(client, "{ shop { name currencyCode ianaTimezone myshopifyDomain plan { shopifyPlus } } }")
    assert status == 200
    assert body["data"]["shop"] == {"name": "Tiny", "currencyCode": "EUR", "ianaTimezone": "Europe/Berlin",
                                    "myshopifyDomain": "tiny.myshopify.com", "plan": {"shopifyPlus": False}}



def test_current_app_installation_lists_the_tokens_scopes(client):
    def scopes(token):
        body = gql(client, "{ currentAppInstallation { accessScopes { handle } } }", token=token)[1]
        return [s["handle"] for s in body["data"]["currentAppInstallation"]["accessScopes"]]

    assert scopes("shpat_full") == ["read_orders", "read_all_orders", "read_customers", "read_products"]
    assert scopes("shpat_recent_only") == ["read_orders"]

@pytest.mark.parametrize("query", [
    "{ orders(first: 5) { nodes { id notAField } } }",
    "{ orders(first: 5, notAnArgument: 1) { nodes { id } } }",
    "{ shop { name } ",
])
def test_queries_the_real_schema_rejects_are_rejected(client, query):
    status, body = gql(client, query)
    assert status == 200 and "data" not in body and body["errors"][0]["message"]


@pytest.mark.parametrize("sort_key,reverse", [("PROCESSED_AT", False), ("UPDATED_AT", False), ("ID", True),
                                              ("CREATED_AT", True)])
def test_pagination_visits_every_order_exactly_once(client, sort_key, reverse):
    seen, after = [], None
    query = """query($after: String, $sortKey: OrderSortKeys, $reverse: Boolean) {
        orders(first: 7, after: $after, sortKey: $sortKey, reverse: $reverse) {
            edges { cursor node { id updatedAt } } pageInfo { hasNextPage endCursor } } }"""
    while True:
        _, body = gql(client, query, after=after, sortKey=sort_key, reverse=reverse)
        page = body["data"]["orders"]
        seen += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == 30 and len(set(seen)) == 30


def test_search_by_updated_at_range_and_test_flag(client, api):
    since = "2026-10-01T00:00:00Z"
    _, body = gql(client, "query($q: String) { orders(first: 250, query: $q, sortKey: UPDATED_AT) { nodes { id } } "
                          "ordersCount(query: $q) { count precision } }", q=f"updated_at:>='{since}' test:false")
    expected = [o["id"] for o in TinyStore().orders() if o["updatedAt"] >= since and not o["test"]]
    assert sorted(n["id"] for n in body["data"]["orders"]["nodes"]) == sorted(expected)
    assert body["data"]["ordersCount"] == {"count": len(expected), "precision": "EXACT"}


def test_orders_older_than_60_days_need_read_all_orders(client):
    _, everything = gql(client, "{ ordersCount { count } }")
    _, recent = gql(client, "{ ordersCount { count } }", token="shpat_recent_only")
    cutoff = (NOW - timedelta(days=60)).isoformat().replace("+00:00", "Z")
    assert everything["data"]["ordersCount"]["count"] == 30
    assert recent["data"]["ordersCount"]["count"] == sum(o["createdAt"] >= cutoff for o in TinyStore().orders())


def test_nested_lists_page_as_connections(client):
    _, body = gql(client, "{ orders(first: 1) { nodes { lineItems(first: 2) { nodes { name } "
                          "pageInfo { hasNextPage } } } } }")
    items = body["data"]["orders"]["nodes"][0]["lineItems"]
    assert [n["name"] for n in items["nodes"]] == ["Item 0", "Item 1"] and items["pageInfo"]["hasNextPage"]


def test_fields_the_sandbox_does_not_model_still_answer(client):
    status, body = gql(client, "{ orders(first: 1) { nodes { id confirmed fullyPaid requiresShipping } } }")
    assert status == 200 and "errors" not in body
    assert body["data"]["orders"]["nodes"][0]["confirmed"] is False


@pytest.mark.parametrize("query,message", [
    ("{ orders(first: 251) { nodes { id } } }", "between 0 and 250"),
    ("{ orders { nodes { id } } }", "you must provide one of first or last"),
])
def test_page_size_rules(client, query, message):
    _, body = gql(client, query)
    assert message in body["errors"][0]["message"]


def test_cost_is_calculated_and_reported(client):
    _, body = gql(client, "{ orders(first: 250) { edges { node { id } } } }")
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 252 and cost["actualQueryCost"] <= 252
    assert cost["throttleStatus"]["maximumAvailable"] == 2000 and cost["throttleStatus"]["restoreRate"] == 100


def test_queries_over_1000_points_are_refused(client):
    _, body = gql(client, "{ orders(first: 250) { nodes { id lineItems(first: 10) { nodes { id } } } } }")
    assert body["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED" and "data" not in body


def test_throttling_engages_and_recovers_as_the_bucket_refills(client, clock):
    query = "{ orders(first: 100) { edges { node { id lineItems(first: 5) { nodes { id } } } } } }"  # 2 + 100 * 8
    outcomes = []
    for _ in range(20):  # each costs its actual ~150 points after the refund; the bucket holds 2000
        _, body = gql(client, query)
        outcomes.append(body.get("errors", [{}])[0].get("extensions", {}).get("code", "OK"))
    assert outcomes[0] == "OK" and "THROTTLED" in outcomes
    throttled = gql(client, query)[1]
    cost = throttled["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 802 and cost["actualQueryCost"] is None
    assert cost["throttleStatus"]["currentlyAvailable"] < 802
    clock.t += 8  # 800 points restored at 100/s
    assert "errors" not in gql(client, query)[1]


def test_server_errors_and_forced_throttling_on_demand(client, api):
    from sandbox.shopify_api import ShopifyFaults

    api.faults["tiny.myshopify.com"] = ShopifyFaults(server_errors=2, throttle=1)
    assert [gql(client, "{ shop { name } }")[0] for _ in range(2)] == [503, 503]
    assert gql(client, "{ shop { name } }")[1]["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert "errors" not in gql(client, "{ shop { name } }")[1]


def test_slow_answers_wait_as_configured(client, api):
    from sandbox.shopify_api import ShopifyFaults

    waited = []
    api.sleep = waited.append  # the sandbox's sleep, recorded instead of slept
    api.faults["tiny.myshopify.com"] = ShopifyFaults(slow_seconds=7.5)
    gql(client, "{ shop { name } }")
    assert waited == [7.5]


def test_a_deleted_order_disappears(client, api):
    order_id = TinyStore().orders()[20]["id"]
    api.delete_order("tiny.myshopify.com", order_id)
    _, body = gql(client, "query($id: ID!) { order(id: $id) { id } ordersCount { count } }", id=order_id)
    assert body["data"] == {"order": None, "ordersCount": {"count": 29}}


def test_the_shop_id_is_the_same_in_every_process(client):
    import subprocess
    import sys

    import settings

    _, body = gql(client, "{ shop { id } }")
    other = subprocess.run([sys.executable, "-c", "from sandbox.shopify_api import shop_number; "
                            "print(shop_number('tiny.myshopify.com'))"], cwd=settings.ROOT, check=True,
                           capture_output=True, text=True, env={"PYTHONHASHSEED": "12345", "PATH": ""}).stdout
    assert body["data"]["shop"]["id"] == f"gid://shopify/Shop/{other.strip()}"
