"""The sync_jobs queue: enqueue, claim under a lease, heartbeat, finish, retry, reap, and the event log.

Every function is one short transaction's worth of SQL on the caller's session; none holds a
transaction open while a job runs. Guarded updates (`lease_owner = :owner`) mean a scheduler that
lost its lease can never overwrite the work of the one that took the job over.
"""

import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

import settings
from ingest.errors import ThrottledError
from models import LIVE_JOB_STATUSES, SyncEvent, SyncJob

LIVE = SyncJob.status.in_(LIVE_JOB_STATUSES)


def enqueue(
    *,
    session: Session,
    shop_id: int,
    source: str,
    kind: str,
    target: str = "",
    params: dict[str, Any] | None = None,
    priority: int = 0,
    delay_seconds: float = 0,
    max_attempts: int | None = None,
    requested_by: int | None = None,
) -> tuple[int, bool]:
    """Queue a job unless one is already live for (shop, source, kind, target); return (id, created)."""
    values = dict(
        shop_id=shop_id,
        source=source,
        kind=kind,
        target=target,
        params=params or {},
        priority=priority,
        max_attempts=max_attempts or settings.JOB_MAX_ATTEMPTS,
        requested_by=requested_by,
    )
    if delay_seconds:
        values["run_after"] = func.now() + timedelta(seconds=delay_seconds)
    statement = (
        insert(SyncJob)
        .values(**values)
        .on_conflict_do_nothing(
            index_elements=["shop_id", "source", "kind", "target"], index_where=LIVE
        )
        .returning(SyncJob.id)
    )
    job_id = session.execute(statement).scalar()
    if job_id is not None:
        return job_id, True
    live = select(SyncJob.id).where(
        SyncJob.shop_id == shop_id, SyncJob.source == source, SyncJob.kind == kind, SyncJob.target == target, LIVE
    )
    return session.execute(live).scalar_one(), False


