"""The sandbox as clients nobody here wrote see it, over real HTTP: ids, node(id:), zeros, clock, versions, REST."""

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests

from sandbox.render import PLACEHOLDERS
from sandbox.server import SandboxServer, build_world
from sandbox.shopify_graphql import CostBucket

NOW = datetime(2026, 11, 21, 15, 30, tzinfo=UTC)  # the sandbox's clock: the last day is still under way


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    world = build_world(stores=2, seed=7, today=NOW.date(), files=tmp_path_factory.mktemp("bulk"), now=lambda: NOW)
    for store in world.stores:  # a bucket that never runs dry: these tests page one order at a time
        world.shopify.buckets[store.spec.domain] = CostBucket(restore_rate=10**6, maximum=10**6)
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


def _run_bulk(sandbox, query, *, version="2026-01", group_objects=None) -> str:
    """Start a bulk query; its operation's gid."""
    argument = "" if group_objects is None else f", groupObjects: {str(group_objects).lower()}"
    body = graphql(sandbox, f"""mutation($q: String!) {{ bulkOperationRunQuery(query: $q{argument}) {{
        bulkOperation {{ id }} userErrors {{ message }} }} }}""", version=version, q=query)
    payload = body["data"]["bulkOperationRunQuery"]
    assert not payload["userErrors"], payload
    return payload["bulkOperation"]["id"]


