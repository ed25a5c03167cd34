"""The queue's SQL: enqueue dedupe, claim, leases, guarded finishes, retries, cancel, reaping."""

import random
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text, update

from database import session_scope
from ingest import jobs
from ingest.errors import TransientError
from models import SyncJob


def _enqueue(sessions, shop_id, kind="TEST_RECORD", **kwargs):
    with session_scope(sessions) as session:
        return jobs.enqueue(session=session, shop_id=shop_id, source="upload", kind=kind, **kwargs)


def _claim(sessions, owner="w1", limit=10, lease_seconds=60):
    with session_scope(sessions) as session:
        return jobs.claim(session=session, owner=owner, limit=limit, lease_seconds=lease_seconds)


def _job(sessions, job_id) -> SyncJob:
    with session_scope(sessions) as session:
        return jobs.get(session=session, job_id=job_id)


def test_enqueue_keeps_one_live_job_per_shop_source_kind_and_target(scheduler_sessions, make_shop):
    shop = make_shop()
    first, created = _enqueue(scheduler_sessions, shop)
    again, created_again = _enqueue(scheduler_sessions, shop)
    other_target, _ = _enqueue(scheduler_sessions, shop, target="act_1")
    assert created and not created_again and again == first and other_target != first
    _claim(scheduler_sessions)  # running is still live
    assert _enqueue(scheduler_sessions, shop) == (first, False)


def test_a_finished_job_does_not_block_a_new_one(scheduler_sessions, make_shop):
    shop = make_shop()
    job_id, _ = _enqueue(scheduler_sessions, shop)
    _claim(scheduler_sessions)
    with session_scope(scheduler_sessions) as session:
        assert jobs.succeed(session=session, job_id=job_id, owner="w1")
    new_id, created = _enqueue(scheduler_sessions, shop)
    assert created and new_id != job_id


