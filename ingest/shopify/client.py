"""A thin Shopify Admin GraphQL client: one POST per call, paced by the cost bucket, errors classified.

Pacing: every response reports the bucket (`extensions.cost.throttleStatus`); before the next call we wait
until the bucket, refilled at its restore rate, holds what the call is expected to cost, so we slow down
before Shopify throttles rather than after. A THROTTLED answer (as a 200 or a 429) is waited out all the
same. Transport retries of 5xx answers and connection errors are urllib3's `Retry` (backoff, Retry-After).
"""

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

import settings
from ingest.errors import PermanentError, ThrottledError, TransientError

log = logging.getLogger(__name__)

RETRYABLE_STATUS = (500, 502, 503, 504)
THROTTLE_RETRIES = 8
REVOKED_HINT = "The store's access token was revoked or the app was uninstalled: reconnect the store in Settings."


class TokenSource(Protocol):
    """Where the client gets its access token, and a fresh one after a 401 (None when it cannot renew)."""

    def token(self) -> str: ...

    def renew(self) -> str | None: ...


@dataclass
class StaticToken:
    """A token that never changes (a custom app's `shpat_` token)."""

    value: str

    def token(self) -> str:
        return self.value

    def renew(self) -> str | None:
        return None


@dataclass
class Bucket:
    """What we last heard of the shop's cost bucket, and the moment we heard it."""

    maximum: float = 1000.0
    available: float = 1000.0
    restore_rate: float = 100.0
    seen_at: float = field(default_factory=time.monotonic)

    def update(self, status: dict, now: float) -> None:
        self.maximum = float(status.get("maximumAvailable") or self.maximum)
        self.available = float(status.get("currentlyAvailable") or 0)
        self.restore_rate = float(status.get("restoreRate") or self.restore_rate)
        self.seen_at = now

    def wait_for(self, cost: float, now: float) -> float:
        """Seconds until the bucket holds `cost` points (0 when it already does)."""
        available = min(self.maximum, self.available + (now - self.seen_at) * self.restore_rate)
        return max(0.0, (min(cost, self.maximum) - available) / self.restore_rate)


def admin_url(shop_domain: str, version: str = settings.SHOPIFY_API_VERSION) -> str:
    return settings.SHOPIFY_ADMIN_URL.format(shop=shop_domain, version=version)


def http_session(*, retries: int = 4, backoff: float = 0.5) -> requests.Session:
    """A requests session that retries 5xx answers and dropped connections, POST included."""
    retry = Retry(total=retries, connect=retries, read=retries, status=retries, backoff_factor=backoff,
                  status_forcelist=RETRYABLE_STATUS, allowed_methods=None, respect_retry_after_header=True,
                  raise_on_status=False)
    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    return session


