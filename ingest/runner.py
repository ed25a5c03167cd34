"""Running claimed jobs: the handler registry, the context a handler works through, and the worker pool."""

import logging
import os
import select
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg2
from sqlalchemy import delete, func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import sessionmaker

import settings
from database import session_scope
from ingest import jobs
from ingest.errors import Cancelled, Interrupted, LeaseLost, PermanentError, ThrottledError
from models import SchedulerHeartbeat, SyncJob

log = logging.getLogger(__name__)

Handler = Callable[["JobContext"], None]
HANDLERS: dict[tuple[str, str], Handler] = {}


def handler(source: str, kind: str) -> Callable[[Handler], Handler]:
    """Register a function as the handler of (source, kind) jobs."""

    def register(fn: Handler) -> Handler:
        HANDLERS[(source, kind)] = fn
        return fn

    return register


class JobContext:
    """What a handler gets: its job, sessions, and `checkpoint()`, where it may be told to stop."""

    def __init__(self, job: SyncJob, *, sessions: sessionmaker, owner: str, stopping: threading.Event):
        self.job = job
        self.sessions = sessions
        self.owner = owner
        self.state: dict[str, Any] = dict(job.state or {})
        self._stopping = stopping
        self.cancel_requested = False
        self.lease_lost = False

    @property
    def params(self) -> dict[str, Any]:
        return self.job.params or {}

    def checkpoint(self, *, done: int | None = None, total: int | None = None, label: str | None = None) -> None:
        """Save progress and `self.state`; raise if the job must stop (cancel, shutdown, lost lease)."""
        with session_scope(self.sessions) as session:
            lease = jobs.checkpoint(
                session=session, job_id=self.job.id, owner=self.owner, state=self.state,
                done=done, total=total, label=label,
            )
        self.lease_lost = self.lease_lost or not lease.owned
        self.cancel_requested = self.cancel_requested or lease.cancel_requested
        self.raise_if_stopping()

    def wait(self, seconds: float) -> None:
        """Pause between polls; wake at once and stop here if the scheduler is shutting down."""
        self._stopping.wait(seconds)
        self.raise_if_stopping()

    def raise_if_stopping(self) -> None:
        """Stop here if the job was cancelled, the scheduler is stopping, or the lease was lost."""
        if self.lease_lost:
            raise LeaseLost(f"job {self.job.id} is owned by another scheduler now")
        if self.cancel_requested:
            raise Cancelled(f"job {self.job.id} was cancelled")
        if self._stopping.is_set():
            raise Interrupted(f"job {self.job.id} interrupted by shutdown")

    def log(self, level: str, message: str, **details: Any) -> None:
        """Write a line to the live event log for this job's shop."""
        with session_scope(self.sessions) as session:
            jobs.record_event(
                session=session, level=level, message=message,
                shop_id=self.job.shop_id, job_id=self.job.id, details=details,
            )


