"""The sandbox's Shopify Admin GraphQL API: the stores' data behind Shopify's schema, tokens, cost and throttling.

Served at `/shopify/{shop}/admin/api/{version}/graphql.json` (see `blueprint`), the same path shape as
`https://{shop}/admin/api/{version}/graphql.json`, so the project's client talks to either unchanged.
"""

import random
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, redirect, request
from graphql import GraphQLError, execute, parse, validate

from sandbox.bulk import STORAGE_BUCKET, BulkOperations, Operation
from sandbox.shopify_auth import CLIENT_CREDENTIALS_LIFETIME, Credentials, Grant, query_hmac
from sandbox.shopify_graphql import (
    MAX_QUERY_COST,
    CostBucket,
    actual_cost,
    compare,
    connection,
    is_connection,
    load_schema,
    matches,
    parse_search,
    parse_time,
    requested_cost,
    zero_value,
)
from sandbox.shopify_rest import rest_shop, shop_number
from sandbox.versions import served_version
from sandbox.webhooks import Webhooks, rest_order, rest_refund

INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
ORDER_WINDOW = timedelta(days=60)  # older orders need read_all_orders, as on Shopify

# sortKey -> the item's sort value; the item's numeric id breaks ties.
ORDER_SORTS = {
    "PROCESSED_AT": lambda o: o.get("processedAt") or o["createdAt"],
    "CREATED_AT": lambda o: o["createdAt"],
    "UPDATED_AT": lambda o: o["updatedAt"],
    "ID": lambda o: _number(o["id"]),
    "ORDER_NUMBER": lambda o: _number(o["id"]),
    "TOTAL_PRICE": lambda o: float(o["totalPriceSet"]["shopMoney"]["amount"]),
}
PLAIN_SORTS = {
    "ID": lambda item: _number(item["id"]),
    "CREATED_AT": lambda item: item["createdAt"],
    "UPDATED_AT": lambda item: item["updatedAt"],
    "TITLE": lambda item: item.get("title", ""),
    "NAME": lambda item: f"{item.get('firstName', '')} {item.get('lastName', '')}",
}
TIME_FIELDS = {"created_at": "createdAt", "updated_at": "updatedAt", "processed_at": "processedAt"}


@dataclass
class ShopifyFaults:
    """Request faults for one shop. An int means "the next N requests", a float "that share of requests"."""

    server_errors: int | float = 0  # 502 / 503 answers, as Shopify's edge sends them
    throttle: int | float = 0  # THROTTLED whatever the bucket holds
    throttle_status: int = 200  # the HTTP status of a THROTTLED answer (Shopify's docs allow 200 or 429)
    slow_seconds: float = 0  # every answer waits this long (clients with a shorter timeout time out)


def _number(gid: str) -> int:
    return int(gid.rsplit("/", 1)[1])