def _poll_by_node(sandbox, gid) -> dict:
    """Poll a bulk operation as the Singer tap does: node(id:) with an inline fragment."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        node = graphql(sandbox, """query($id: ID!) { node(id: $id) { id ... on BulkOperation {
            status url objectCount } } }""", id=gid)["data"]["node"]
        assert node is not None, "node(id:) must find the bulk operation"
        if node["status"] not in ("CREATED", "RUNNING"):
            return node
        time.sleep(0.05)
    raise AssertionError("bulk operation did not finish")


def test_node_resolves_a_bulk_operation_and_nodes_every_kind(sandbox):
    gid = _run_bulk(sandbox, "{ customers { edges { node { id } } } }")
    node = _poll_by_node(sandbox, gid)
    assert node["id"] == gid and node["status"] == "COMPLETED" and node["url"]
    assert int(node["objectCount"]) == len(sandbox.world.stores[0].customers)

    ids = graphql(sandbox, """{ orders(first: 1, sortKey: CREATED_AT) { nodes { id transactions { id } } }
        customers(first: 1) { nodes { id } }
        products(first: 1) { nodes { id variants(first: 1) { nodes { id } } } } }""")
    data = ids["data"]
    order = data["orders"]["nodes"][0]
    wanted = {"Order": order["id"], "OrderTransaction": order["transactions"][0]["id"],
              "Customer": data["customers"]["nodes"][0]["id"], "Product": data["products"]["nodes"][0]["id"],
              "ProductVariant": data["products"]["nodes"][0]["variants"]["nodes"][0]["id"], "BulkOperation": gid}
    other_store = graphql(sandbox, "{ orders(first: 1) { nodes { id } } }", store=1)["data"]["orders"]["nodes"][0]
    body = graphql(sandbox, """query($ids: [ID!]!) { nodes(ids: $ids) { __typename id
        ... on Order { name } ... on Customer { email } ... on ProductVariant { sku product { id } }
        ... on OrderTransaction { kind amountSet { shopMoney { amount } } } } }""",
                   ids=[*wanted.values(), other_store["id"], "gid://shopify/Order/1"])
    assert "errors" not in body, body["errors"]
    found = body["data"]["nodes"]
    assert [(n["__typename"], n["id"]) for n in found[:-2]] == list(wanted.items())
    assert found[-2:] == [None, None]  # another shop's order, and one that does not exist
    assert found[0]["name"].startswith("#") and "@" in found[2]["email"]
    assert found[4]["product"]["id"] == wanted["Product"]


@pytest.mark.parametrize(("asked", "served"), [("2025-07", "2026-01"), ("unstable", "2026-01"), ("2024-13", "2026-01"),
                                               ("2026-01", "2026-01"), ("2026-10", "2026-10")])
def test_unsupported_versions_fall_forward_to_the_oldest_supported_one(sandbox, asked, served):
    response = post(sandbox, "{ shop { name } }", version=asked)
    assert response.headers["X-Shopify-API-Version"] == served
    assert response.json()["data"]["shop"]["name"] == sandbox.world.stores[0].spec.name


def test_group_objects_defaults_to_what_the_served_schema_says(sandbox):
    # 2025-10's schema said true, but it was retired on 2026-10-01: a request for it is served by 2026-01 (false).
    gid = _run_bulk(sandbox, "{ products { edges { node { id variants { edges { node { id } } } } } } }",
                    version="2025-10")
    node = _poll_by_node(sandbox, gid)
    lines = requests.get(node["url"], timeout=30).text.splitlines()
    parents = [i for i, line in enumerate(lines) if "__parentId" not in line]
    assert parents[1] == 1  # products first, their variants in a batch after them: not grouped


def _rest(sandbox, path, *, token=None):
    spec = sandbox.world.stores[0].spec
    return requests.get(f"{sandbox.base_url}/shopify/{spec.domain}{path}",
                        headers={"X-Shopify-Access-Token": token or spec.access_token}, timeout=30)


def test_shop_json_and_access_scopes_answer_in_shopify_rest_shapes(sandbox):
    spec = sandbox.world.stores[0].spec
    shop = _rest(sandbox, "/admin/api/2025-04/shop.json")
    assert shop.status_code == 200 and shop.headers["X-Shopify-API-Version"] == "2026-01"
    body = shop.json()["shop"]
    assert body["myshopify_domain"] == spec.domain and body["currency"] == spec.currency
    assert body["iana_timezone"] == spec.iana_timezone and body["timezone"].endswith(spec.iana_timezone)
    assert isinstance(body["id"], int) and body["plan_display_name"] == spec.plan
    assert body["created_at"].endswith("Z") and body["country_code"] and body["enabled_presentment_currencies"]
    scopes = _rest(sandbox, "/admin/oauth/access_scopes.json")
    assert scopes.json() == {"access_scopes": [{"handle": s} for s in spec.scopes]}
    refused = _rest(sandbox, "/admin/api/2026-01/shop.json", token="shpat_wrong")
    assert refused.status_code == 401 and "Invalid API key" in refused.json()["errors"]


@pytest.mark.parametrize("path", ["/admin/api/2026-01/nothing.json", "/admin/api/2026-01/orders/12/zzz.json",
                                  "/admin/nothing"])
def test_unknown_shopify_routes_answer_shopify_json_404(sandbox, path):
    response = _rest(sandbox, path)
    assert response.status_code == 404 and response.json() == {"errors": "Not Found"}
    assert response.headers["Content-Type"].startswith("application/json")


def test_bulk_urls_look_like_signed_storage_urls_with_a_readable_file_name(sandbox):
    gid = _run_bulk(sandbox, "{ products { edges { node { id } } } }")
    url = _poll_by_node(sandbox, gid)["url"]
    path, _, query = url.partition("?")
    number = gid.rsplit("/", 1)[1]
    assert path.endswith(f"/bulk-{number}.jsonl") and "X-Goog-Signature=" in query and "X-Goog-Expires=" in query
    download = requests.get(url, timeout=30)
    assert download.status_code == 200 and f'filename="bulk-{number}.jsonl"' in download.headers["Content-Disposition"]
    assert len(download.text.splitlines()) == len(sandbox.world.stores[0].products)
    forged = requests.get(url.replace("X-Goog-Signature=", "X-Goog-Signature=0"), timeout=30)
    assert forged.status_code == 403


def test_customers_addresses_hold_their_default_address(sandbox):
    nodes = graphql(sandbox, """{ customers(first: 5) { nodes { defaultAddress { id city zip }
        addresses { id city zip } } } }""")["data"]["customers"]["nodes"]
    assert all(n["addresses"] == [n["defaultAddress"]] and n["defaultAddress"]["city"] for n in nodes)


def test_search_honours_name_id_financial_status_and_test(sandbox):
    orders = [o for o in sandbox.world.stores[0].orders() if o["createdAt"] <= NOW.strftime("%Y-%m-%dT%H:%M:%SZ")]
    first = orders[0]

    def names(search):
        body = graphql(sandbox, """query($q: String) { orders(first: 250, query: $q) { nodes { name } } }""", q=search)
        return {n["name"] for n in body["data"]["orders"]["nodes"]}

    assert names(f"name:{first['name']}") == {first["name"]}
    assert names(f"name:{first['name'].lstrip('#')}") == {first["name"]}
    assert names(f"id:{first['legacyResourceId']}") == {first["name"]}
    refunded = {o["name"] for o in orders if o["displayFinancialStatus"] == "REFUNDED"}
    assert refunded and names("financial_status:refunded") == refunded
    tests = {o["name"] for o in orders if o["test"]}
    assert tests and names("test:true") == tests


def test_answers_carry_a_request_id_and_keep_the_connection_alive(sandbox):
    spec = sandbox.world.stores[0].spec
    with requests.Session() as session:
        url = f"{sandbox.base_url}/shopify/{spec.domain}/admin/api/2026-01/graphql.json"
        answers = [session.post(url, json={"query": "{ shop { name } }"},
                                headers={"X-Shopify-Access-Token": spec.access_token}, timeout=30) for _ in range(3)]
        connections = {id(a.raw._connection) for a in answers if a.raw._connection is not None}
    assert all(a.raw.version == 11 and a.headers.get("Connection", "").lower() != "close" for a in answers)
    assert len({a.headers["X-Request-Id"] for a in answers}) == 3
    assert len(connections) <= 1


def test_timestamps_are_written_without_microseconds(client, now):
    from tests.sandbox.conftest import gql

    now.value = now.value.replace(microsecond=654321)
    _, created = gql(client, """mutation { bulkOperationRunQuery(query: "{ products { edges { node { id } } } }") {
        bulkOperation { id createdAt } userErrors { message } } }""")
    _, hook = gql(client, """mutation { webhookSubscriptionCreate(topic: ORDERS_CREATE,
        webhookSubscription: { uri: "https://example.com/hooks", format: JSON }) {
        webhookSubscription { createdAt } userErrors { message } } }""")
    stamps = [created["data"]["bulkOperationRunQuery"]["bulkOperation"]["createdAt"],
              hook["data"]["webhookSubscriptionCreate"]["webhookSubscription"]["createdAt"]]
    assert stamps == ["2026-11-22T12:00:00Z"] * 2


# Read fields whose zero is a fact of the data, not a stand-in (a fully refunded line has no quantity left).
FACTUAL_ZEROS = dict.fromkeys(("LineItem.currentQuantity", "Order.currentSubtotalLineItemsQuantity",
                               "Customer.numberOfOrders", "ProductVariant.inventoryQuantity", "Product.totalInventory",
                               "Order.totalWeight", "DiscountApplication.index", "DiscountCodeApplication.index"))
ZEROS = {"ID": "gid://shopify/Sandbox/0", "DateTime": "1970-01-01T00:00:00Z", "URL": "https://example.invalid/",
         "Decimal": "0.0", "Money": "0.0", "String": "", "Int": 0, "Float": 0.0, "UnsignedInt64": "0"}


def _believable_zeros(schema, value, type_, path="") -> list[str]:
    """`Type.field` of every non-null field in `value` answered with its type's zero (booleans and enums, whose
    zero is a value like any other, are not judged)."""
    from graphql import get_named_type, is_abstract_type, is_non_null_type, is_object_type

    named = get_named_type(type_)
    if isinstance(value, list):
        return [z for item in value for z in _believable_zeros(schema, item, type_, path)]
    if not isinstance(value, dict) or not hasattr(named, "fields"):
        return []
    if is_abstract_type(named) and "__typename" in value:
        named = schema.get_type(value["__typename"])
    found = []
    for key, inner in value.items():
        if key in ("__typename", "__parentId") or key not in named.fields:
            continue
        field_type = named.fields[key].type
        leaf = get_named_type(field_type)
        name = f"{named.name}.{key}"
        is_zero = inner == {} if is_object_type(leaf) else leaf.name in ZEROS and inner == ZEROS[leaf.name]
        if is_zero and is_non_null_type(field_type) and name not in PLACEHOLDERS | FACTUAL_ZEROS.keys():
            found.append(name)
        found += _believable_zeros(schema, inner, field_type, f"{path}.{key}")
    return found


def _project_pages(sandbox) -> list[tuple[str, dict]]:
    """The project's paged documents' answers: (root type, node) for every node."""
    from ingest.shopify import queries

    answers, after = [], None
    for _ in range(60):  # orders one a page, as the project pages them
        page = graphql(sandbox, queries.ORDERS_PAGE, first=1, after=after, sortKey="CREATED_AT")["data"]["orders"]
        answers += [("Order", node) for node in page["nodes"]]
        after = page["pageInfo"]["endCursor"]
    answers += [("Customer", n) for n in graphql(sandbox, queries.CUSTOMERS_PAGE, first=100)["data"]["customers"]
                ["nodes"]]
    answers += [("Product", n) for n in graphql(sandbox, queries.PRODUCTS_PAGE, first=5)["data"]["products"]["nodes"]]
    return answers


def _project_bulk_lines(sandbox) -> list[dict]:
    from ingest.shopify import queries

    lines = []
    for part, search in (("orders", "created_at:<'2026-09-15'"), ("order_sales", "created_at:<'2026-09-15'"),
                         ("customers", ""), ("products", "")):
        node = _poll_by_node(sandbox, _run_bulk(sandbox, queries.bulk_query(part, search)))
        lines += [json.loads(line) for line in requests.get(node["url"], timeout=60).text.splitlines()]
    return lines


def test_no_read_field_comes_back_as_a_believable_zero_paged_or_bulk(sandbox):
    from sandbox.shopify_graphql import load_schema

    schema = load_schema("2026-01")
    paged = _project_pages(sandbox)
    bulk = _project_bulk_lines(sandbox)
    zeros = set()
    for kind, node in paged:
        zeros |= set(_believable_zeros(schema, node, schema.get_type(kind)))
    for line in bulk:
        zeros |= set(_believable_zeros(schema, line, schema.get_type(line["__typename"])))
    assert not zeros, sorted(zeros)
    orders = [node for kind, node in paged if kind == "Order"]
    assert all(o["number"] == int(o["name"].lstrip("#")) for o in orders)
    assert any(o["netPaymentSet"]["shopMoney"]["amount"] != o["totalReceivedSet"]["shopMoney"]["amount"]
               for o in orders)  # a refund was subtracted


def test_bulk_and_paged_answers_agree_on_every_order_field(sandbox):
    from ingest.shopify import queries

    paged = {}
    after = None
    for _ in range(40):
        page = graphql(sandbox, queries.ORDERS_PAGE, first=1, after=after, sortKey="CREATED_AT")["data"]["orders"]
        paged.update((node["id"], node) for node in page["nodes"])
        after = page["pageInfo"]["endCursor"]
    node = _poll_by_node(sandbox, _run_bulk(sandbox, queries.bulk_query("orders", "")))
    bulk = {line["id"]: line for line in map(json.loads, requests.get(node["url"], timeout=60).text.splitlines())
            if "__parentId" not in line}
    assert paged.keys() <= bulk.keys()
    for gid, order in paged.items():
        assert _like(order, bulk[gid]) == bulk[gid], gid
        assert "{}" not in json.dumps(bulk[gid])


def _like(value, model):
    """`value` cut down to the keys `model` has (the paged query selects more under `refunds` than the bulk one)."""
    if isinstance(model, dict) and isinstance(value, dict):
        return {k: _like(value.get(k), v) for k, v in model.items()}
    if isinstance(model, list) and isinstance(value, list):
        return [_like(v, m) for v, m in zip(value, model, strict=False)]
    return value


class Clock:
    """The sandbox's clock, settable (mid-history here)."""

    def __init__(self, value: datetime):
        self.value = value

    def __call__(self) -> datetime:
        return self.value


