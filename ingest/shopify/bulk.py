"""Bulk query operations: start one, poll it, stream its JSONL result (reference/shopify.md section 1)."""

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import requests

from ingest.errors import PermanentError, TransientError
from ingest.shopify import queries
from ingest.shopify.client import ShopifyClient

log = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20
FINISHED = ("COMPLETED", "FAILED", "CANCELED", "EXPIRED")


class LimitReached(Exception):
    """Shopify runs as many bulk operations for this shop as it allows: wait for one to finish."""


class TruncatedDownload(TransientError):
    """The result file ended mid-line: download it again."""


@dataclass
class Status:
    """A bulk operation as `bulkOperation(id:)` reports it."""

    id: str
    status: str
    error_code: str | None = None
    object_count: int = 0
    url: str | None = None
    partial_url: str | None = None

    @classmethod
    def of(cls, node: dict) -> "Status":
        return cls(id=node["id"], status=node["status"], error_code=node.get("errorCode"),
                   object_count=int(node.get("objectCount") or 0), url=node.get("url"),
                   partial_url=node.get("partialDataUrl"))


def start(client: ShopifyClient, query: str) -> str:
    """Start a bulk query and return its id; raise LimitReached when Shopify runs enough of ours already."""
    payload = client.execute(queries.BULK_RUN, {"query": query})["bulkOperationRunQuery"]
    errors = payload.get("userErrors") or []
    if any(e.get("code") in ("LIMIT_REACHED", "OPERATION_IN_PROGRESS") for e in errors):
        raise LimitReached(errors[0]["message"])
    if errors or not payload.get("bulkOperation"):
        raise PermanentError(f"{client.shop_domain}: Shopify refused a bulk query: "
                             + "; ".join(e.get("message", "") for e in errors),
                             hint="This is a bug in the sync, not in the store: report it with this message.")
    return payload["bulkOperation"]["id"]


def poll(client: ShopifyClient, operation_id: str) -> Status | None:
    """The operation's status, or None when Shopify no longer knows it."""
    node = client.execute(queries.BULK_STATUS, {"id": operation_id}).get("bulkOperation")
    return Status.of(node) if node else None


def ours_since(client: ShopifyClient, since: datetime) -> dict[str, str]:
    """Live or finished query operations created since `since`, by their query text: what a scheduler killed
    between starting an operation and saving its id left behind, to adopt rather than run twice."""
    nodes = client.execute(queries.BULK_OPERATIONS, {"search": "operation_type:query"})["bulkOperations"]["nodes"]
    usable = [n for n in nodes if n["status"] in ("CREATED", "RUNNING", "COMPLETED")
              and datetime.fromisoformat(n["createdAt"]) >= since]
    return {n["query"]: n["id"] for n in reversed(usable)}  # the newest wins


def cancel(client: ShopifyClient, operation_id: str) -> None:
    client.execute(queries.BULK_CANCEL, {"id": operation_id})


def download(url: str, *, http: requests.Session, timeout: float = 60) -> Iterator[bytes]:
    """Stream the result's lines (never the whole file in memory); raise TruncatedDownload on a cut-off end."""
    try:
        with http.get(url, stream=True, timeout=timeout) as response:
            if response.status_code in (403, 404, 410):
                raise Expired(f"the result URL answered {response.status_code}")
            response.raise_for_status()
            rest = b""
            for chunk in response.iter_content(CHUNK_BYTES):
                lines = (rest + chunk).split(b"\n")
                rest = lines.pop()
                yield from lines
    except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as error:
        raise TransientError(f"bulk download failed: {error}") from error
    if rest.strip():
        raise TruncatedDownload(f"the result ended mid-line after {len(rest)} bytes")


class Expired(Exception):
    """The result URL no longer serves the file (it lives seven days): run the operation again."""
