"""Bulk query operations: validated like Shopify, run in the background, results as JSONL behind an expiring URL.

The result is written by walking the validated selection over the store's plain dicts (not through the
GraphQL executor, which manages ~800 orders/s): each node of a connection is one line, nodes of nested
connections are their own lines with `__parentId`, and with `groupObjects: false` (the 2026-01 default)
children are written in batches after their parents, not beside them, as Shopify warns they may be.
"""

import hashlib
import hmac
import itertools
import json
import logging
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    get_named_type,
    is_abstract_type,
    is_leaf_type,
    parse,
    validate,
    value_from_ast_untyped,
)

from sandbox.shopify_graphql import is_connection, zero_value

log = logging.getLogger(__name__)

ItemsFor = Callable[[str, dict], Iterable[dict]]  # (root field, its arguments) -> the items it lists
MAX_CONCURRENT = 5  # per shop, from 2026-01
MAX_CONNECTIONS = 5
URL_LIFETIME = timedelta(days=7)
# Results are served from a signed storage URL shaped like Shopify's (Google Cloud Storage, V4 signing), whose
# path ends in the file name a client reads: .../bulk-<operation number>.jsonl?X-Goog-...&X-Goog-Signature=...
STORAGE_BUCKET = "shopify-tiers-assets-prod-us-east1/bulk-operation-outputs"
_SIGNING_KEY = secrets.token_bytes(32)
CHILD_BATCH = 200  # parents written before their pending children are flushed (groupObjects: false)
FAIL_AFTER = 10  # root objects written before an injected failure stops a run (its partial data)


@dataclass
class BulkFaults:
    """What the next operations of a shop should suffer (tests and the admin endpoint set these)."""

    fail: int = 0  # FAILED with INTERNAL_SERVER_ERROR and a partial file
    timeout: int = 0  # FAILED with TIMEOUT and a partial file
    access_denied: int = 0  # FAILED with ACCESS_DENIED at once, no data (a scope the token lacks)
    malformed_lines: int = 0  # lines replaced by broken JSON in the next file
    truncate: int = 0  # next downloads cut off mid-line
    held: bool = False  # operations stay RUNNING until `release` is set (slow operations, on demand)
    release: threading.Event = field(default_factory=threading.Event)
    stall_downloads: bool = False  # downloads send half the file, then wait until `resume_downloads` is set
    resume_downloads: threading.Event = field(default_factory=threading.Event)
    hold_answer: int = 0  # the answer to the n-th operation started from now on waits until `answer` is set
    answer: threading.Event = field(default_factory=threading.Event)
    started: int = 0  # operations started since the faults were set (what `hold_answer` counts)


@dataclass
class Operation:
    id: str
    shop: str
    query: str
    group_objects: bool
    created_at: datetime
    status: str = "CREATED"
    error_code: str | None = None
    object_count: int = 0
    root_object_count: int = 0
    completed_at: datetime | None = None
    file: Path | None = None
    partial: bool = False
    key: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    cancel: threading.Event = field(default_factory=threading.Event)

    def signature(self) -> str:
        return hmac.new(_SIGNING_KEY, self.key.encode(), hashlib.sha256).hexdigest()

    def url(self, base_url: str) -> str:
        """The signed storage URL of the result file (its name a client can read: bulk-<number>.jsonl)."""
        number = self.id.rsplit("/", 1)[1]
        signed = self.completed_at or self.created_at
        query = urlencode({"X-Goog-Algorithm": "GOOG4-RSA-SHA256",
                           "X-Goog-Credential": "assets-us-prod@shopify-tiers.iam.gserviceaccount.com/"
                                                f"{signed:%Y%m%d}/auto/storage/goog4_request",
                           "X-Goog-Date": f"{signed.astimezone(UTC):%Y%m%dT%H%M%SZ}",
                           "X-Goog-Expires": str(int(URL_LIFETIME.total_seconds())), "X-Goog-SignedHeaders": "host",
                           "response-content-disposition": f'attachment; filename="bulk-{number}.jsonl"',
                           "response-content-type": "application/jsonl", "X-Goog-Signature": self.signature()})
        return f"{base_url}/storage/{STORAGE_BUCKET}/{self.key}/bulk-{number}.jsonl?{query}"

    def as_graphql(self, base_url: str, now: datetime) -> dict[str, Any]:
        expired = self.completed_at is not None and now > self.completed_at + URL_LIFETIME
        url = self.url(base_url) if self.file and not expired else None
        return {
            "id": self.id,
            "status": "EXPIRED" if expired and self.status == "COMPLETED" else self.status,
            "errorCode": self.error_code,
            "createdAt": _iso(self.created_at),
            "completedAt": _iso(self.completed_at) if self.completed_at else None,
            "objectCount": str(self.object_count),
            "rootObjectCount": str(self.root_object_count),
            "fileSize": str(self.file.stat().st_size) if self.file and self.file.exists() else None,
            "url": None if self.partial else url,
            "partialDataUrl": url if self.partial else None,
            "query": self.query,
            "type": "QUERY",
        }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # whole seconds, as Shopify writes them


