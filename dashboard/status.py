"""Sync status in words: a store and source's state badge, a running job's ETA, errors a person can act on.

Pure functions over facts the queries return (rows with the sync_jobs columns); no database, no Dash.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import settings

UP_TO_DATE, SYNCING, DELAYED, FAILING, DISCONNECTED, PAUSED = (
    "up to date", "syncing", "delayed", "failing", "disconnected", "paused")
STATE_COLOURS = {UP_TO_DATE: "success", SYNCING: "primary", DELAYED: "warning", FAILING: "danger",
                 DISCONNECTED: "dark", PAUSED: "secondary"}
SOURCE_NAMES = {"shopify": "Shopify", "meta": "Meta Ads", "upload": "Uploads"}
LIVE = ("queued", "running")

# What an error class means, for someone who does not read stack traces (ingest.errors and the runner's).
PLAIN_ERRORS = {
    "PermanentError": "The sync stopped and will not retry by itself",
    "TransientError": "A temporary problem interrupted the sync",
    "ThrottledError": "The API asked us to slow down",
    "LeaseExpired": "The scheduler running this job stopped answering",
    "ConnectError": "The store could not be reached with its credentials",
}


@dataclass(frozen=True)
class SourceState:
    """One store and source as the status page shows it."""

    state: str
    running: object | None  # the running job, if any
    failed: object | None  # the latest failed (or retrying) job, if failing

    @property
    def colour(self) -> str:
        return STATE_COLOURS[self.state]


def is_retrying(job) -> bool:
    """A queued job that already failed at least once and waits for its next attempt."""
    return job.status == "queued" and bool(job.error_class)


def derive_state(*, shop_status: str, jobs: list, last_success_at: datetime | None, interval_seconds: float,
                 now: datetime) -> SourceState:
    """The badge for one store and source, from its latest job per kind and its last success."""
    running = next((job for job in jobs if job.status == "running"), None)
    failed = next((job for job in jobs if job.status == "failed" or is_retrying(job)), None)
    if shop_status in (DISCONNECTED, PAUSED):
        return SourceState(shop_status, None, None)
    if running is not None:
        return SourceState(SYNCING, running, failed)
    if failed is not None:
        return SourceState(FAILING, None, failed)
    if any(job.status == "queued" for job in jobs):
        return SourceState(SYNCING, None, None)
    if interval_seconds == float("inf"):  # uploads: never expected, so never late (timedelta cannot hold inf)
        return SourceState(UP_TO_DATE, None, None)
    stale = timedelta(seconds=interval_seconds * settings.STATUS_DELAYED_FACTOR)
    if last_success_at is None or now - last_success_at > stale:
        return SourceState(DELAYED, None, None)
    return SourceState(UP_TO_DATE, None, None)


def progress_percent(done: int | None, total: int | None) -> int | None:
    """Whole percent done, or None when the total is not known yet."""
    if not total:
        return None
    return max(0, min(100, round(100 * (done or 0) / total)))


def eta_seconds(*, done: int | None, total: int | None, started_at: datetime | None, now: datetime) -> float | None:
    """Seconds left at the rate so far, or None before there is a rate to go by."""
    if not total or not done or started_at is None:
        return None
    elapsed = (now - started_at).total_seconds()
    if elapsed <= 0:
        return None
    return max(0.0, (total - done) * elapsed / done)


def format_duration(seconds: float | None) -> str:
    """`45 s`, `3 min`, `2 h 5 min`, `3 d 4 h`."""
    if seconds is None:
        return ""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def format_eta(seconds: float | None) -> str:
    """`about 3 min left`, or `estimating…` before there is a rate."""
    if seconds is None:
        return "estimating time left…"
    return "less than a minute left" if seconds < 60 else f"about {format_duration(seconds)} left"


def format_ago(moment: datetime | None, *, now: datetime) -> str:
    """`3 min ago`, `just now`, or `never`."""
    if moment is None:
        return "never"
    seconds = (now - moment).total_seconds()
    return "just now" if seconds < 10 else f"{format_duration(seconds)} ago"


def job_duration(job, *, now: datetime) -> float | None:
    """How long a job ran (so far, when it still runs)."""
    if job.started_at is None:
        return None
    return ((job.finished_at or now) - job.started_at).total_seconds()


def describe_error(error_class: str | None, message: str | None, hint: str | None) -> str:
    """The error in plain words, then the API's own message, then what to do about it."""
    if not error_class and not message:
        return ""
    lead = PLAIN_ERRORS.get(error_class or "", "The sync failed")
    parts = [f"{lead}: {message}" if message else lead]
    if hint:
        parts.append(hint)
    return ". ".join(part.rstrip(".") for part in parts) + "."


