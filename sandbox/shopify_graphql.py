"""GraphQL machinery for the Shopify sandbox: the real schema, connections, search syntax, query cost, bucket.

Nothing here knows about stores; `shopify_api` resolves fields with it. Every document is validated by
graphql-core against Shopify's own published schema, so what real Shopify rejects is rejected here.
"""

import base64
import gzip
import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    build_client_schema,
    get_named_type,
    is_enum_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_scalar_type,
)

SCHEMAS = Path(__file__).resolve().parent / "schemas"
MAX_PAGE_SIZE = 250
MAX_QUERY_COST = 1000


@cache
def load_schema(version: str) -> GraphQLSchema:
    """The Admin API schema of `version` (e.g. "2026-01") from Shopify's published introspection."""
    path = SCHEMAS / f"shopify-admin-{version}.introspection.json.gz"
    with gzip.open(path) as f:
        schema = build_client_schema(json.load(f)["data"])
    # Shopify's schema breaks one schema-validation rule (a deprecated field implementing a
    # non-deprecated interface field); clearing it lets documents validate as Shopify validates them.
    schema._validation_errors = []
    return schema


# -- connections ----------------------------------------------------------------------------------------


class GraphQLUserError(Exception):
    """An error reported in the response's `errors`, as Shopify words it."""

    def __init__(self, message: str, code: str = "BAD_REQUEST"):
        super().__init__(message)
        self.extensions = {"code": code}


