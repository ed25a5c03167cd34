"""Daily insights pages for a date range: sync for small ranges, async report runs for large ones."""

import calendar
import json
import logging
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta

import settings
from ingest.errors import TransientError
from ingest.meta.client import MetaClient, ReduceDataError, StartTooOldError

log = logging.getLogger(__name__)

LEVELS = ("account", "campaign")
FIELDS = ("account_id", "account_currency", "campaign_id", "campaign_name", "objective", "spend", "impressions",
          "reach", "frequency", "clicks", "inline_link_clicks", "cpc", "cpm", "ctr", "actions", "action_values",
          "purchase_roas", "attribution_setting", "date_start", "date_stop")
# Explicit windows that still return data in 2026 (the 7d_view and 28d_view windows were removed).
WINDOWS = ("1d_click", "7d_click", "28d_click", "1d_view")
RETENTION_MONTHS = 37


class AsyncJobFailed(TransientError):
    """An async report run ended in Job Failed or Job Skipped, or did not finish in time."""


def chunks(since: date, until: date, days: int) -> list[tuple[date, date]]:
    """[since, until] cut into ranges of at most `days` days, newest first (recent data shows first)."""
    out, stop = [], until
    while stop >= since:
        start = max(since, stop - timedelta(days=days - 1))
        out.append((start, stop))
        stop = start - timedelta(days=1)
    return out


def retention_floor(today: date) -> date:
    """The oldest day Meta still answers for: 37 months back, plus a day of margin."""
    month0 = today.month - 1 - RETENTION_MONTHS
    year, month = today.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(today.day, calendar.monthrange(year, month)[1])) + timedelta(days=1)


def params(level: str, since: date, until: date) -> dict[str, str]:
    """The query for one level's daily rows over [since, until]."""
    return {"level": level, "fields": ",".join(FIELDS), "time_increment": "1",
            "time_range": json.dumps({"since": since.isoformat(), "until": until.isoformat()}),
            "action_attribution_windows": json.dumps(WINDOWS), "limit": str(settings.META_PAGE_LIMIT)}


def fetch(client: MetaClient, account_id: str, *, level: str, since: date, until: date, today: date,
          tick: Callable[[], None] = lambda: None) -> Iterator[list[dict]]:
    """Yield pages of daily rows; reduce-data or a failed run moves the range to async or splits it.

    A range that fails part-way is fetched again (smaller), so a page may repeat: loading is idempotent.
    `tick` runs between polls, where a stopping job may raise.
    """
    try:
        if (until - since).days + 1 > settings.META_SYNC_MAX_DAYS:
            yield from _async(client, account_id, params(level, since, until), tick)
        else:
            try:
                yield from client.pages(f"{account_id}/insights", params(level, since, until))
            except ReduceDataError as error:
                log.info("%s %s..%s: %s; running it async", account_id, since, until, error)
                yield from _async(client, account_id, params(level, since, until), tick)
    except StartTooOldError:
        floor = retention_floor(today)
        if since >= floor:
            raise
        log.info("%s: %s is beyond Meta's 37 months; starting at %s", account_id, since, floor)
        if floor <= until:
            yield from fetch(client, account_id, level=level, since=floor, until=until, today=today, tick=tick)
    except (ReduceDataError, AsyncJobFailed) as error:
        if since == until:
            raise TransientError(f"{account_id} {since}: {error}") from error
        middle = since + timedelta(days=(until - since).days // 2)
        log.info("%s %s..%s: %s; splitting at %s", account_id, since, until, error, middle)
        yield from fetch(client, account_id, level=level, since=since, until=middle, today=today, tick=tick)
        yield from fetch(client, account_id, level=level, since=middle + timedelta(days=1), until=until,
                         today=today, tick=tick)


def _async(client: MetaClient, account_id: str, query: dict, tick: Callable[[], None]) -> Iterator[list[dict]]:
    """Start a report run, poll it (doubling waits) until complete, then page through its rows."""
    run_id = client.post(f"{account_id}/insights", query)["report_run_id"]
    deadline = time.monotonic() + settings.META_ASYNC_TIMEOUT_SECONDS
    wait = settings.META_POLL_SECONDS
    while True:
        status = client.get(run_id, {"fields": "async_status,async_percent_completion,error_message"})
        if status.get("async_status") == "Job Completed" and status.get("async_percent_completion") == 100:
            break
        if status.get("async_status") in ("Job Failed", "Job Skipped"):
            raise AsyncJobFailed(f"report run {run_id}: {status.get('async_status')} {status.get('error_message', '')}")
        if time.monotonic() > deadline:
            raise AsyncJobFailed(f"report run {run_id} unfinished after {settings.META_ASYNC_TIMEOUT_SECONDS:.0f} s")
        tick()
        client.sleep(wait)
        wait = min(wait * 2, settings.META_POLL_MAX_SECONDS)
    yield from client.pages(f"{run_id}/insights", {"limit": str(settings.META_PAGE_LIMIT)})
