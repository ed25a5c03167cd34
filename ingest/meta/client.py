"""A thin Graph API client: one version, usage headers read on every response, Meta's errors classified."""

import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import requests

import settings
from ingest.errors import PermanentError, ThrottledError, TransientError

log = logging.getLogger(__name__)

TOKEN_HINT = "The Meta token expired: reconnect it in Settings"
PERMISSION_HINT = "The Meta token lacks the ads_read permission: reconnect it with ads_read in Settings"
THROTTLE_CODES = frozenset({4, 17, 32, 613, *range(80000, 80015)})
# (code, subcode) pairs Meta uses when a synchronous insights query takes too long.
TIMEOUTS = frozenset({(100, 1504018), (2, 1504038)})
USAGE_HEADERS = ("X-Business-Use-Case-Usage", "X-Ad-Account-Usage", "X-FB-Ads-Insights-Throttle")


class ReduceDataError(TransientError):
    """Meta wants a smaller or asynchronous query (reduce-data, sync timeout): split it or run it async."""


class StartTooOldError(PermanentError):
    """Code 3018: the start date is beyond the 37 months Meta keeps; the caller clamps it."""


@dataclass(frozen=True)
class Usage:
    """The highest utilisation (%) any usage header reports, and how long Meta says to wait (s)."""

    pct: float = 0.0
    wait_seconds: float = 0.0


def read_usage(headers) -> Usage:
    """Usage from X-Business-Use-Case-Usage, X-Ad-Account-Usage and X-FB-Ads-Insights-Throttle."""
    pcts, waits = [0.0], [0.0]
    for name in USAGE_HEADERS:
        try:
            value = json.loads(headers.get(name) or "{}")
        except ValueError:
            continue
        # BUC usage is {business id: [{...}]}; the other two are one flat object.
        entries = [e for v in value.values() if isinstance(v, list) for e in v] if name.startswith("X-Bus") \
            else [value]
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            pcts += [float(entry.get(k) or 0) for k in ("call_count", "total_cputime", "total_time",
                                                          "acc_id_util_pct", "app_id_util_pct")]
            # estimated_time_to_regain_access is in minutes, reset_time_duration in seconds.
            waits.append(float(entry.get("estimated_time_to_regain_access") or 0) * 60)
            if float(entry.get("acc_id_util_pct") or 0) >= 100:
                waits.append(float(entry.get("reset_time_duration") or 0))
    return Usage(max(pcts), max(waits))


def pause_seconds(usage: Usage) -> float:
    """How long to pause before the next call: nothing below SLOW %, growing to PAUSE seconds at STOP %."""
    slow, stop = settings.META_USAGE_SLOW_PCT, settings.META_USAGE_STOP_PCT
    if usage.pct < slow:
        return 0.0
    return settings.META_USAGE_PAUSE_SECONDS * min(1.0, (usage.pct - slow) / max(stop - slow, 1))


def classify(status: int, error: dict, usage: Usage) -> Exception:
    """The exception for one Meta error response (codes from reference/meta.md section 4)."""
    code, subcode = error.get("code"), error.get("error_subcode")
    message = f"Meta error {code}/{subcode}: {error.get('message', '')}"
    if code == 190:
        return PermanentError(message, hint=TOKEN_HINT)
    if code == 10 or (isinstance(code, int) and 200 <= code <= 299):
        return PermanentError(message, hint=PERMISSION_HINT)
    if code in THROTTLE_CODES:
        return ThrottledError(message, retry_after=usage.wait_seconds or settings.META_THROTTLE_DEFAULT_SECONDS)
    if (code, subcode) in TIMEOUTS or (code == 1 and status == 500 and subcode is None
                                       and "reduce the amount of data" in error.get("message", "")):
        return ReduceDataError(message)
    if code == 3018:
        return StartTooOldError(message)
    if code in (1, 2) or subcode == 1504043 or status >= 500 or error.get("is_transient"):
        return TransientError(message)
    return PermanentError(message, hint="Meta refused the request; the event log has its message.")


class MetaClient:
    """Calls the Graph API at the pinned version with one access token."""

    def __init__(self, token: str, *, base_url: str | None = None, version: str | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.token = token
        self.root = f"{(base_url or settings.META_GRAPH_URL).rstrip('/')}/{version or settings.META_API_VERSION}"
        self.http = requests.Session()
        self.sleep = sleep
        self.usage = Usage()
        self.requests = 0

    def __enter__(self) -> "MetaClient":
        return self

    def __exit__(self, *exc_info) -> None:
        self.http.close()  # pooled connections go with the client

    def get(self, path: str, params: dict[str, Any] | None = None) -> dict:
        """GET a node or edge."""
        return self._call("GET", f"{self.root}/{path}", params or {})

    def post(self, path: str, params: dict[str, Any] | None = None) -> dict:
        """POST to an edge (an async report run)."""
        return self._call("POST", f"{self.root}/{path}", params or {})

    def pages(self, path: str, params: dict[str, Any] | None = None) -> Iterator[list[dict]]:
        """Yield each page's rows, following the cursor in paging.next until there is none."""
        body = self.get(path, params)
        while True:
            yield body.get("data", [])
            following = body.get("paging", {}).get("next")
            if not following:
                return
            body = self._call("GET", following, {})

    def _call(self, method: str, url: str, params: dict[str, Any]) -> dict:
        for attempt in range(settings.META_HTTP_RETRIES + 1):
            self._wait_for_budget()
            try:
                return self._send(method, url, params)
            except TransientError as error:
                if isinstance(error, ThrottledError | ReduceDataError) or attempt == settings.META_HTTP_RETRIES:
                    raise
                log.info("Meta transient error, retry %d: %s", attempt + 1, error)
                self.sleep(settings.META_HTTP_BACKOFF_SECONDS * 2**attempt)
        raise AssertionError("unreachable")

    def _send(self, method: str, url: str, params: dict[str, Any]) -> dict:
        self.requests += 1
        try:
            response = self.http.request(method, url, params=params if method == "GET" else None,
                                         data=params if method == "POST" else None,
                                         headers={"Authorization": f"Bearer {self.token}"},
                                         timeout=settings.META_HTTP_TIMEOUT_SECONDS)
        except requests.RequestException as error:
            raise TransientError(f"Meta unreachable: {error}") from error
        self.usage = read_usage(response.headers)  # error responses carry them too
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.ok and "error" not in body:
            return body
        error = body.get("error") if isinstance(body.get("error"), dict) else {"message": response.text[:200]}
        raise classify(response.status_code, error, self.usage)

    def _wait_for_budget(self) -> None:
        """Slow down as usage nears the limit; past STOP %, give the job back to the queue to wait."""
        if self.usage.wait_seconds or self.usage.pct >= settings.META_USAGE_STOP_PCT:
            wait = self.usage.wait_seconds or settings.META_THROTTLE_DEFAULT_SECONDS
            raise ThrottledError(f"Meta usage at {self.usage.pct:.0f} %: waiting {wait:.0f} s", retry_after=wait)
        pause = pause_seconds(self.usage)
        if pause:
            self.sleep(pause)