class ShopifyAPI:
    """Every sandbox store's Admin API: who may call it, what it costs, and what it answers."""

    def __init__(self, stores: list, *, clock: Callable[[], float] = time.monotonic,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC), files: Path | None = None):
        self.stores = {store.spec.domain: store for store in stores}
        self.bulk = BulkOperations(files or Path(tempfile.mkdtemp(prefix="sandbox-bulk-")), now=now)
        self.webhooks = Webhooks(now=now)
        self.faults: dict[str, ShopifyFaults] = {}
        self.sleep: Callable[[float], None] = time.sleep
        self.deleted: set[str] = set()
        self._random = random.Random(0)
        self._announced_until = {domain: now() for domain in self.stores}
        self.clock = clock
        self.now = now
        self.credentials = Credentials(now=now)
        for store in stores:  # each store's legacy custom-app token, which never expires
            self.credentials.tokens[store.spec.access_token] = Grant(store.spec.domain, tuple(store.spec.scopes))
        self.buckets: dict[str, CostBucket] = {}
        self.root_resolvers: dict[str, Callable] = {
            "shop": self._shop,
            # The scopes the token was granted: what an app checks before relying on them.
            "currentAppInstallation": lambda ctx, args: {
                "id": f"gid://shopify/AppInstallation/{shop_number(ctx['store'].spec.domain)}",
                "accessScopes": [{"handle": scope, "description": ""} for scope in ctx["scopes"]]},
            "node": lambda ctx, args: self._node(ctx, args["id"]),
            "nodes": lambda ctx, args: [self._node(ctx, gid) for gid in args["ids"]],
            "orders": self._orders,
            "order": self._order,
            "ordersCount": self._orders_count,
            "customers": lambda ctx, args: self._plain(self._customers(ctx), args),
            "customersCount": lambda ctx, args: self._count(self._customers(ctx), args),
            "products": lambda ctx, args: self._plain(self._products(ctx), args),
            "productsCount": lambda ctx, args: self._count(self._products(ctx), args),
            "bulkOperation": self._bulk_operation,
            "bulkOperations": self._bulk_operations,
            "currentBulkOperation": self._current_bulk_operation,
            "webhookSubscriptions": self._webhook_subscriptions,
        }
        self.mutation_resolvers: dict[str, Callable] = {
            "bulkOperationRunQuery": self._bulk_run,
            "bulkOperationCancel": lambda ctx, args: self._bulk_payload(ctx, self.bulk.cancel(args["id"])),
            "webhookSubscriptionCreate": self._webhook_create,
            "webhookSubscriptionDelete": lambda ctx, args: self.webhooks.delete(ctx["store"].spec.domain, args["id"]),
        }

    # -- a request ------------------------------------------------------------------------------------

    def handle(self, *, shop: str, version: str, token: str | None, body: dict[str, Any],
               base_url: str = "http://sandbox") -> tuple[int, dict]:
        """Answer one GraphQL request as Shopify would: (HTTP status, JSON body)."""
        store = self.stores.get(shop)
        if store is None:
            return 404, {"errors": "Not Found"}
        faults = self.faults.get(shop, ShopifyFaults())
        if faults.slow_seconds:
            self.sleep(faults.slow_seconds)
        if self._draw(faults, "server_errors"):
            return 503, {"errors": "Service Unavailable"}
        grant = self.credentials.grant(token)
        if grant is None or grant.shop != shop:
            return 401, {"errors": INVALID_TOKEN}
        schema = load_schema(served_version(version, self.now()))
        try:
            document = parse(body.get("query") or "")
        except GraphQLError as error:
            return 200, {"errors": [_error(error, "parseError")]}
        problems = validate(schema, document)
        if problems:
            return 200, {"errors": [_error(e, "undefinedField") for e in problems]}
        bucket = self.buckets.setdefault(shop, CostBucket.for_plan(store.spec.plan, clock=self.clock))
        variables = body.get("variables") or {}
        cost = requested_cost(schema, document, variables)
        if cost > MAX_QUERY_COST:
            return 200, {
                "errors": [{"message": f"Query cost is {cost}, which exceeds the single query max cost limit "
                                       f"({MAX_QUERY_COST}).", "extensions": {"code": "MAX_COST_EXCEEDED",
                                                                               "cost": cost,
                                                                               "maxCost": MAX_QUERY_COST}}],
                "extensions": {"cost": self._cost(cost, None, bucket)},
            }
        if self._draw(faults, "throttle") or not bucket.take(cost):
            return faults.throttle_status, {
                "errors": [{"message": "Throttled", "extensions": {
                    "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
                "extensions": {"cost": self._cost(cost, None, bucket)},
            }
        context = {"store": store, "scopes": grant.scopes, "token": token, "schema": schema, "base_url": base_url}
        result = execute(schema, document, variable_values=variables, operation_name=body.get("operationName"),
                         context_value=context, field_resolver=self._resolve)
        spent = min(cost, actual_cost(result.data))
        bucket.refund(cost - spent)
        answer: dict[str, Any] = {"data": result.data}
        if result.errors:
            answer["errors"] = [_error(e, getattr(e.original_error, "extensions", {}).get("code", "INTERNAL"))
                                for e in result.errors]
        answer["extensions"] = {"cost": self._cost(cost, spent, bucket)}
        return 200, answer

    def _draw(self, faults: ShopifyFaults, name: str) -> bool:
        value = getattr(faults, name)
        if isinstance(value, float):
            return self._random.random() < value
        if value > 0:
            setattr(faults, name, value - 1)
            return True
        return False

    @staticmethod
    def _cost(requested: int, actual: int | None, bucket: CostBucket) -> dict[str, Any]:
        return {"requestedQueryCost": requested, "actualQueryCost": actual, "throttleStatus": bucket.status()}

    # -- resolving fields -----------------------------------------------------------------------------

    def _resolve(self, source: Any, info, **args: Any) -> Any:
        """One resolver for every field: roots by name; elsewhere the dict's value, lists paged as connections."""
        if info.parent_type is info.schema.query_type or info.parent_type is info.schema.mutation_type:
            resolvers = self.root_resolvers if info.parent_type is info.schema.query_type else self.mutation_resolvers
            resolver = resolvers.get(info.field_name)
            if resolver is None:
                return zero_value(info.return_type)
            return resolver(info.context, args)
        value = source.get(info.field_name) if isinstance(source, dict) else getattr(source, info.field_name, None)
        if value is None:
            return zero_value(info.return_type)
        if isinstance(value, list) and is_connection(info.return_type):
            return connection(value, args)
        return value

    def _shop(self, ctx: dict, args: dict) -> dict:
        spec = ctx["store"].spec
        return {
            "id": f"gid://shopify/Shop/{shop_number(spec.domain)}",
            "name": spec.name,
            "myshopifyDomain": spec.domain,
            "currencyCode": spec.currency,
            "ianaTimezone": spec.iana_timezone,
            "taxesIncluded": spec.taxes_included,
            "enabledPresentmentCurrencies": list(spec.presentment_currencies),
            "plan": {"displayName": spec.plan, "publicDisplayName": spec.plan,
                     "shopifyPlus": spec.plan == "Shopify Plus", "partnerDevelopment": False},
        }

    def _visible_orders(self, ctx: dict) -> list[dict]:
        """Orders this token may see, as they stand at the sandbox's clock: not deleted, already placed, and
        within 60 days without read_all_orders."""
        return list(self._visible(ctx, ctx["store"].orders_as_of(self.now())))

    def _visible(self, ctx: dict, orders):
        now = self.now()
        oldest = None if "read_all_orders" in ctx["scopes"] else now - ORDER_WINDOW
        for order in orders:
            placed = parse_time(order["createdAt"])
            if placed <= now and order["id"] not in self.deleted and (oldest is None or placed >= oldest):
                yield order

    def _orders(self, ctx: dict, args: dict) -> dict:
        found = _search(self._visible_orders(ctx), args.get("query"), _order_term)
        return _sorted_connection(found, args, ORDER_SORTS, default="PROCESSED_AT")

    def _order(self, ctx: dict, args: dict) -> dict | None:
        return next((o for o in self._visible_orders(ctx) if o["id"] == args["id"]), None)

    def _orders_count(self, ctx: dict, args: dict) -> dict:
        found = _search(self._visible_orders(ctx), args.get("query"), _order_term)
        return _count(len(found), args.get("limit", 10000))

    def _customers(self, ctx: dict) -> list[dict]:
        """The customers signed up by the sandbox's clock, as they stand then."""
        return ctx["store"].customers_as_of(self.now())

    def _products(self, ctx: dict) -> list[dict]:
        return ctx["store"].products_as_of(self.now())

    def _plain(self, items: list[dict], args: dict) -> dict:
        found = _search(items, args.get("query"), _plain_term)
        return _sorted_connection(found, args, PLAIN_SORTS, default="ID")

    def _count(self, items: list[dict], args: dict) -> dict:
        found = _search(items, args.get("query"), _plain_term)
        return _count(len(found), args.get("limit", 10000))

    def _node(self, ctx: dict, gid: str) -> dict | None:
        """The Node interface: any object the sandbox serves, by its global id (null if this token cannot see it)."""
        kind = gid.removeprefix("gid://shopify/").partition("/")[0]
        finders = {
            "BulkOperation": lambda: self._bulk_operation(ctx, {"id": gid}),
            "Order": lambda: self._order(ctx, {"id": gid}),
            "Customer": lambda: _by_id(self._customers(ctx), gid),
            "Product": lambda: _by_id(self._products(ctx), gid),
            "ProductVariant": lambda: _by_id((v for p in self._products(ctx) for v in p["variants"]), gid),
            "OrderTransaction": lambda: _by_id((t for o in self._visible_orders(ctx) for t in o["transactions"]),
                                               gid),
        }
        found = finders[kind]() if kind in finders else None
        return dict(found, __typename=kind) if found else None


    # -- bulk operations --------------------------------------------------------------------------------

    def _bulk_run(self, ctx: dict, args: dict) -> dict:
        def items_for(root: str, root_args: dict):
            groups = parse_search(root_args.get("query"))
            judge = _order_term if root == "orders" else _plain_term
            if root == "orders":  # streamed: a million-order store is never held in memory
                found = self._visible(ctx, ctx["store"].iter_orders(as_of=self.now()))
            else:
                found = {"customers": self._customers, "products": self._products}[root](ctx) \
                    if root in ("customers", "products") else []
            return (item for item in found if not groups or matches(groups, lambda t, item=item: judge(item, t)))

        payload = self.bulk.start(shop=ctx["store"].spec.domain, schema=ctx["schema"], query=args["query"],
                                  group_objects=args.get("groupObjects", False), items_for=items_for)
        answer = self._bulk_payload(ctx, payload)  # rendered while still CREATED, as Shopify answers
        if "launch" in payload:
            payload["launch"]()
            self.bulk.hold_answer(ctx["store"].spec.domain)
        return answer

    def _bulk_payload(self, ctx: dict, payload: dict) -> dict:
        op = payload["bulkOperation"]
        return {"bulkOperation": self._bulk_view(ctx, op) if op else None, "userErrors": payload["userErrors"]}

    def _bulk_view(self, ctx: dict, op: Operation) -> dict:
        return op.as_graphql(ctx["base_url"], self.now())

    def _own_operations(self, ctx: dict) -> list[Operation]:
        shop = ctx["store"].spec.domain
        return sorted((op for op in self.bulk.operations.values() if op.shop == shop),
                      key=lambda op: op.created_at, reverse=True)

    def _bulk_operation(self, ctx: dict, args: dict) -> dict | None:
        op = next((op for op in self._own_operations(ctx) if op.id == args["id"]), None)
        return self._bulk_view(ctx, op) if op else None

    def _bulk_operations(self, ctx: dict, args: dict) -> dict:
        views = [self._bulk_view(ctx, op) for op in self._own_operations(ctx)]
        found = _search(views, args.get("query"), lambda view, term: term.field != "status"
                        or view["status"].lower() == term.value.lower())
        return connection(found, args, [view["id"] for view in found])

    def _current_bulk_operation(self, ctx: dict, args: dict) -> dict | None:
        operations = self._own_operations(ctx)
        return self._bulk_view(ctx, operations[0]) if operations else None


    # -- webhooks ---------------------------------------------------------------------------------------

    def _webhook_create(self, ctx: dict, args: dict) -> dict:
        given = args["webhookSubscription"]
        return self.webhooks.create(ctx["store"].spec.domain, args["topic"], given.get("uri") or given.get(
            "callbackUrl"), given.get("format") or "JSON")

    def _webhook_subscriptions(self, ctx: dict, args: dict) -> dict:
        found = [s for s in self.webhooks.of_shop(ctx["store"].spec.domain)
                 if not args.get("topics") or s["topic"] in args["topics"]]
        return connection(found, args, [s["id"] for s in found])

    def emit_order(self, shop: str, topic: str, order: dict) -> int:
        """Queue an order event (ORDERS_CREATE, ORDERS_UPDATED, ORDERS_DELETE...) to the shop's subscribers."""
        payload = {"id": rest_order(order)["id"]} if topic == "ORDERS_DELETE" else rest_order(order)
        return self.webhooks.emit(shop, topic, payload, secret=self.stores[shop].spec.client_secret)

    def delete_order(self, shop: str, order_id: str) -> None:
        """The merchant deletes an order: it disappears from the API and orders/delete is sent."""
        order = next(o for o in self.stores[shop].orders() if o["id"] == order_id)
        self.deleted.add(order_id)
        self.emit_order(shop, "ORDERS_DELETE", order)

    def announce_due_events(self) -> int:
        """Send the webhooks of everything that happened since the last call: orders placed (they appear as the
        clock passes their createdAt), refunds made, orders cancelled. Return how many deliveries were queued."""
        now, queued = self.now(), 0
        for shop, store in self.stores.items():
            since, self._announced_until[shop] = self._announced_until[shop], now
            secret = store.spec.client_secret
            for order in store.orders_as_of(now):
                if order["id"] in self.deleted:
                    continue
                if since < parse_time(order["createdAt"]) <= now:
                    queued += self.emit_order(shop, "ORDERS_CREATE", order)
                for refund in order.get("refunds") or []:
                    if since < parse_time(refund["createdAt"]) <= now:
                        queued += self.webhooks.emit(shop, "REFUNDS_CREATE", rest_refund(order, refund), secret=secret)
                        queued += self.emit_order(shop, "ORDERS_UPDATED", order)
                if order.get("cancelledAt") and since < parse_time(order["cancelledAt"]) <= now:
                    queued += self.emit_order(shop, "ORDERS_CANCELLED", order)
                    queued += self.emit_order(shop, "ORDERS_UPDATED", order)
        return queued

    def rest_grant(self, shop: str, token: str | None) -> Grant | tuple[int, dict]:
        """Who calls a REST endpoint: the token's grant, or Shopify's (status, error body)."""
        if shop not in self.stores:
            return 404, {"errors": "Not Found"}
        grant = self.credentials.grant(token)
        if grant is None or grant.shop != shop:
            return 401, {"errors": INVALID_TOKEN}
        return grant

    def uninstall(self, shop: str) -> None:
        """The merchant uninstalls the app: app/uninstalled is sent and every token stops working at once."""
        spec = self.stores[shop].spec
        self.webhooks.emit(shop, "APP_UNINSTALLED", {"id": shop_number(shop), "name": spec.name,
                                                     "myshopify_domain": shop}, secret=spec.client_secret)
        self.credentials.revoked |= {t for t, grant in self.credentials.tokens.items() if grant.shop == shop}


def _by_id(items, gid: str) -> dict | None:
    return next((item for item in items if item["id"] == gid), None)


def _count(n: int, limit: int | None) -> dict:
    if limit is not None and n > limit:
        return {"count": limit, "precision": "AT_LEAST"}
    return {"count": n, "precision": "EXACT"}


def _search(items: list[dict], query: str | None, judge: Callable[[dict, Any], bool]) -> list[dict]:
    groups = parse_search(query)
    if not groups:
        return list(items)
    return [item for item in items if matches(groups, lambda term, item=item: judge(item, term))]


def _time_term(item: dict, term) -> bool | None:
    key = TIME_FIELDS.get(term.field)
    if key is None:
        return None
    value = item.get(key)
    return value is not None and compare(parse_time(value), term.op, parse_time(term.value))


def _order_term(order: dict, term) -> bool:
    judged = _time_term(order, term)
    if judged is not None:
        return judged
    if term.field == "test":
        return bool(order.get("test")) == (term.value.lower() == "true")
    if term.field == "id":
        return compare(_number(order["id"]), term.op, int(term.value.rsplit("/", 1)[-1]))
    if term.field == "status":
        status = "cancelled" if order.get("cancelledAt") else ("closed" if order.get("closedAt") else "open")
        return term.value.lower() in (status, "any")
    if term.field == "name":  # `name:#1001` and `name:1001` both find order #1001
        return order["name"].lstrip("#").lower() == term.value.lstrip("#").lower()
    if term.field == "financial_status":
        return (order.get("displayFinancialStatus") or "").lower() == term.value.lower()
    return True  # Shopify ignores filters it does not know (it warns in extensions.search)


def _plain_term(item: dict, term) -> bool:
    judged = _time_term(item, term)
    if judged is not None:
        return judged
    if term.field == "id":
        return compare(_number(item["id"]), term.op, int(term.value.rsplit("/", 1)[-1]))
    return True


def _sorted_connection(items: list[dict], args: dict, sorts: dict, *, default: str) -> dict:
    sort_value = sorts.get(args.get("sortKey") or default, sorts["ID"] if "ID" in sorts else sorts[default])

    def key(item):
        return [sort_value(item), _number(item["id"])]

    descending = bool(args.get("reverse"))
    ordered = sorted(items, key=key, reverse=descending)
    return connection(ordered, args, [key(item) for item in ordered], descending=descending)


def _error(error: GraphQLError, code: str) -> dict:
    shaped: dict[str, Any] = {"message": error.message}
    if error.locations:
        shaped["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path:
        shaped["path"] = list(error.path)
    shaped["extensions"] = {"code": code}
    return shaped


def _stalled(data: bytes, resume: threading.Event):
    """A download that sends half the file, then waits (a slow storage link, for tests of interruptions)."""
    yield data[: len(data) // 2]
    resume.wait(120)
    yield data[len(data) // 2:]


def blueprint(api: ShopifyAPI) -> Blueprint:
    """The HTTP surface: POST /shopify/<shop>/admin/api/<version>/graphql.json with X-Shopify-Access-Token."""
    bp = Blueprint("shopify", __name__)

    @bp.after_request
    def identify(response: Response) -> Response:
        # Shopify tags every answer with a request id (what its support asks for).
        response.headers.setdefault("X-Request-Id", str(uuid.uuid4()))
        return response

    @bp.post("/shopify/<shop>/admin/api/<version>/graphql.json")
    def graphql(shop: str, version: str):
        served = served_version(version, api.now())
        status, body = api.handle(shop=shop, version=served, token=request.headers.get("X-Shopify-Access-Token"),
                                  body=request.get_json(silent=True) or {}, base_url=request.host_url.rstrip("/"))
        return jsonify(body), status, {"X-Shopify-API-Version": served}

    @bp.get("/shopify/<shop>/admin/api/<version>/shop.json")
    def shop_json(shop: str, version: str):
        served = served_version(version, api.now())
        grant = api.rest_grant(shop, request.headers.get("X-Shopify-Access-Token"))
        if isinstance(grant, tuple):
            return jsonify(grant[1]), grant[0], {"X-Shopify-API-Version": served}
        return jsonify(shop=rest_shop(api.stores[shop])), 200, {"X-Shopify-API-Version": served}

    @bp.get("/shopify/<shop>/admin/oauth/access_scopes.json")
    def access_scopes(shop: str):
        grant = api.rest_grant(shop, request.headers.get("X-Shopify-Access-Token"))
        if isinstance(grant, tuple):
            return jsonify(grant[1]), grant[0]
        return jsonify(access_scopes=[{"handle": scope} for scope in grant.scopes])

    @bp.route("/shopify/<path:anything>", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    def not_found(anything: str):
        return jsonify(errors="Not Found"), 404

    @bp.post("/shopify/<shop>/admin/oauth/access_token")
    def access_token(shop: str):
        store = api.stores.get(shop)
        form = request.get_json(silent=True) or request.form.to_dict()
        if store is None or (form.get("client_id"), form.get("client_secret")) != (store.spec.client_id,
                                                                                   store.spec.client_secret):
            return jsonify(error="invalid_client", error_description="Client authentication failed"), 400
        grant_type = form.get("grant_type")
        if grant_type == "client_credentials":
            token, expires_in = api.credentials.issue(shop, tuple(store.spec.scopes), CLIENT_CREDENTIALS_LIFETIME)
            answer = {"access_token": token, "scope": ",".join(store.spec.scopes), "expires_in": expires_in}
        elif grant_type == "refresh_token":
            answer = api.credentials.refresh(shop, form.get("refresh_token", ""))
        else:
            answer = api.credentials.exchange_code(shop, form.get("code", ""),
                                                   expiring=str(form.get("expiring")) == "1")
        if answer is None:
            return jsonify(error="invalid_grant"), 400
        return jsonify(answer)

    @bp.get("/shopify/<shop>/admin/oauth/authorize")
    def authorize(shop: str):
        # The merchant approves at once (what a person clicks on real Shopify).
        store = api.stores.get(shop)
        if store is None or request.args.get("client_id") != store.spec.client_id:
            return jsonify(error="invalid_request", error_description="Unknown client_id"), 400
        wanted = tuple(s for s in request.args.get("scope", "").split(",") if s)
        granted = tuple(s for s in wanted if s in store.spec.scopes)
        return redirect(api.credentials.authorize_redirect(
            shop=shop, secret=store.spec.client_secret, redirect_uri=request.args["redirect_uri"],
            state=request.args.get("state", ""), scopes=granted,
            expiring=request.args.get("expiring") == "1"))

    @bp.get("/shopify/<shop>/install")
    def install(shop: str):
        """What clicking "Install" does: Shopify calls the app URL with shop, timestamp and a signed hmac."""
        store = api.stores.get(shop)
        if store is None:
            return "Not Found", 404
        params = {"shop": shop, "timestamp": str(int(api.now().timestamp()))}
        params["hmac"] = query_hmac(params, store.spec.client_secret)
        return redirect(f"{request.args['app_url']}?{urlencode(params)}")

    @bp.get(f"/storage/{STORAGE_BUCKET}/<key>/<name>.jsonl")
    def bulk_file(key: str, name: str):
        # The signed, expiring storage URL a bulk operation's result is downloaded from.
        path, op = api.bulk.file_for(key)
        if op is not None and request.args.get("X-Goog-Signature") != op.signature():
            return Response("<Error><Code>SignatureDoesNotMatch</Code></Error>", status=403,
                            mimetype="application/xml")
        if path is None:
            return Response("<Error><Code>ExpiredToken</Code></Error>", status=403 if op else 404,
                            mimetype="application/xml")
        data = path.read_bytes()
        faults = api.bulk.faults.get(op.shop)
        if faults is not None and faults.truncate > 0:
            faults.truncate -= 1
            data = data[: len(data) // 2]
        if faults is not None and faults.stall_downloads:
            return Response(_stalled(data, faults.resume_downloads), mimetype="application/jsonl")
        return Response(data, mimetype="application/jsonl",
                        headers={"Content-Disposition": f'attachment; filename="{name}.jsonl"'})

    return bp