def claim(*, session: Session, owner: str, limit: int, lease_seconds: float) -> list[SyncJob]:
    """Take up to `limit` due jobs for `owner`; concurrent claimers skip each other's rows."""
    due = (
        select(SyncJob.id)
        .where(SyncJob.status == "queued", SyncJob.run_after <= func.now())
        .order_by(SyncJob.priority.desc(), SyncJob.run_after, SyncJob.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("due")
    )
    statement = (
        update(SyncJob)
        .where(SyncJob.id.in_(select(due.c.id)))
        .values(
            status="running",
            attempts=SyncJob.attempts + 1,
            lease_owner=owner,
            lease_expires_at=func.now() + timedelta(seconds=lease_seconds),
            heartbeat_at=func.now(),
            started_at=func.coalesce(SyncJob.started_at, func.now()),
            updated_at=func.now(),
        )
        .returning(SyncJob)
        .execution_options(synchronize_session=False)
    )
    # RETURNING keeps no order: start the most urgent first.
    return sorted(session.scalars(statement), key=lambda job: (-job.priority, job.run_after, job.id))


def claim_one(*, session: Session, job_id: int, owner: str, lease_seconds: float) -> SyncJob | None:
    """Take one queued job by id for `owner` (a CLI running its own job); None if another took it first."""
    statement = (
        update(SyncJob)
        .where(SyncJob.id == job_id, SyncJob.status == "queued")
        .values(
            status="running", attempts=SyncJob.attempts + 1, lease_owner=owner,
            lease_expires_at=func.now() + timedelta(seconds=lease_seconds), heartbeat_at=func.now(),
            started_at=func.coalesce(SyncJob.started_at, func.now()), updated_at=func.now(),
        )
        .returning(SyncJob)
        .execution_options(synchronize_session=False)
    )
    return session.scalars(statement).first()


@dataclass(frozen=True)
class Lease:
    """What a heartbeat or checkpoint learns: do we still own the job, and should it stop?"""

    owned: bool
    cancel_requested: bool = False


def heartbeat(*, session: Session, owner: str, job_ids: list[int], lease_seconds: float) -> dict[int, Lease]:
    """Extend the leases of `owner`'s running jobs; a job missing from the answer's owned set was lost."""
    if not job_ids:
        return {}
    statement = (
        update(SyncJob)
        .where(SyncJob.id.in_(job_ids), SyncJob.lease_owner == owner, SyncJob.status == "running")
        .values(lease_expires_at=func.now() + timedelta(seconds=lease_seconds), heartbeat_at=func.now())
        .returning(SyncJob.id, SyncJob.cancel_requested_at)
        .execution_options(synchronize_session=False)
    )
    found = {row.id: Lease(True, row.cancel_requested_at is not None) for row in session.execute(statement)}
    return {job_id: found.get(job_id, Lease(False)) for job_id in job_ids}


def checkpoint(
    *,
    session: Session,
    job_id: int,
    owner: str,
    state: dict[str, Any] | None = None,
    done: int | None = None,
    total: int | None = None,
    label: str | None = None,
) -> Lease:
    """Save progress and the resume state of a running job we own."""
    values: dict[str, Any] = {"updated_at": func.now(), "heartbeat_at": func.now()}
    if state is not None:
        values["state"] = state
    if done is not None:
        values["progress_done"] = done
    if total is not None:
        values["progress_total"] = total
    if label is not None:
        values["progress_label"] = label
    statement = (
        update(SyncJob)
        .where(SyncJob.id == job_id, SyncJob.lease_owner == owner, SyncJob.status == "running")
        .values(**values)
        .returning(SyncJob.cancel_requested_at)
        .execution_options(synchronize_session=False)
    )
    row = session.execute(statement).first()
    return Lease(False) if row is None else Lease(True, row.cancel_requested_at is not None)


def _finish(session: Session, job_id: int, owner: str, **values: Any) -> bool:
    statement = (
        update(SyncJob)
        .where(SyncJob.id == job_id, SyncJob.lease_owner == owner, SyncJob.status == "running")
        .values(lease_owner=None, lease_expires_at=None, updated_at=func.now(), **values)
        .returning(SyncJob.id)
        .execution_options(synchronize_session=False)
    )
    return session.execute(statement).first() is not None


def succeed(*, session: Session, job_id: int, owner: str) -> bool:
    """Mark a job we own as done."""
    return _finish(
        session, job_id, owner, status="succeeded", finished_at=func.now(),
        error_class=None, error_message=None, error_hint=None,
    )


def mark_cancelled(*, session: Session, job_id: int, owner: str) -> bool:
    """A running job we own stopped because someone cancelled it."""
    return _finish(session, job_id, owner, status="cancelled", finished_at=func.now())


def release(*, session: Session, job_id: int, owner: str) -> bool:
    """Give a job back to the queue at once, not counting this attempt (the scheduler is stopping)."""
    return _finish(session, job_id, owner, status="queued", run_after=func.now(), attempts=SyncJob.attempts - 1)


def fail(
    *, session: Session, job: SyncJob, owner: str, error: BaseException, retry_in: float | None
) -> bool:
    """Record a failure: back to the queue after `retry_in` seconds, or failed for good when None."""
    details = dict(
        error_class=type(error).__name__,
        error_message=str(error)[:2000],
        error_hint=getattr(error, "hint", "") or None,
    )
    if retry_in is None:
        return _finish(session, job.id, owner, status="failed", finished_at=func.now(), **details)
    if isinstance(error, ThrottledError):  # waiting as the API asks is not a failed attempt
        details["attempts"] = SyncJob.attempts - 1
    return _finish(
        session, job.id, owner, status="queued", run_after=func.now() + timedelta(seconds=retry_in), **details
    )


def cancel(*, session: Session, job_id: int) -> str | None:
    """Cancel a job: a queued one at once, a running one at its next checkpoint. Return its status."""
    queued = (
        update(SyncJob)
        .where(SyncJob.id == job_id, SyncJob.status == "queued")
        .values(status="cancelled", finished_at=func.now(), updated_at=func.now())
        .returning(SyncJob.status)
        .execution_options(synchronize_session=False)
    )
    status = session.execute(queued).scalar()
    if status is None:
        running = (
            update(SyncJob)
            .where(SyncJob.id == job_id, SyncJob.status == "running")
            .values(cancel_requested_at=func.coalesce(SyncJob.cancel_requested_at, func.now()))
            .returning(SyncJob.status)
            .execution_options(synchronize_session=False)
        )
        status = session.execute(running).scalar()
    return status


def reap_expired(*, session: Session) -> list[SyncJob]:
    """Re-queue running jobs whose lease expired (their scheduler died); fail those out of attempts."""
    expired = (
        select(SyncJob.id)
        .where(SyncJob.status == "running", SyncJob.lease_expires_at < func.now())
        .with_for_update(skip_locked=True)
        .cte("expired")
    )
    out_of_attempts = SyncJob.attempts >= SyncJob.max_attempts
    statement = (
        update(SyncJob)
        .where(SyncJob.id.in_(select(expired.c.id)))
        .values(
            status=case((out_of_attempts, "failed"), else_="queued"),
            finished_at=case((out_of_attempts, func.now()), else_=None),
            run_after=func.now(),
            lease_owner=None,
            lease_expires_at=None,
            error_class="LeaseExpired",
            error_message="The scheduler running this job stopped answering.",
            error_hint="Nothing to do: another scheduler picks the job up and resumes it.",
            updated_at=func.now(),
        )
        .returning(SyncJob)
        .execution_options(synchronize_session=False)
    )
    return list(session.scalars(statement))


def backoff_seconds(attempt: int, *, base: float, cap: float, rand=random.random) -> float:
    """Exponential backoff with equal jitter: half of base*2^(attempt-1) fixed, half random, capped."""
    ceiling = min(cap, base * 2 ** max(attempt - 1, 0))
    return ceiling / 2 + rand() * ceiling / 2


def record_event(
    *,
    session: Session,
    level: str,
    message: str,
    shop_id: int | None = None,
    job_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append a line to the live event log."""
    session.add(SyncEvent(level=level, message=message, shop_id=shop_id, job_id=job_id, details=details or {}))


def get(*, session: Session, job_id: int) -> SyncJob | None:
    """Return a job by id."""
    return session.get(SyncJob, job_id)

