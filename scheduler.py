"""The scheduler process: claims due sync jobs into a thread pool; SIGTERM drains and exits in time.

`python scheduler.py` runs it (BlockingScheduler); the embedded default runs the same service in
the web process (BackgroundScheduler). Any number of them may share one database.
"""

import logging
import signal
import sys
from datetime import datetime

import requests
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy.exc import SQLAlchemyError

import embedded
import ingest.meta.sync  # noqa: F401  (registers the Meta job handlers)
import ingest.uploads.job  # noqa: F401  (registers the upload job handlers)
import logs
import settings
from database import libpq_url, scheduler_sessionmaker, session_scope
from ingest import fx, staging
from ingest.meta import schedule as meta_schedule
from ingest.runner import Listener, Worker
from ingest.shopify import sync, webhooks  # importing sync registers the Shopify job handlers

log = logging.getLogger("scheduler")


def _skip_is_not_news(record: logging.LogRecord) -> bool:
    """Keep APScheduler's "skipped: maximum number of running instances" out of the logs.

    A duty still running when its interval comes round (a long drain on a busy machine) is skipped once and
    runs at the next tick (coalesce): nothing is lost, so it is not a warning an operator should act on.
    """
    return not str(record.msg).startswith('Execution of job "%s" skipped: maximum number of running instances')


logging.getLogger("apscheduler.scheduler").addFilter(_skip_is_not_news)


class SchedulerService:
    """A Worker driven by APScheduler timers and woken by NOTIFY."""

    def __init__(
        self,
        url: str,
        *,
        scheduler: BaseScheduler,
        listen: bool = True,
        poll_seconds: float = settings.JOB_POLL_SECONDS,
        heartbeat_seconds: float = settings.JOB_HEARTBEAT_SECONDS,
        reap_seconds: float = settings.JOB_REAP_SECONDS,
        **worker_options,
    ):
        self.worker = Worker(scheduler_sessionmaker(url), **worker_options)
        self.scheduler = scheduler
        self.listener = Listener(libpq_url(url), self.worker.fill, self.worker.stopping) if listen else None
        now = datetime.now().astimezone()
        duties = {"claim": (self.worker.fill, poll_seconds), "heartbeat": (self.worker.beat, heartbeat_seconds),
                  "reap": (self.worker.reap, reap_seconds),
                  "meta_incremental": (self.enqueue_meta, settings.META_SCHEDULE_SECONDS),
                  "webhooks": (self.drain_webhooks, settings.WEBHOOK_DRAIN_SECONDS),
                  "shopify_incremental": (self.enqueue_incremental, settings.SHOPIFY_ENQUEUE_SECONDS),
                  "prune_staging": (self.prune_staging, 3600)}
        if settings.FX_RATES_URL:
            duties["fx_rates"] = (self.refresh_fx, settings.FX_REFRESH_SECONDS)
        for name, (duty, seconds) in duties.items():
            scheduler.add_job(
                duty, "interval", seconds=seconds, id=name, next_run_time=now,
                max_instances=1, coalesce=True, misfire_grace_time=None,
            )

    def enqueue_meta(self) -> None:
        """Queue the Meta INCREMENTAL syncs that are due."""
        with session_scope(self.worker.sessions) as session:
            meta_schedule.enqueue_due(session=session)

    def drain_webhooks(self) -> None:
        """Apply the webhooks the web has landed in the inbox."""
        webhooks.drain(sessions=self.worker.sessions)

    def enqueue_incremental(self) -> None:
        """Queue INCREMENTAL syncs for active stores whose interval has passed (NOTIFY wakes the claimers)."""
        with session_scope(self.worker.sessions) as session:
            sync.enqueue_due(session=session)

    def prune_staging(self) -> None:
        """Drop staging rows past their retention (any scheduler may; the deletes are idempotent)."""
        with session_scope(self.worker.sessions) as session:
            pruned = staging.prune(session=session)
        if any(pruned.values()):
            log.info("pruned staging: %s", pruned)

    def refresh_fx(self) -> None:
        """Load the FX rates from FX_RATES_URL (a failure is logged and tried again next time)."""
        try:
            with session_scope(self.worker.sessions) as session:
                parsed = fx.refresh(session=session)
        except (requests.RequestException, SQLAlchemyError) as error:
            log.warning("FX rates not refreshed from %s: %s", settings.FX_RATES_URL, error)
            return
        if parsed and parsed.errors:
            log.warning("FX rates: %d malformed lines (%s)", len(parsed.errors), parsed.errors[0])

    def start(self) -> None:
        """Start listening and the timers (blocks for a BlockingScheduler until shutdown)."""
        log.info("scheduler %s starting", self.worker.instance_id)
        if self.listener:
            self.listener.start()
        self.scheduler.start()

    def stop(self, *, grace_seconds: float = settings.SHUTDOWN_GRACE_SECONDS) -> None:
        """Stop the timers and let a duty under way finish (an FX load, a drain: each one short transaction),
        then drain the worker: nothing is still writing when the database stops after us."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        self.worker.stop(grace_seconds=grace_seconds)


def start_in_background(url: str, **options) -> SchedulerService:
    """Run a scheduler inside this process (the embedded default)."""
    service = SchedulerService(url, scheduler=BackgroundScheduler(), **options)
    service.start()
    return service


def main() -> None:
    """Run the scheduler in the foreground until SIGTERM or SIGINT."""
    logs.configure()
    service = SchedulerService(embedded.default_url(), scheduler=BlockingScheduler())

    def request_stop(signum, frame):
        log.info("received %s: no new claims, draining", signal.Signals(signum).name)
        if service.scheduler.running:
            service.scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    service.start()  # returns once request_stop shut the timers down
    service.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
