"""The worker: runs claimed jobs through their handlers, retries, cancels, drains, and gives way."""

import logging
import threading

import pytest
from sqlalchemy import func, select, text, update

import tests.handlers  # noqa: F401  (registers the TEST_ handlers)
from database import session_scope
from ingest import jobs
from ingest.runner import Worker
from models import SchedulerHeartbeat, SyncEvent, SyncJob
from tests.conftest import wait_for


@pytest.fixture
def worker(scheduler_sessions):
    worker = Worker(scheduler_sessions, threads=2, lease_seconds=30, backoff_base=0.01, backoff_max=0.05)
    yield worker
    worker.stop(grace_seconds=5)


def _enqueue(sessions, shop_id, kind, **kwargs):
    with session_scope(sessions) as session:
        return jobs.enqueue(session=session, shop_id=shop_id, source="upload", kind=kind, **kwargs)[0]


def _job(sessions, job_id) -> SyncJob:
    with session_scope(sessions) as session:
        return jobs.get(session=session, job_id=job_id)


def _wait_status(sessions, job_id, *statuses, worker=None, timeout=20):
    def settled():
        if worker is not None:
            worker.fill()
        job = _job(sessions, job_id)
        return job if job.status in statuses else None

    return wait_for(settled, timeout=timeout, what=f"job {job_id} to be {statuses}")


def _messages(sessions, job_id):
    with session_scope(sessions) as session:
        return list(session.scalars(select(SyncEvent.message).where(SyncEvent.job_id == job_id)
                                    .order_by(SyncEvent.id)))


def test_a_job_runs_to_success_with_its_events(worker, scheduler_sessions, make_shop):
    job_id = _enqueue(scheduler_sessions, make_shop(), "TEST_STEPS", params={"steps": 3, "step_seconds": 0})
    assert worker.fill() == 1
    job = _wait_status(scheduler_sessions, job_id, "succeeded")
    assert (job.progress_done, job.progress_total, job.progress_label, job.state) == (3, 3, "Testing", {"step": 3})
    assert _messages(scheduler_sessions, job_id) == [
        "Started upload TEST_STEPS (attempt 1)", "ran", "Finished upload TEST_STEPS"]


def test_transient_errors_retry_with_backoff_until_max_attempts(worker, scheduler_sessions, make_shop):
    job_id = _enqueue(scheduler_sessions, make_shop(), "TEST_FAIL", max_attempts=3)
    job = _wait_status(scheduler_sessions, job_id, "failed", worker=worker)
    assert (job.attempts, job.error_class, job.error_message) == (3, "TransientError", "502 from upstream")
    levels = [m.split(" ")[0] for m in _messages(scheduler_sessions, job_id) if "failed" in m]
    assert len(levels) == 3


def test_a_permanent_error_fails_at_once_with_its_hint(worker, scheduler_sessions, make_shop):
    job_id = _enqueue(scheduler_sessions, make_shop(), "TEST_FAIL", params={"error": "permanent"})
    worker.fill()
    job = _wait_status(scheduler_sessions, job_id, "failed")
    assert (job.attempts, job.error_class, job.error_hint) == (1, "PermanentError", "Reconnect the store in Settings.")


def test_an_unexpected_exception_is_retried_not_lost(worker, scheduler_sessions, make_shop):
    job_id = _enqueue(scheduler_sessions, make_shop(), "TEST_FAIL", params={"error": "crash"}, max_attempts=2)
    job = _wait_status(scheduler_sessions, job_id, "failed", worker=worker)
    assert (job.attempts, job.error_class) == (2, "ZeroDivisionError")


def test_throttling_waits_as_long_as_the_api_says(worker, scheduler_sessions, make_shop):
    job_id = _enqueue(scheduler_sessions, make_shop(), "TEST_FAIL", params={"error": "throttled", "retry_after": 90})
    worker.fill()
    _wait_status(scheduler_sessions, job_id, "queued")
    with session_scope(scheduler_sessions) as session:
        wait = session.scalar(select(func.extract("epoch", SyncJob.run_after - func.now())))
    assert 80 < float(wait) <= 90
    assert _job(scheduler_sessions, job_id).attempts == 0  # waiting as asked spends no attempt


def test_a_job_without_a_handler_fails_with_a_hint(worker, scheduler_sessions, make_shop):
    job_id = _enqueue(scheduler_sessions, make_shop(), "NO_SUCH_KIND")
    worker.fill()
    job = _wait_status(scheduler_sessions, job_id, "failed")
    assert job.error_class == "PermanentError" and "deploy" in job.error_hint