MID = datetime(2026, 7, 14, 18, 45, 10, tzinfo=UTC)  # four months before the history ends


@pytest.fixture(scope="module")
def mid_history(tmp_path_factory):
    clock = Clock(MID)
    world = build_world(stores=1, seed=7, today=NOW.date(), files=tmp_path_factory.mktemp("bulk"), now=clock)
    world.shopify.buckets[world.stores[0].spec.domain] = CostBucket(restore_rate=10**6, maximum=10**6)
    server = SandboxServer(world).start(live=False)  # the test announces webhooks itself, when it chooses
    yield server, clock
    server.stop()


def _stamps(value) -> list[str]:
    """Every timestamp in an answer."""
    if isinstance(value, dict):
        return [s for v in value.values() for s in _stamps(v)]
    if isinstance(value, list):
        return [s for v in value for s in _stamps(v)]
    return [value] if isinstance(value, str) and len(value) == 20 and value[10] == "T" and value[-1] == "Z" else []


ORDER_VIEW = """id name createdAt updatedAt closedAt cancelledAt displayFinancialStatus displayFulfillmentStatus test
    totalRefundedSet { shopMoney { amount } } customer { id numberOfOrders }
    transactions { processedAt } refunds { createdAt }"""


def test_nothing_is_visible_before_the_sandbox_clock_reaches_it(mid_history):
    server, _ = mid_history
    store = server.world.stores[0]
    stamp = MID.strftime("%Y-%m-%dT%H:%M:%SZ")
    orders, after = [], None
    while True:
        page = graphql(server, f"""query($after: String) {{ orders(first: 50, after: $after) {{
            nodes {{ {ORDER_VIEW} agreements(first: 5) {{ nodes {{ happenedAt }} }} }}
            pageInfo {{ hasNextPage endCursor }} }} }}""", after=after)["data"]["orders"]
        orders += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    placed = [o for o in store.orders() if o["createdAt"] <= stamp]
    assert len(orders) == len(placed) < len(store.orders())
    assert max(_stamps(orders)) <= stamp  # no updatedAt, closedAt, refund or transaction from the future
    counted = graphql(server, "{ ordersCount(limit: null) { count } }")["data"]["ordersCount"]["count"]
    assert counted == len(placed)

    # an order whose refund is still to come shows none yet, paged, by node and in bulk alike
    later = next(o for o in placed if o["refunds"] and o["refunds"][0]["createdAt"] > stamp)
    seen = next(o for o in orders if o["id"] == later["id"])
    assert seen["refunds"] == [] and seen["totalRefundedSet"]["shopMoney"]["amount"] == "0.00"
    assert seen["displayFinancialStatus"] == "PAID"
    node = graphql(server, f"query($id: ID!) {{ node(id: $id) {{ ... on Order {{ {ORDER_VIEW} }} }} }}",
                   id=later["id"])["data"]["node"]
    assert node == {k: seen[k] for k in node}
    url = _poll_by_node(server, _run_bulk(server, f"{{ orders {{ edges {{ node {{ {ORDER_VIEW} }} }} }} }}"))["url"]
    bulk = [json.loads(line) for line in requests.get(url, timeout=60).text.splitlines()]
    assert sorted(o["id"] for o in bulk) == sorted(o["id"] for o in orders)
    assert max(_stamps(bulk)) <= stamp
    assert next(o for o in bulk if o["id"] == later["id"]) == {k: seen[k] for k in node}

    # customers: only those signed up by now, with the orders they had placed by now
    customers, after = [], None
    while True:
        page = graphql(server, """query($after: String) { customers(first: 250, after: $after) {
            nodes { id createdAt numberOfOrders } pageInfo { hasNextPage endCursor } } }""", after=after)
        customers += page["data"]["customers"]["nodes"]
        if not page["data"]["customers"]["pageInfo"]["hasNextPage"]:
            break
        after = page["data"]["customers"]["pageInfo"]["endCursor"]
    assert max(c["createdAt"] for c in customers) <= stamp < max(c["createdAt"] for c in store.customers)
    assert len(customers) == graphql(server, "{ customersCount { count } }")["data"]["customersCount"]["count"]
    placed_by = {}
    for o in orders:
        if o["customer"] and not o["test"]:
            placed_by[o["customer"]["id"]] = placed_by.get(o["customer"]["id"], 0) + 1
    assert {c["id"]: int(c["numberOfOrders"]) for c in customers if c["numberOfOrders"] != "0"} == placed_by
    assert all(int(o["customer"]["numberOfOrders"]) == placed_by[o["customer"]["id"]] for o in orders
               if o["customer"] and not o["test"])


def test_webhooks_announce_only_what_has_happened_by_then(mid_history):
    server, clock = mid_history
    api = server.world.shopify
    shop = server.world.stores[0].spec.domain
    for topic in ("ORDERS_CREATE", "REFUNDS_CREATE", "ORDERS_UPDATED"):
        api.webhooks.create(shop, topic, "http://127.0.0.1:1/hooks")
    api._announced_until[shop] = MID
    clock.value = MID + timedelta(days=3)
    try:
        api.announce_due_events()
    finally:
        clock.value = MID
    stamp = (MID + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    bodies = [(d.topic, json.loads(d.body)) for d in api.webhooks.pending]
    assert {topic for topic, _ in bodies} >= {"orders/create", "refunds/create"}
    assert all(MID.strftime("%Y-%m-%dT%H:%M:%SZ") < body["created_at"] <= stamp for topic, body in bodies
               if topic in ("orders/create", "refunds/create"))
    assert all(body["updated_at"] <= stamp for topic, body in bodies if topic.startswith("orders/"))
