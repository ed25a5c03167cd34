"""Bulk operations: Shopify's rules, the background run, JSONL with __parentId, limits, faults, expiry."""

import json
from collections import defaultdict
from datetime import timedelta

import pytest

from sandbox.bulk import BulkFaults
from tests.conftest import wait_for
from tests.sandbox.conftest import TinyStore, gql

ORDERS_WITH_LINES = "{ orders { edges { node { id name lineItems { edges { node { id quantity } } } } } } }"
RUN = """mutation($q: String!) { bulkOperationRunQuery(query: $q) {
    bulkOperation { id status } userErrors { field message code } } }"""
POLL = """query($id: ID!) { bulkOperation(id: $id) {
    id status errorCode objectCount rootObjectCount fileSize url partialDataUrl completedAt } }"""


def start(client, query=ORDERS_WITH_LINES):
    _, body = gql(client, RUN, q=query)
    return body["data"]["bulkOperationRunQuery"]


def finished(client, op_id):
    def done():
        op = gql(client, POLL, id=op_id)[1]["data"]["bulkOperation"]
        return op if op["status"] in ("COMPLETED", "FAILED", "CANCELED") else None

    return wait_for(done, timeout=10, what=f"bulk operation {op_id}")


def download(client, url):
    return client.get(url[url.index("/storage/"):]).get_data(as_text=True)


def test_jsonl_reassembles_by_parent_id_into_exactly_the_orders(client):
    payload = start(client)
    assert payload["userErrors"] == [] and payload["bulkOperation"]["status"] == "CREATED"
    op = finished(client, payload["bulkOperation"]["id"])
    assert op["status"] == "COMPLETED" and op["objectCount"] == str(30 + 90) and op["rootObjectCount"] == "30"
    lines = [json.loads(line) for line in download(client, op["url"]).splitlines()]
    assert int(op["fileSize"]) > 0
    parents = {line["id"]: line for line in lines if "__parentId" not in line}
    children = defaultdict(list)
    for line in lines:
        if "__parentId" in line:
            children[line["__parentId"]].append(line["id"])
    expected = TinyStore().orders()
    assert sorted(parents) == sorted(o["id"] for o in expected)
    for order in expected:
        assert children[order["id"]] == [item["id"] for item in order["lineItems"]]
    # groupObjects is false by default in 2026-01: a child need not follow its parent
    first_child = next(i for i, line in enumerate(lines) if "__parentId" in line)
    previous = lines[first_child - 1]
    assert "__parentId" not in previous and lines[first_child]["__parentId"] != previous["id"]


@pytest.mark.parametrize("query,message", [
    ("{ shop { name } }", "at least one connection"),
    ("{ orders { edges { node { id notAField } } } }", "Invalid bulk query"),
    ("{ products { edges { node { id collections { edges { node { id products { edges { node { id "
     "variants { edges { node { id } } } } } } } } } } } } }", "nesting depth"),
    ("{ products { edges { node { id collections { edges { node { ...Deep } } } } } } } "
     "fragment Deep on Collection { products { edges { node { variants { edges { node { id } } } } } } }",
     "nesting depth"),
])
def test_queries_shopify_would_refuse_get_user_errors(client, query, message):
    payload = start(client, query)
    assert payload["bulkOperation"] is None and message in payload["userErrors"][0]["message"]


def test_five_at_once_per_shop_then_limit_reached_and_cancel(client, api):
    faults = api.bulk.faults["tiny.myshopify.com"] = BulkFaults(held=True)
    ids = [start(client)["bulkOperation"]["id"] for _ in range(5)]
    assert wait_for(lambda: gql(client, POLL, id=ids[0])[1]["data"]["bulkOperation"]["status"] == "RUNNING")
    _, current = gql(client, "{ currentBulkOperation { id } }")
    assert current["data"]["currentBulkOperation"]["id"] in ids
    sixth = start(client)
    assert sixth["bulkOperation"] is None and sixth["userErrors"][0]["code"] == "LIMIT_REACHED"
    _, body = gql(client, "mutation($id: ID!) { bulkOperationCancel(id: $id) { bulkOperation { status } } }",
                  id=ids[0])
    assert body["data"]["bulkOperationCancel"]["bulkOperation"]["status"] == "CANCELING"
    faults.release.set()
    assert finished(client, ids[0])["status"] == "CANCELED"
    assert {finished(client, op_id)["status"] for op_id in ids[1:]} == {"COMPLETED"}
    _, listing = gql(client, '{ bulkOperations(first: 10, query: "status:completed") { nodes { id } } }')
    assert len(listing["data"]["bulkOperations"]["nodes"]) == 4


def test_a_failed_operation_has_an_error_code_and_partial_data(client, api):
    api.bulk.faults["tiny.myshopify.com"] = BulkFaults(fail=1)
    op = finished(client, start(client)["bulkOperation"]["id"])
    assert (op["status"], op["errorCode"], op["url"]) == ("FAILED", "INTERNAL_SERVER_ERROR", None)
    partial = download(client, op["partialDataUrl"]).splitlines()
    assert 0 < len(partial) < 120


def test_urls_expire_after_seven_days(client, now):
    op = finished(client, start(client)["bulkOperation"]["id"])
    now.value += timedelta(days=8)
    expired = gql(client, POLL, id=op["id"])[1]["data"]["bulkOperation"]
    assert (expired["status"], expired["url"]) == ("EXPIRED", None)
    assert client.get(op["url"][op["url"].index("/storage/"):]).status_code == 403


def test_malformed_lines_and_truncated_downloads_on_demand(client, api):
    api.bulk.faults["tiny.myshopify.com"] = BulkFaults(malformed_lines=2, truncate=1)
    op = finished(client, start(client)["bulkOperation"]["id"])
    truncated = download(client, op["url"])
    whole = download(client, op["url"])
    assert len(truncated) < len(whole)
    broken = 0
    for line in whole.splitlines():
        try:
            json.loads(line)
        except json.JSONDecodeError:
            broken += 1
    assert broken == 2