def test_cancel_stops_a_running_job_at_its_next_checkpoint(worker, scheduler_sessions, make_shop):
    job_id = _enqueue(scheduler_sessions, make_shop(), "TEST_STEPS", params={"steps": 10_000, "step_seconds": 0.01})
    worker.fill()
    wait_for(lambda: _job(scheduler_sessions, job_id).progress_done >= 3, what="progress")
    with session_scope(scheduler_sessions) as session:
        assert jobs.cancel(session=session, job_id=job_id) == "running"
    job = _wait_status(scheduler_sessions, job_id, "cancelled")
    assert 3 <= job.progress_done < 10_000 and job.finished_at is not None
    assert _messages(scheduler_sessions, job_id)[-1] == "Cancelled upload TEST_STEPS"


def test_stop_releases_a_running_job_which_resumes_from_its_state(scheduler_sessions, make_shop):
    job_id = _enqueue(scheduler_sessions, make_shop(), "TEST_STEPS", params={"steps": 200, "step_seconds": 0.01})
    first = Worker(scheduler_sessions, threads=1)
    first.fill()
    wait_for(lambda: _job(scheduler_sessions, job_id).progress_done >= 5, what="progress")
    first.stop(grace_seconds=5)
    job = _job(scheduler_sessions, job_id)
    assert job.status == "queued" and job.attempts == 0 and job.state["step"] >= 5
    second = Worker(scheduler_sessions, threads=1)
    second.fill()
    _wait_status(scheduler_sessions, job_id, "succeeded")
    second.stop()
    with session_scope(scheduler_sessions) as session:
        resumed = session.scalar(select(SyncEvent.details["resumed_from"].as_integer())
                                 .where(SyncEvent.job_id == job_id, SyncEvent.message == "ran"))
    assert resumed >= 5


def test_a_worker_that_lost_its_lease_stops_without_overwriting(worker, scheduler_sessions, make_shop):
    job_id = _enqueue(scheduler_sessions, make_shop(), "TEST_STEPS", params={"steps": 10_000, "step_seconds": 0.01})
    worker.fill()
    wait_for(lambda: _job(scheduler_sessions, job_id).progress_done >= 2, what="progress")
    with session_scope(scheduler_sessions) as session:  # another scheduler reaped and re-claimed it
        session.execute(update(SyncJob).where(SyncJob.id == job_id).values(lease_owner="other", progress_done=0))
    wait_for(lambda: worker.running_count() == 0, what="the handler to give up")
    job = _job(scheduler_sessions, job_id)
    assert (job.status, job.lease_owner, job.progress_done) == ("running", "other", 0)


def test_a_job_released_at_shutdown_says_so_without_a_warning(scheduler_sessions, make_shop, caplog):
    job_id = _enqueue(scheduler_sessions, make_shop(), "TEST_STEPS", params={"steps": 10, "step_seconds": 1})
    worker = Worker(scheduler_sessions, threads=1)
    worker.fill()
    wait_for(lambda: _job(scheduler_sessions, job_id).status == "running", what="the job to start")
    with caplog.at_level(logging.INFO, logger="ingest.runner"):
        worker.stop(grace_seconds=0)  # the handler is mid-step: released without reaching a checkpoint
        wait_for(lambda: worker.running_count() == 0, what="the handler to give up")
    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING] == []
    assert f"job {job_id}: released at shutdown, the next scheduler resumes it" in caplog.messages
    assert _job(scheduler_sessions, job_id).status == "queued"


def test_threads_of_several_workers_run_every_job_exactly_once(scheduler_sessions, make_shop):
    shops = [make_shop() for _ in range(3)]
    ids = [_enqueue(scheduler_sessions, shops[i % 3], "TEST_RECORD", target=str(i), params={"work_seconds": 0.01})
           for i in range(45)]
    workers = [Worker(scheduler_sessions, threads=3) for _ in range(3)]
    stop = threading.Event()

    def keep_filling(w):
        while not stop.is_set():
            w.fill()
            stop.wait(0.01)

    threads = [threading.Thread(target=keep_filling, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    wait_for(lambda: scalar_count(scheduler_sessions, "status = 'succeeded'") == len(ids), what="all jobs")
    stop.set()
    for t in threads:
        t.join()
    for w in workers:
        w.stop()
    with session_scope(scheduler_sessions) as session:
        runs = session.execute(text("SELECT job_id, count(*) FROM app_dashboard.sync_events "
                                    "WHERE message = 'ran' GROUP BY job_id")).all()
    assert sorted(job_id for job_id, _ in runs) == sorted(ids)
    assert {count for _, count in runs} == {1}


def scalar_count(sessions, where):
    with session_scope(sessions) as session:
        return session.scalar(text(f"SELECT count(*) FROM app_dashboard.sync_jobs WHERE {where}"))


def test_beat_records_the_instance_and_stop_removes_it(scheduler_sessions):
    worker = Worker(scheduler_sessions, threads=1)
    worker.beat()
    with session_scope(scheduler_sessions) as session:
        row = session.get(SchedulerHeartbeat, worker.instance_id)
        assert (row.jobs_running, row.stopping) == (0, False)
    worker.stop()
    with session_scope(scheduler_sessions) as session:
        assert session.get(SchedulerHeartbeat, worker.instance_id) is None