def completeness_percent(warehouse: int | None, shopify: int | None) -> float | None:
    """Warehouse orders as a percentage of Shopify's count (None before the first check)."""
    if shopify is None or warehouse is None:
        return None
    return 100.0 if shopify == 0 else round(100 * warehouse / shopify, 1)


def indicator_text(*, syncing: int, percent: int | None, failing: int, delayed: int = 0,
                   scheduler_running: bool = True) -> tuple[str, str]:
    """The navbar's words and colour: a stopped scheduler first, then syncing, failures, delays; else all is well."""
    if not scheduler_running:
        return "Sync stopped", "danger"
    if syncing:
        stores = "store" if syncing == 1 else "stores"
        return f"Syncing {syncing} {stores}" + (f", {percent}%" if percent is not None else ""), "info"
    if failing:
        stores = "store is" if failing == 1 else "stores are"
        return f"{failing} {stores} failing to sync", "warning"
    if delayed:
        stores = "store is" if delayed == 1 else "stores are"
        return f"{delayed} {stores} behind schedule", "warning"
    return "All stores up to date", "success"


def overall_percent(running_jobs: list) -> int | None:
    """Done over total across the running jobs that know their total."""
    known = [job for job in running_jobs if job.progress_total]
    if not known:
        return None
    return progress_percent(sum(job.progress_done or 0 for job in known), sum(job.progress_total for job in known))


# The pinned API versions: (who retires it, the API, the setting naming it). Their dates are settings too.
PINNED_APIS = (
    ("Shopify", "Admin API", "SHOPIFY_API_VERSION", "SHOPIFY_API_VERSION_RETIRES", "SHOPIFY_API_WARN_DAYS"),
    ("Meta", "Marketing API", "META_API_VERSION", "META_API_RETIRES_ON", "META_API_WARN_DAYS"),
)


def retirement_warnings(*, today: date | None = None) -> list[str]:
    """A sentence for each pinned API version that retires within its warning window (or already has)."""
    warnings = []
    for vendor, api, version, retires_on, warn_days in PINNED_APIS:
        retires = date.fromisoformat(getattr(settings, retires_on))
        days = (retires - (today or date.today())).days
        if days <= getattr(settings, warn_days):
            when = f"in {days} days" if days >= 0 else f"{-days} days ago"
            warnings.append(f"{vendor} retires {api} {getattr(settings, version)} {when} ({retires.isoformat()}): "
                            f"move {version} to the next version.")
    return warnings


def syncing_sentence(running: int) -> str:
    """Whether syncing works, in one sentence for those who do not see the scheduler instances."""
    if running:
        return "Syncing works: the scheduler is running."
    return "Syncing is stopped: no scheduler is running. An admin can see the details here."


def scheduler_banner(*, fresh: int, oldest_queued_at: datetime | None, timezone) -> str | None:
    """The banner's sentence when no scheduler has been seen lately, else None."""
    if fresh:
        return None
    text = "The scheduler is not running"
    if oldest_queued_at is not None:
        text += f": jobs have been waiting since {oldest_queued_at.astimezone(timezone):%H:%M}"
    return text + "."