class BulkOperations:
    """The bulk operations of every shop, run by background threads."""

    def __init__(self, files: Path, *, now: Callable[[], datetime]):
        self.files = files
        self.now = now
        self.operations: dict[str, Operation] = {}
        self.faults: dict[str, BulkFaults] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        files.mkdir(parents=True, exist_ok=True)

    def running(self, shop: str) -> list[Operation]:
        return [op for op in self.operations.values() if op.shop == shop and op.status in ("CREATED", "RUNNING")]

    def start(self, *, shop: str, schema: GraphQLSchema, query: str, group_objects: bool,
              items_for: ItemsFor) -> dict[str, Any]:
        """bulkOperationRunQuery: validate, then run in the background; answer the mutation's payload.

        `items_for(root_field, arguments)` lists what the root connection holds for this caller (scopes and the
        `query:` search applied).
        """
        problem = _check(schema, query)
        if problem:
            return {"bulkOperation": None, "userErrors": [{"field": ["query"], "message": problem, "code": "INVALID"}]}
        with self._lock:
            if len(self.running(shop)) >= MAX_CONCURRENT:
                return {"bulkOperation": None, "userErrors": [{
                    "field": None, "code": "LIMIT_REACHED",
                    "message": "Bulk operations limit reached. Please try again later."}]}
            op = Operation(id=f"gid://shopify/BulkOperation/{next(self._ids)}", shop=shop, query=query,
                           group_objects=group_objects, created_at=self.now())
            self.operations[op.id] = op
        return {"bulkOperation": op, "userErrors": [], "launch": lambda: self._launch(op, schema, items_for)}

    def hold_answer(self, shop: str) -> None:
        """Keep the caller waiting for its answer when the faults say so: the operation runs, the id is unsaid."""
        faults = self.faults.setdefault(shop, BulkFaults())
        faults.started += 1
        if faults.started == faults.hold_answer:
            faults.answer.wait()

    def _launch(self, op: Operation, schema: GraphQLSchema, items_for: ItemsFor) -> None:
        threading.Thread(target=self._run_safely, args=(op, schema, items_for), name=f"bulk-{op.id}",
                         daemon=True).start()

    def _run_safely(self, op: Operation, schema: GraphQLSchema, items_for: ItemsFor) -> None:
        try:
            self._run(op, schema, items_for)
        except Exception:  # a crashed run must end, as Shopify's do: FAILED, keeping what was written
            log.exception("bulk operation %s crashed", op.id)
            op.status, op.error_code, op.partial, op.completed_at = "FAILED", "INTERNAL_SERVER_ERROR", True, self.now()

    def cancel(self, op_id: str) -> dict[str, Any]:
        op = self.operations.get(op_id)
        if op is None:
            error = {"field": ["id"], "message": "Bulk operation does not exist"}
            return {"bulkOperation": None, "userErrors": [error]}
        if op.status in ("CREATED", "RUNNING"):
            op.status = "CANCELING"
            op.cancel.set()
        return {"bulkOperation": op, "userErrors": []}

    def file_for(self, key: str) -> tuple[Path | None, Operation | None]:
        op = next((o for o in self.operations.values() if o.key == key), None)
        if op is None or op.file is None or op.completed_at is None or self.now() > op.completed_at + URL_LIFETIME:
            return None, op
        return op.file, op

    # -- running --------------------------------------------------------------------------------------

    def _run(self, op: Operation, schema: GraphQLSchema, items_for: ItemsFor) -> None:
        faults = self.faults.setdefault(op.shop, BulkFaults())
        op.status = "RUNNING"
        op.file = self.files / f"{op.key}.jsonl"
        document = parse(op.query)
        root_field = _operation(document).selection_set.selections[0]
        if _take(faults, "access_denied"):
            op.status, op.error_code, op.completed_at, op.file = "FAILED", "ACCESS_DENIED", self.now(), None
            return
        failure = "INTERNAL_SERVER_ERROR" if _take(faults, "fail") else "TIMEOUT" if _take(faults, "timeout") else None
        malformed = _take_all(faults, "malformed_lines")
        root_args = {a.name.value: value_from_ast_untyped(a.value) for a in root_field.arguments}
        items = items_for(root_field.name.value, root_args)
        if faults.held:
            faults.release.wait()
        fragments = {d.name.value: d for d in document.definitions if d.kind == "fragment_definition"}
        walker = Walker(schema, fragments)
        with open(op.file, "w") as out:
            for n, line in enumerate(walker.lines(root_field, items, op)):
                if op.cancel.is_set():
                    op.status, op.completed_at = "CANCELED", self.now()
                    return
                if failure and op.root_object_count > FAIL_AFTER:
                    op.status, op.error_code, op.partial, op.completed_at = "FAILED", failure, True, self.now()
                    return
                out.write(line if n >= malformed else line[: len(line) // 2] + "\n")
                op.object_count += 1
        op.completed_at = self.now()
        if op.object_count == 0:
            op.file = None  # Shopify: no results, no url
        op.status = "COMPLETED"


def _operation(document):
    """The document's operation (fragments may come before it, as Shopify allows)."""
    return next(d for d in document.definitions if d.kind == "operation_definition")


def _take(faults: BulkFaults, name: str) -> bool:
    if getattr(faults, name) > 0:
        setattr(faults, name, getattr(faults, name) - 1)
        return True
    return False


def _take_all(faults: BulkFaults, name: str) -> int:
    count = getattr(faults, name)
    setattr(faults, name, 0)
    return count


def _check(schema: GraphQLSchema, query: str) -> str | None:
    """Shopify's bulk query rules: valid, one top-level connection, at most 5 connections, nesting depth 2."""
    try:
        document = parse(query)
    except GraphQLError as error:
        return f"Invalid bulk query: {error.message}"
    errors = validate(schema, document)
    if errors:
        return f"Invalid bulk query: {errors[0].message}"
    operation = _operation(document)
    roots = operation.selection_set.selections
    if len(roots) != 1:
        return "Bulk queries must contain exactly one top-level field."
    root_type = schema.query_type.fields[roots[0].name.value].type
    if not is_connection(root_type):
        return "Bulk queries must contain at least one connection."
    fragments = {d.name.value: d for d in document.definitions if d.kind == "fragment_definition"}
    count, depth = _connections(schema, get_named_type(root_type), roots[0], 0, fragments)
    if count + 1 > MAX_CONNECTIONS:
        return f"Bulk queries cannot contain more than {MAX_CONNECTIONS} connections."
    if depth > 2:
        return "Bulk queries cannot contain connections with a nesting depth greater than 2."
    return None


def _connections(schema, parent_type, node: FieldNode, depth: int, fragments: dict) -> tuple[int, int]:
    """How many connections lie below `node`, and how deeply they nest (fragments included)."""
    count, deepest = 0, depth
    for child, field_type in _fields(node, schema, parent_type, fragments):
        if field_type is None:
            continue
        nested_depth = depth + 1 if is_connection(field_type) else depth
        count += 1 if is_connection(field_type) else 0
        if child.selection_set:
            c, d = _connections(schema, get_named_type(field_type), child, nested_depth, fragments)
            count, deepest = count + c, max(deepest, d, nested_depth)
    return count, deepest


def _fields(node: FieldNode, schema, parent_type, fragments) -> Iterator[tuple[FieldNode, Any]]:
    """The field selections under `node` with their types, through fragments."""
    for selection in node.selection_set.selections if node.selection_set else []:
        if isinstance(selection, FieldNode):
            fields = getattr(parent_type, "fields", {})
            definition = fields.get(selection.name.value)
            yield selection, definition.type if definition else None
        elif isinstance(selection, InlineFragmentNode):
            target = schema.get_type(selection.type_condition.name.value) if selection.type_condition else parent_type
            yield from _fields(selection, schema, target, fragments)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value in fragments:
            fragment = fragments[selection.name.value]
            yield from _fields(fragment, schema, schema.get_type(fragment.type_condition.name.value), fragments)


class Walker:
    """Turns a root connection's items into JSONL lines following a validated selection."""

    def __init__(self, schema: GraphQLSchema, fragments: dict):
        self.schema = schema
        self.fragments = fragments

    def lines(self, root: FieldNode, items: Iterable[dict], op: Operation) -> Iterator[str]:
        node_field = self._node_selection(root)
        node_type = get_named_type(self.schema.query_type.fields[root.name.value].type).fields["nodes"].type
        pending: list[str] = []
        for item in items:
            children: list[tuple[str, dict]] = []
            line = self.project(item, node_type, node_field, children)
            op.root_object_count += 1
            yield json.dumps(line) + "\n"
            pending.extend(self._child_lines(children))
            if op.group_objects or len(pending) >= CHILD_BATCH:
                yield from pending
                pending.clear()
        yield from pending

    def _child_lines(self, children: list[tuple[str, dict]]) -> Iterator[str]:
        for parent_id, line in children:
            line["__parentId"] = parent_id
            yield json.dumps(line) + "\n"

    def _node_selection(self, connection_field: FieldNode) -> FieldNode:
        """The selection applied to each node: `edges { node { ... } }` or `nodes { ... }`."""
        for selection in connection_field.selection_set.selections:
            if isinstance(selection, FieldNode) and selection.name.value == "nodes":
                return selection
            if isinstance(selection, FieldNode) and selection.name.value == "edges":
                for inner in selection.selection_set.selections:
                    if isinstance(inner, FieldNode) and inner.name.value == "node":
                        return inner
        return connection_field

    def project(self, value: dict, type_, node: FieldNode, children: list) -> dict:
        """`value` reduced to the selected fields; nested connections' nodes go to `children` as lines."""
        named = get_named_type(type_)
        if is_abstract_type(named):
            named = self.schema.get_type(value.get("__typename", "")) or named
        out: dict[str, Any] = {}
        for selection, field_type in _fields(node, self.schema, named, self.fragments):
            name = selection.alias.value if selection.alias else selection.name.value
            if selection.name.value == "__typename":
                out[name] = value.get("__typename", named.name)
                continue
            if field_type is None:
                continue
            raw = value.get(selection.name.value)
            if raw is None:
                if is_connection(field_type):  # an empty connection simply writes no child lines
                    continue
                # What the executor answers for it too: null, or a zero object walked like any other (never {})
                raw = zero_value(field_type)
                if raw is None:
                    out[name] = None
                    continue
            if is_connection(field_type):
                inner = self._node_selection(selection)
                inner_type = get_named_type(field_type).fields["nodes"].type
                for child in raw:
                    grandchildren: list = []
                    children.append((value.get("id"), self.project(child, inner_type, inner, grandchildren)))
                    children.extend(grandchildren)
                continue
            out[name] = self._value(raw, field_type, selection, children)
        return out

    def _value(self, raw: Any, field_type, selection: FieldNode, children: list) -> Any:
        if is_leaf_type(get_named_type(field_type)) or selection.selection_set is None:
            return raw
        if isinstance(raw, list):
            return [self.project(item, field_type, selection, children) for item in raw]
        return self.project(raw, field_type, selection, children)