def test_concurrent_enqueues_create_one_job(scheduler_sessions, make_shop):
    shop = make_shop()
    barrier = threading.Barrier(8)
    results = []

    def request():
        barrier.wait()
        results.append(_enqueue(scheduler_sessions, shop))

    threads = [threading.Thread(target=request) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({job_id for job_id, _ in results}) == 1
    assert sum(created for _, created in results) == 1


def test_claim_takes_due_jobs_by_priority_and_sets_the_lease(scheduler_sessions, make_shop):
    shop = make_shop()
    low, _ = _enqueue(scheduler_sessions, shop, kind="A")
    high, _ = _enqueue(scheduler_sessions, shop, kind="B", priority=5)
    _enqueue(scheduler_sessions, shop, kind="C", delay_seconds=3600)
    claimed = _claim(scheduler_sessions, limit=10, lease_seconds=30)
    assert [job.id for job in claimed] == [high, low]
    job = claimed[0]
    assert job.status == "running" and job.attempts == 1 and job.lease_owner == "w1"
    assert timedelta(seconds=25) < job.lease_expires_at - job.heartbeat_at <= timedelta(seconds=30)
    assert _claim(scheduler_sessions, owner="w2") == []


def test_concurrent_claimers_never_take_the_same_job(scheduler_sessions, make_shop):
    shop = make_shop()
    for i in range(60):
        _enqueue(scheduler_sessions, shop, kind=f"K{i}")
    barrier = threading.Barrier(6)
    taken: list[int] = []

    def claimer(owner):
        barrier.wait()
        while batch := _claim(scheduler_sessions, owner=owner, limit=random.randint(1, 4)):
            taken.extend(job.id for job in batch)

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(taken) == 60 and len(set(taken)) == 60


def test_finishing_is_guarded_by_the_lease_owner(scheduler_sessions, make_shop):
    job_id, _ = _enqueue(scheduler_sessions, make_shop())
    _claim(scheduler_sessions, owner="w1")
    with session_scope(scheduler_sessions) as session:
        assert not jobs.succeed(session=session, job_id=job_id, owner="impostor")
        assert not jobs.checkpoint(session=session, job_id=job_id, owner="impostor", done=5).owned
        assert jobs.checkpoint(session=session, job_id=job_id, owner="w1", done=5, total=9, state={"k": 1}).owned
        assert jobs.succeed(session=session, job_id=job_id, owner="w1")
    job = _job(scheduler_sessions, job_id)
    assert (job.status, job.progress_done, job.progress_total, job.state) == ("succeeded", 5, 9, {"k": 1})
    assert job.finished_at is not None and job.lease_owner is None


def test_heartbeat_extends_owned_leases_and_reports_lost_ones(scheduler_sessions, make_shop):
    shop = make_shop()
    mine, _ = _enqueue(scheduler_sessions, shop, kind="A")
    _claim(scheduler_sessions, owner="w1", lease_seconds=5)
    with session_scope(scheduler_sessions) as session:
        leases = jobs.heartbeat(session=session, owner="w1", job_ids=[mine, 999], lease_seconds=120)
    assert leases[mine].owned and not leases[999].owned
    job = _job(scheduler_sessions, mine)
    assert job.lease_expires_at - job.heartbeat_at > timedelta(seconds=100)


def test_fail_requeues_with_delay_or_fails_for_good(scheduler_sessions, make_shop):
    job_id, _ = _enqueue(scheduler_sessions, make_shop())
    (job,) = _claim(scheduler_sessions)
    error = TransientError("502", hint="retrying")
    with session_scope(scheduler_sessions) as session:
        jobs.fail(session=session, job=job, owner="w1", error=error, retry_in=300)
    job = _job(scheduler_sessions, job_id)
    assert job.status == "queued" and job.error_class == "TransientError" and job.error_hint == "retrying"
    assert _claim(scheduler_sessions) == []  # not due for five minutes
    with session_scope(scheduler_sessions) as session:
        session.execute(update(SyncJob).values(run_after=func.now()))
    (job,) = _claim(scheduler_sessions)
    assert job.attempts == 2
    with session_scope(scheduler_sessions) as session:
        jobs.fail(session=session, job=job, owner="w1", error=error, retry_in=None)
    job = _job(scheduler_sessions, job_id)
    assert job.status == "failed" and job.finished_at is not None


def test_cancel_stops_a_queued_job_now_and_flags_a_running_one(scheduler_sessions, make_shop):
    shop = make_shop()
    queued, _ = _enqueue(scheduler_sessions, shop, kind="A", delay_seconds=60)
    running, _ = _enqueue(scheduler_sessions, shop, kind="B")
    _claim(scheduler_sessions)
    with session_scope(scheduler_sessions) as session:
        assert jobs.cancel(session=session, job_id=queued) == "cancelled"
        assert jobs.cancel(session=session, job_id=running) == "running"
        assert jobs.checkpoint(session=session, job_id=running, owner="w1").cancel_requested
        assert jobs.cancel(session=session, job_id=queued) is None  # already over


def test_reaper_requeues_expired_leases_and_fails_jobs_out_of_attempts(scheduler_sessions, make_shop):
    shop = make_shop()
    retry, _ = _enqueue(scheduler_sessions, shop, kind="A")
    last, _ = _enqueue(scheduler_sessions, shop, kind="B", max_attempts=1)
    healthy, _ = _enqueue(scheduler_sessions, shop, kind="C")
    _claim(scheduler_sessions, owner="dead")
    with session_scope(scheduler_sessions) as session:
        session.execute(update(SyncJob).where(SyncJob.id != healthy)
                        .values(lease_expires_at=func.now() - timedelta(seconds=1)))
        reaped = {job.id: job.status for job in jobs.reap_expired(session=session)}
    assert reaped == {retry: "queued", last: "failed"}
    assert _job(scheduler_sessions, healthy).status == "running"
    assert _job(scheduler_sessions, retry).error_class == "LeaseExpired"
    assert [job.id for job in _claim(scheduler_sessions, owner="alive")] == [retry]


def test_release_returns_a_job_without_spending_an_attempt(scheduler_sessions, make_shop):
    job_id, _ = _enqueue(scheduler_sessions, make_shop())
    _claim(scheduler_sessions)
    with session_scope(scheduler_sessions) as session:
        assert jobs.release(session=session, job_id=job_id, owner="w1")
    job = _job(scheduler_sessions, job_id)
    assert (job.status, job.attempts, job.lease_owner) == ("queued", 0, None)


def _next_notification(listener, timeout=5.0) -> str:
    """Wait on the LISTEN connection's socket for the next notification's payload."""
    import select

    deadline = time.monotonic() + timeout
    while not listener.notifies:
        remaining = deadline - time.monotonic()
        assert remaining > 0, "no notification arrived"
        select.select([listener], [], [], remaining)
        listener.poll()
    return listener.notifies.pop(0).payload


def test_enqueue_notifies_listeners_at_commit_and_only_for_due_jobs(scheduler_sessions, db_url, make_shop):
    import psycopg2

    shop = make_shop()
    listener = psycopg2.connect(db_url)
    listener.autocommit = True
    listener.cursor().execute("LISTEN sync_jobs")
    job_id, _ = _enqueue(scheduler_sessions, shop)
    assert _next_notification(listener) == str(job_id)
    _enqueue(scheduler_sessions, shop, kind="LATER", delay_seconds=60)  # not due: nobody to wake
    due_id, _ = _enqueue(scheduler_sessions, shop, kind="NOW")
    # Notifications arrive in commit order, so had the future job notified, its id would come first.
    assert _next_notification(listener) == str(due_id)
    listener.close()


@pytest.mark.parametrize("attempt,low,high", [(1, 15, 30), (2, 30, 60), (3, 60, 120), (10, 1800, 3600)])
def test_backoff_grows_exponentially_with_jitter_and_a_cap(attempt, low, high):
    floor = jobs.backoff_seconds(attempt, base=30, cap=3600, rand=lambda: 0.0)
    ceiling = jobs.backoff_seconds(attempt, base=30, cap=3600, rand=lambda: 1.0)
    assert (floor, ceiling) == (low, high)
    samples = {jobs.backoff_seconds(attempt, base=30, cap=3600) for _ in range(20)}
    assert len(samples) > 1 and all(low <= s <= high for s in samples)


def test_record_event_appends_to_the_log(scheduler_sessions, make_shop):
    shop = make_shop()
    with session_scope(scheduler_sessions) as session:
        jobs.record_event(session=session, level="WARN", message="slow", shop_id=shop, details={"n": 1})
    with session_scope(scheduler_sessions) as session:
        row = session.execute(text("SELECT level, message, details FROM app_dashboard.sync_events")).one()
        assert tuple(row) == ("WARN", "slow", {"n": 1})
        assert session.scalar(select(func.count()).select_from(SyncJob)) == 0