@dataclass(frozen=True)
class SourceSummary:
    """Everything the status page, the navbar and the API say about one store and source."""

    shop_id: int
    shop_name: str
    source: str
    state: SourceState
    last_success_at: datetime | None
    data_until: datetime | None
    completeness: dict
    percent: int | None
    eta: float | None
    reason: str | None = None  # why the store is paused or disconnected

    @property
    def running(self):
        return self.state.running

    def to_json(self) -> dict:
        """The API's view: plain values, ISO times."""
        job = self.running
        return {
            "source": self.source,
            "state": self.state.state,
            "reason": self.reason,
            "last_success_at": _iso(self.last_success_at),
            "data_until": _iso(self.data_until),
            "completeness": self.completeness,
            "running_job": None if job is None else {
                "id": job.id, "kind": job.kind, "phase": job.progress_label, "done": job.progress_done,
                "total": job.progress_total, "percent": self.percent, "eta_seconds": self.eta,
                "started_at": _iso(job.started_at),
            },
            "error": None if self.state.failed is None else {
                "job_id": self.state.failed.id, "class": self.state.failed.error_class,
                "message": describe_error(self.state.failed.error_class, self.state.failed.error_message,
                                          self.state.failed.error_hint),
            },
        }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def interval_seconds(shop, source: str) -> float:
    """How often a source is expected to succeed: the store's interval, Meta's hourly pull, uploads never."""
    if source == "shopify":
        return shop.sync_interval_minutes * 60
    if source == "meta":
        return settings.META_INCREMENTAL_SECONDS
    return float("inf")


def completeness(shop, source: str, coverage: list) -> dict:
    """Shopify: warehouse orders against Shopify's count; Meta: days of insights loaded per ad account.

    Meta's days are never added up over accounts: two accounts of a year each cover one year, not two.
    """
    if source == "shopify":
        return {"warehouse_orders": shop.warehouse_order_count,
                "shopify_orders": shop.shopify_order_count,
                "percent": completeness_percent(shop.warehouse_order_count, shop.shopify_order_count),
                "checked_at": _iso(shop.completeness_checked_at)}
    if source == "meta":
        return {"accounts": [{"account_id": row.account_id, "name": row.name or None, "days": row.days,
                              "first_day": row.first_day.isoformat(), "last_day": row.last_day.isoformat()}
                             for row in coverage]}
    return {}


def summarise(*, shops: list, latest_jobs: list, last_successes: dict, freshness: dict, coverage: list,
              now: datetime) -> list[SourceSummary]:
    """One summary per visible store and source it uses (Shopify always; Meta and uploads once they appear)."""
    summaries, jobs_of, coverage_of = [], defaultdict(list), defaultdict(list)  # per store: one pass, not one each
    for job in latest_jobs:
        jobs_of[job.shop_id].append(job)
    for row in coverage:
        coverage_of[row.shop_id].append(row)
    for shop in shops:
        jobs = jobs_of[shop.shop_id]
        sources = ["shopify"] + (["meta"] if shop.has_meta or any(j.source == "meta" for j in jobs) else [])
        sources += ["upload"] if any(j.source == "upload" for j in jobs) else []
        for source in sources:
            mine = [job for job in jobs if job.source == source]
            state = derive_state(shop_status=shop.status, jobs=mine, last_success_at=last_successes.get(
                (shop.shop_id, source)), interval_seconds=interval_seconds(shop, source), now=now)
            job = state.running
            summaries.append(SourceSummary(
                shop_id=shop.shop_id, shop_name=shop.name, source=source, state=state,
                last_success_at=last_successes.get((shop.shop_id, source)),
                data_until=freshness.get((shop.shop_id, source)),
                completeness=completeness(shop, source, coverage_of[shop.shop_id]),
                percent=None if job is None else progress_percent(job.progress_done, job.progress_total),
                eta=None if job is None else eta_seconds(done=job.progress_done, total=job.progress_total,
                                                         started_at=job.started_at, now=now),
                reason=shop.status_reason,
            ))
    return summaries


JOB_NAMES = {"RECENT": "recent orders", "HISTORICAL_INIT": "history", "INCREMENTAL": "latest changes"}


def job_name(kind: str) -> str:
    """A job kind in plain words ("latest changes" for INCREMENTAL)."""
    return JOB_NAMES.get(kind, kind.lower().replace("_", " "))