def encode_cursor(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def decode_cursor(cursor: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except ValueError as error:
        raise GraphQLUserError(f"Invalid cursor for current pagination sort: {cursor}") from error


def page_size(args: dict[str, Any]) -> tuple[int, bool]:
    """(how many, from the end?) from first/last, as Shopify checks them."""
    first, last = args.get("first"), args.get("last")
    if first is None and last is None:
        raise GraphQLUserError("you must provide one of first or last")
    if last is not None and args.get("before") is None and first is None:
        raise GraphQLUserError("using last without before is not supported")
    size = first if first is not None else last
    if size > MAX_PAGE_SIZE or size < 0:
        raise GraphQLUserError(f"The value of {'first' if first is not None else 'last'} must be between 0 and "
                               f"{MAX_PAGE_SIZE}.")
    return size, first is None


def connection(items: list[Any], args: dict[str, Any], keys: list[Any] | None = None, *,
               descending: bool = False) -> dict[str, Any]:
    """A Relay connection over `items` (already sorted); cursors carry each item's key (its position if none)."""
    size, from_end = page_size(args)
    keys = list(range(len(items))) if keys is None else keys
    start, stop = 0, len(items)
    if args.get("after"):
        after = decode_cursor(args["after"])
        start = next((i + 1 for i, k in enumerate(keys) if k == after), _position_after(keys, after, descending))
    if args.get("before"):
        before = decode_cursor(args["before"])
        stop = next((i for i, k in enumerate(keys) if k == before), _position_after(keys, before, descending))
    window = list(range(start, stop))
    chosen = window[-size:] if from_end else window[:size]
    if size == 0:
        chosen = []
    edges = [{"cursor": encode_cursor(keys[i]), "node": items[i]} for i in chosen]
    return {
        "edges": edges,
        "nodes": [edge["node"] for edge in edges],
        "pageInfo": {
            "hasNextPage": bool(chosen) and chosen[-1] < stop - 1,
            "hasPreviousPage": bool(chosen) and chosen[0] > start,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }


def _position_after(keys: list[Any], key: Any, descending: bool) -> int:
    # The item the cursor named is gone (deleted, or changed sort key): resume where it would sort.
    return next((i for i, k in enumerate(keys) if (_lt(k, key) if descending else _lt(key, k))), len(keys))


def _lt(a: Any, b: Any) -> bool:
    try:
        return a < b
    except TypeError:
        return str(a) < str(b)


# -- search syntax --------------------------------------------------------------------------------------

_TERM = re.compile(r"""(-)?([\w.]+):(>=|<=|>|<)?('[^']*'|"[^"]*"|\S+)""")


@dataclass(frozen=True)
class Term:
    negated: bool
    field: str
    op: str
    value: str


def parse_search(query: str | None) -> list[list[Term]]:
    """Shopify's search syntax as a disjunction of conjunctions: `a:1 b:>2 OR c:3` -> [[a, b], [c]]."""
    if not query or not query.strip():
        return []
    groups = []
    for part in re.split(r"\s+OR\s+", query.strip()):
        terms = [Term(bool(m[1]), m[2].lower(), m[3] or "=", m[4].strip("'\"")) for m in _TERM.finditer(part)]
        if terms:
            groups.append(terms)
    return groups


def parse_time(value: str) -> datetime:
    """A search or payload timestamp; a bare date means its midnight UTC."""
    value = value.strip().replace("Z", "+00:00")
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def compare(left: Any, op: str, right: Any) -> bool:
    return {"=": left == right, ">": left > right, ">=": left >= right, "<": left < right, "<=": left <= right}[op]


def matches(groups: list[list[Term]], test: Callable[[Term], bool]) -> bool:
    """Does an item pass the parsed search? `test` judges one term (True for fields it does not know)."""
    if not groups:
        return True
    return any(all(test(term) != term.negated for term in group) for group in groups)


# -- calculated query cost ------------------------------------------------------------------------------


@dataclass
class CostContext:
    schema: GraphQLSchema
    fragments: dict[str, Any]
    variables: dict[str, Any]


def requested_cost(schema: GraphQLSchema, document, variables: dict[str, Any] | None) -> int:
    """Shopify's calculated cost before execution: objects 1, leaves 0, connections sized by first/last,
    mutations 10 (https://shopify.dev/docs/api/usage/rate-limits)."""
    fragments = {d.name.value: d for d in document.definitions if d.kind == "fragment_definition"}
    context = CostContext(schema, fragments, variables or {})
    total = 0
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            if definition.operation.value == "mutation":
                total += 10 * len(definition.selection_set.selections)
            else:
                total += _selection_cost(context, schema.query_type, definition.selection_set.selections)
    return total


def _selection_cost(context: CostContext, parent, selections: Iterable) -> int:
    cost = 0
    for selection in selections:
        if isinstance(selection, FieldNode):
            cost += _field_cost(context, parent, selection)
        elif isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            target = context.schema.get_type(condition.name.value) if condition else parent
            cost += _selection_cost(context, target, selection.selection_set.selections)
        elif isinstance(selection, FragmentSpreadNode):
            fragment = context.fragments[selection.name.value]
            target = context.schema.get_type(fragment.type_condition.name.value)
            cost += _selection_cost(context, target, fragment.selection_set.selections)
    return cost


def _field_cost(context: CostContext, parent, node: FieldNode) -> int:
    fields = getattr(parent, "fields", None) or {}
    definition = fields.get(node.name.value)
    if definition is None:  # __typename and friends
        return 0
    named = get_named_type(definition.type)
    if is_leaf_type(named):
        return 0
    if is_connection(named):
        size = _argument(context, node, "first") or _argument(context, node, "last") or 0
        return 2 + size * _node_cost(context, named, node)
    children = _selection_cost(context, named, node.selection_set.selections) if node.selection_set else 0
    return 1 + children


def _node_cost(context: CostContext, connection_type, node: FieldNode) -> int:
    """The cost of one node of a connection, however it is selected (edges.node or nodes)."""
    costs = [1]
    for selection in node.selection_set.selections if node.selection_set else []:
        if not isinstance(selection, FieldNode):
            continue
        if selection.name.value == "nodes":
            costs.append(_field_cost(context, connection_type, selection))
        elif selection.name.value == "edges" and selection.selection_set:
            edge_type = get_named_type(connection_type.fields["edges"].type)
            for inner in selection.selection_set.selections:
                if isinstance(inner, FieldNode) and inner.name.value == "node":
                    costs.append(_field_cost(context, edge_type, inner))
    return max(costs)


def _argument(context: CostContext, node: FieldNode, name: str) -> int | None:
    for argument in node.arguments:
        if argument.name.value == name:
            value = argument.value
            if value.kind == "variable":
                return context.variables.get(value.name.value)
            return int(value.value)
    return None


def actual_cost(data: Any) -> int:
    """What the executed query cost: objects actually returned (never more than requested)."""

    def count(value: Any) -> int:
        if isinstance(value, dict):
            return 1 + sum(count(v) for v in value.values())
        if isinstance(value, list):
            return sum(count(v) for v in value)
        return 0

    return count(data)


# -- the leaky bucket -----------------------------------------------------------------------------------

RESTORE_RATES = {"Basic": 100.0, "Shopify": 100.0, "Advanced": 200.0, "Shopify Plus": 1000.0,
                 "Commerce Components": 2000.0}


@dataclass
class CostBucket:
    """Per app and shop: holds up to `maximum` points, refills at `restore_rate` points a second."""

    restore_rate: float
    maximum: float
    clock: Callable[[], float] = time.monotonic
    available: float = field(init=False)
    updated: float = field(init=False)

    def __post_init__(self):
        self.available, self.updated = self.maximum, self.clock()

    @classmethod
    def for_plan(cls, plan: str, *, clock: Callable[[], float] = time.monotonic) -> "CostBucket":
        rate = RESTORE_RATES.get(plan, 100.0)
        # Shopify publishes only restore rates; the bucket holds 20 seconds' worth, as 1000/50 did.
        return cls(restore_rate=rate, maximum=rate * 20, clock=clock)

    def _refill(self) -> None:
        now = self.clock()
        self.available = min(self.maximum, self.available + (now - self.updated) * self.restore_rate)
        self.updated = now

    def take(self, cost: float) -> bool:
        """Charge `cost` up front if the bucket has it."""
        self._refill()
        if cost > self.available:
            return False
        self.available -= cost
        return True

    def refund(self, points: float) -> None:
        self._refill()
        self.available = min(self.maximum, self.available + points)

    def status(self) -> dict[str, float]:
        self._refill()
        return {"maximumAvailable": self.maximum, "currentlyAvailable": round(self.available),
                "restoreRate": self.restore_rate}


# -- zero values ----------------------------------------------------------------------------------------


def zero_value(type_) -> Any:
    """What a field the sandbox does not model returns, so any valid query executes (non-null fields only)."""
    if not is_non_null_type(type_):
        return None
    inner = type_.of_type
    if is_list_type(inner):
        return []
    named = get_named_type(inner)
    if is_enum_type(named):
        return next(iter(named.values))
    if is_scalar_type(named):
        return {"Boolean": False, "Int": 0, "Float": 0.0, "ID": "gid://shopify/Sandbox/0", "Money": "0.0",
                "Decimal": "0.0", "UnsignedInt64": "0", "DateTime": "1970-01-01T00:00:00Z",
                "Date": "1970-01-01", "URL": "https://example.invalid/", "JSON": {}}.get(named.name, "")
    if named.name.endswith("Connection"):
        return []
    return {}


def is_connection(type_) -> bool:
    named = get_named_type(type_)
    return isinstance(named, GraphQLObjectType) and named.name.endswith("Connection") and "pageInfo" in named.fields