class ShopifyClient:
    """One shop's Admin API."""

    def __init__(self, shop_domain: str, tokens: TokenSource, *, version: str = settings.SHOPIFY_API_VERSION,
                 http: requests.Session | None = None, timeout: float = settings.SHOPIFY_TIMEOUT_SECONDS,
                 sleep: Callable[[float], Any] = time.sleep):
        self.shop_domain = shop_domain
        self.url = admin_url(shop_domain, version)
        self.tokens = tokens
        self.http = http or http_session()
        self.timeout = timeout
        self.sleep = sleep
        self.bucket = Bucket()
        self.expected_cost: dict[str, float] = {}  # per document: what it cost last time
        self.requests = 0
        self._lock = threading.Lock()

    def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run one document and return its `data`; wait out throttling; raise a classified error otherwise."""
        for _ in range(THROTTLE_RETRIES):
            self._pace(query)
            body = self._post(query, variables)
            errors = body.get("errors") or []
            if any(_code(e) == "THROTTLED" for e in errors):
                continue  # the bucket numbers in this answer make _pace wait long enough
            if errors:
                raise _graphql_error(errors, self.shop_domain)
            return body.get("data") or {}
        raise ThrottledError(f"{self.shop_domain}: still throttled after {THROTTLE_RETRIES} tries",
                             retry_after=max(1.0, self.bucket.wait_for(self.bucket.maximum, time.monotonic())))

    def pages(self, query: str, variables: dict[str, Any], path: str) -> Iterator[list[dict]]:
        """Yield the nodes of the connection at `path` in `data`, page after page (`after` cursors)."""
        after = None
        while True:
            data = self.execute(query, {**variables, "after": after})
            connection = data[path]
            yield connection["nodes"]
            info = connection["pageInfo"]
            if not info["hasNextPage"]:
                return
            after = info["endCursor"]

    def _pace(self, query: str) -> None:
        with self._lock:
            wait = self.bucket.wait_for(self.expected_cost.get(query, 50.0), time.monotonic())
        if wait > 0:
            log.debug("%s: waiting %.2f s for the cost bucket", self.shop_domain, wait)
            self.sleep(wait)

    def _post(self, query: str, variables: dict[str, Any] | None) -> dict[str, Any]:
        response = self._send(query, variables, self.tokens.token())
        if response.status_code == 401:
            fresh = self.tokens.renew()
            if fresh is not None:
                response = self._send(query, variables, fresh)
        if response.status_code in (401, 403):
            raise PermanentError(f"{self.shop_domain}: Shopify refused the access token ({response.status_code})",
                                 hint=REVOKED_HINT)
        if response.status_code == 402:
            raise PermanentError(f"{self.shop_domain}: the store is frozen (402 Payment Required)",
                                 hint="The store's Shopify plan is unpaid: syncing resumes once it is paid.")
        if response.status_code in (404, 423):
            raise PermanentError(f"{self.shop_domain}: Shopify answered {response.status_code}",
                                 hint="The store was not found or is locked: check the domain in Settings.")
        try:
            body = response.json()
        except ValueError as error:
            raise TransientError(f"{self.shop_domain}: unreadable answer ({response.status_code})") from error
        self._note_cost(query, body)
        if response.status_code == 429:
            body.setdefault("errors", [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}])
        elif response.status_code >= 500:
            raise TransientError(f"{self.shop_domain}: Shopify answered {response.status_code}")
        return body

    def _send(self, query: str, variables: dict[str, Any] | None, token: str) -> requests.Response:
        self.requests += 1
        try:
            return self.http.post(self.url, json={"query": query, "variables": variables or {}}, timeout=self.timeout,
                                  headers={"X-Shopify-Access-Token": token})
        except requests.RequestException as error:
            raise TransientError(f"{self.shop_domain}: {type(error).__name__}: {error}") from error

    def _note_cost(self, query: str, body: dict[str, Any]) -> None:
        cost = (body.get("extensions") or {}).get("cost") or {}
        with self._lock:
            if cost.get("throttleStatus"):
                self.bucket.update(cost["throttleStatus"], time.monotonic())
            if cost.get("requestedQueryCost") is not None:
                self.expected_cost[query] = float(cost["requestedQueryCost"])


def _code(error: dict) -> str:
    return (error.get("extensions") or {}).get("code", "")


def _graphql_error(errors: list[dict], shop: str) -> Exception:
    """A GraphQL error as the runner understands it: a missing scope is permanent, the rest is a bug or transient."""
    message = "; ".join(str(e.get("message", e)) for e in errors)[:500]
    codes = {_code(e) for e in errors}
    if codes & {"ACCESS_DENIED", "FORBIDDEN"} or "access denied" in message.lower():
        return PermanentError(f"{shop}: {message}", hint="The app lacks an access scope it needs "
                              f"({', '.join(settings.SHOPIFY_SCOPES)}): reconnect the store and approve them.")
    if codes & {"INTERNAL_SERVER_ERROR", "TIMEOUT"}:
        return TransientError(f"{shop}: {message}")
    return PermanentError(f"{shop}: Shopify rejected a query: {message}",
                          hint="This is a bug in the sync, not in the store: report it with this message.")