def new_instance_id() -> str:
    """A name for this scheduler process that no other process shares."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    """Claims due jobs into at most `threads` threads, heartbeats their leases, and drains on stop.

    Job threads are daemons: a handler that ignores shutdown cannot hold the process past its
    grace period (its lease is released first, and its open transaction dies with the connection).
    """

    def __init__(
        self,
        sessions: sessionmaker,
        *,
        threads: int = settings.SCHEDULER_THREADS,
        lease_seconds: float = settings.JOB_LEASE_SECONDS,
        backoff_base: float = settings.JOB_BACKOFF_BASE_SECONDS,
        backoff_max: float = settings.JOB_BACKOFF_MAX_SECONDS,
        handlers: dict[tuple[str, str], Handler] | None = None,
    ):
        self.sessions = sessions
        self.instance_id = new_instance_id()
        self.threads = threads
        self.lease_seconds = lease_seconds
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.handlers = HANDLERS if handlers is None else handlers
        self.stopping = threading.Event()
        self._running: dict[int, JobContext] = {}
        self._threads: dict[int, threading.Thread] = {}
        self._lock = threading.Lock()

    # -- claiming -------------------------------------------------------------------------------

    def fill(self) -> int:
        """Claim as many due jobs as there are free threads, and start them. Return how many."""
        with self._lock:
            free = self.threads - len(self._running)
            if free <= 0 or self.stopping.is_set():
                return 0
            with session_scope(self.sessions) as session:
                claimed = jobs.claim(
                    session=session, owner=self.instance_id, limit=free, lease_seconds=self.lease_seconds
                )
            for job in claimed:
                ctx = JobContext(job, sessions=self.sessions, owner=self.instance_id, stopping=self.stopping)
                thread = threading.Thread(target=self._run_then_refill, args=(ctx,), name=f"job-{job.id}",
                                          daemon=True)
                self._running[job.id], self._threads[job.id] = ctx, thread
                thread.start()
            return len(claimed)

    def run_one(self, job_id: int) -> bool:
        """Claim one queued job by id and run it in this thread, heartbeating meanwhile; False if not queued."""
        with session_scope(self.sessions) as session:
            job = jobs.claim_one(session=session, job_id=job_id, owner=self.instance_id,
                                 lease_seconds=self.lease_seconds)
        if job is None:
            return False
        ctx = JobContext(job, sessions=self.sessions, owner=self.instance_id, stopping=self.stopping)
        with self._lock:
            self._running[job.id] = ctx
        done = threading.Event()
        beating = threading.Thread(target=self._renew_until, args=(ctx, done), name="heartbeat", daemon=True)
        beating.start()
        try:
            self._run(ctx)
        finally:
            done.set()
            beating.join()
        return True

    def _renew_until(self, ctx: JobContext, done: threading.Event) -> None:
        """Extend one job's lease until it is done (no scheduler heartbeat: this is not a scheduler)."""
        while not done.wait(settings.JOB_HEARTBEAT_SECONDS):
            try:
                with session_scope(self.sessions) as session:
                    lease = jobs.heartbeat(session=session, owner=self.instance_id, job_ids=[ctx.job.id],
                                           lease_seconds=self.lease_seconds)[ctx.job.id]
                ctx.lease_lost |= not lease.owned
                ctx.cancel_requested |= lease.cancel_requested
            except Exception:
                log.exception("renewing the lease failed; the next try may succeed")

    def _run_then_refill(self, ctx: JobContext) -> None:
        self._run(ctx)
        # A thread came free: look for more work at once rather than at the next poll.
        if not self.stopping.is_set():
            try:
                self.fill()
            except Exception:
                log.exception("claiming after a finished job failed")

    # -- running one job ------------------------------------------------------------------------

    def _run(self, ctx: JobContext) -> None:
        job = ctx.job
        try:
            self._event(ctx, "INFO", f"Started {job.source} {job.kind} (attempt {job.attempts})")
            fn = self.handlers.get((job.source, job.kind))
            if fn is None:
                raise PermanentError(
                    f"No handler for {job.source} {job.kind}",
                    hint="This scheduler is older than the job: deploy the current version.",
                )
            fn(ctx)
            ctx.raise_if_stopping()
            self._settle(ctx, jobs.succeed, "INFO", f"Finished {job.source} {job.kind}")
        except LeaseLost:
            if self.stopping.is_set():  # stop() released it after the grace period: expected, not a warning
                log.info("job %s: released at shutdown, the next scheduler resumes it", job.id)
            else:
                log.warning("job %s: lease lost, leaving it to its new owner", job.id)
        except Cancelled:
            self._settle(ctx, jobs.mark_cancelled, "WARN", f"Cancelled {job.source} {job.kind}")
        except Interrupted:
            self._settle(ctx, jobs.release, "INFO", f"Paused {job.source} {job.kind} for a scheduler restart")
        except Exception as error:  # every other failure is recorded on the job, never lost
            self._fail(ctx, error)
        finally:
            with self._lock:
                self._running.pop(job.id, None)
                self._threads.pop(job.id, None)

    def _settle(self, ctx: JobContext, finish, level: str, message: str) -> None:
        with session_scope(self.sessions) as session:
            if finish(session=session, job_id=ctx.job.id, owner=self.instance_id):
                jobs.record_event(
                    session=session, level=level, message=message, shop_id=ctx.job.shop_id, job_id=ctx.job.id
                )

    def _fail(self, ctx: JobContext, error: Exception) -> None:
        job = ctx.job
        retry_in = self.retry_delay(job, error)
        if retry_in is None:
            level, message = "ERROR", f"{job.source} {job.kind} failed: {error}"
        else:
            level, message = "WARN", f"{job.source} {job.kind} failed, retrying in {retry_in:.0f} s: {error}"
        log.log(logging.ERROR if retry_in is None else logging.WARNING, "job %s: %s", job.id, message,
                exc_info=not isinstance(error, PermanentError | ThrottledError))
        with session_scope(self.sessions) as session:
            if jobs.fail(session=session, job=job, owner=self.instance_id, error=error, retry_in=retry_in):
                jobs.record_event(
                    session=session, level=level, message=message, shop_id=job.shop_id, job_id=job.id,
                    details={"error_class": type(error).__name__, "hint": getattr(error, "hint", "")},
                )

    def retry_delay(self, job: SyncJob, error: Exception) -> float | None:
        """Seconds until the next attempt, or None when the job has failed for good."""
        if isinstance(error, ThrottledError):  # never counted against max_attempts (see jobs.fail)
            return error.retry_after
        if isinstance(error, PermanentError) or job.attempts >= job.max_attempts:
            return None
        return jobs.backoff_seconds(job.attempts, base=self.backoff_base, cap=self.backoff_max)

    def _event(self, ctx: JobContext, level: str, message: str) -> None:
        with session_scope(self.sessions) as session:
            jobs.record_event(session=session, level=level, message=message, shop_id=ctx.job.shop_id,
                              job_id=ctx.job.id)

    # -- upkeep ---------------------------------------------------------------------------------

    def beat(self) -> None:
        """Extend our leases, learn of cancellations and lost leases, and say we are alive."""
        with self._lock:
            running = dict(self._running)
        with session_scope(self.sessions) as session:
            leases = jobs.heartbeat(
                session=session, owner=self.instance_id, job_ids=list(running), lease_seconds=self.lease_seconds
            )
            self._save_heartbeat(session, jobs_running=len(running))
        for job_id, lease in leases.items():
            running[job_id].lease_lost |= not lease.owned
            running[job_id].cancel_requested |= lease.cancel_requested

    def _save_heartbeat(self, session, *, jobs_running: int) -> None:
        values = dict(
            instance_id=self.instance_id, hostname=socket.gethostname(), pid=os.getpid(),
            jobs_running=jobs_running, stopping=self.stopping.is_set(), last_seen_at=func.now(),
        )
        statement = insert(SchedulerHeartbeat).values(**values)
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["instance_id"],
                set_={k: statement.excluded[k] for k in ("jobs_running", "stopping", "last_seen_at")},
            )
        )

    def reap(self) -> None:
        """Re-queue jobs of schedulers that died (any instance may do it; SKIP LOCKED keeps it single)."""
        with session_scope(self.sessions) as session:
            for job in jobs.reap_expired(session=session):
                level = "ERROR" if job.status == "failed" else "WARN"
                jobs.record_event(
                    session=session, level=level, shop_id=job.shop_id, job_id=job.id,
                    message=f"{job.source} {job.kind}: its scheduler stopped answering; "
                    + ("out of attempts." if job.status == "failed" else "re-queued."),
                )

    def running_count(self) -> int:
        with self._lock:
            return len(self._running)

    def stop(self, *, grace_seconds: float = settings.SHUTDOWN_GRACE_SECONDS) -> None:
        """Stop claiming, let running handlers checkpoint and return, release what is left, sign off."""
        self.stopping.set()
        deadline = time.monotonic() + grace_seconds
        with self._lock:
            threads = list(self._threads.values())
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            leftover = list(self._running)
        with session_scope(self.sessions) as session:
            for job_id in leftover:  # handlers that never reached a checkpoint; their threads die with us
                jobs.release(session=session, job_id=job_id, owner=self.instance_id)
            session.execute(delete(SchedulerHeartbeat).where(SchedulerHeartbeat.instance_id == self.instance_id))
        log.info("scheduler %s stopped (%d job(s) released unfinished)", self.instance_id, len(leftover))


class Listener(threading.Thread):
    """Calls `on_notify` whenever a job is queued (LISTEN sync_jobs), until `stopping` is set."""

    def __init__(self, url: str, on_notify: Callable[[], Any], stopping: threading.Event):
        super().__init__(name="listen", daemon=True)
        self.url = url
        self.on_notify = on_notify
        self.stopping = stopping
        self.ready = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self._listen()
            except Exception:
                log.exception("LISTEN connection lost; polling covers the gap, reconnecting")
                self.stopping.wait(1)

    def _listen(self) -> None:
        conn = psycopg2.connect(self.url)
        try:
            conn.autocommit = True
            conn.cursor().execute("LISTEN sync_jobs")
            self.ready.set()
            while not self.stopping.is_set():
                if select.select([conn], [], [], 0.5)[0]:
                    conn.poll()
                    if conn.notifies:
                        conn.notifies.clear()
                        self.on_notify()
        finally:
            conn.close()
