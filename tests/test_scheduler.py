"""The scheduler process itself: several at once, SIGKILL mid-job, SIGTERM within the bound."""

import signal
import time

from sqlalchemy import text

from database import session_scope
from ingest import jobs
from tests.conftest import wait_for


def _enqueue(sessions, shop_id, kind, **kwargs):
    with session_scope(sessions) as session:
        return jobs.enqueue(session=session, shop_id=shop_id, source="upload", kind=kind, **kwargs)[0]


def _one(sessions, sql, **params):
    with session_scope(sessions) as session:
        return session.execute(text(sql), params).one()


def _job(sessions, job_id):
    with session_scope(sessions) as session:
        return jobs.get(session=session, job_id=job_id)


def test_three_processes_run_every_job_exactly_once(spawn, scheduler_sessions, make_shop):
    shop = make_shop()
    for _ in range(3):
        spawn()
    # All three compete for the jobs: on a busy machine one could still be starting when the last job is done.
    wait_for(lambda: _one(scheduler_sessions, "SELECT count(*) FROM app_dashboard.scheduler_heartbeats")[0] == 3,
             timeout=60, what="three schedulers to beat")
    ids = [_enqueue(scheduler_sessions, shop, "TEST_RECORD", target=str(i), params={"work_seconds": 0.02})
           for i in range(60)]
    wait_for(lambda: _one(scheduler_sessions, "SELECT count(*) FROM app_dashboard.sync_jobs "
                                              "WHERE status = 'succeeded'")[0] == len(ids),
             timeout=60, what="every job to succeed")
    ran, distinct, owners = _one(scheduler_sessions, """
        SELECT count(*), count(DISTINCT job_id), count(DISTINCT details->>'attempt')
        FROM app_dashboard.sync_events WHERE message = 'ran'""")
    assert (ran, distinct, owners) == (60, 60, 1)
    instances = _one(scheduler_sessions, "SELECT count(DISTINCT lease_owner) FROM app_dashboard.sync_jobs")[0]
    assert instances == 0  # finished jobs hold no lease
    busy = _one(scheduler_sessions, "SELECT count(*) FROM app_dashboard.scheduler_heartbeats")[0]
    assert busy == 3


def test_a_job_of_a_killed_process_is_requeued_and_finished_by_another(spawn, scheduler_sessions, make_shop):
    victim = spawn()
    job_id = _enqueue(scheduler_sessions, make_shop(), "TEST_STEPS",
                      params={"steps": 20, "step_seconds": 0.02, "block_on_first_attempt": True})
    wait_for(lambda: _job(scheduler_sessions, job_id).progress_done >= 20, what="the first attempt's progress")
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    spawn()
    job = wait_for(lambda: (j := _job(scheduler_sessions, job_id)).status == "succeeded" and j,
                   timeout=30, what="another scheduler to finish the job")
    assert job.attempts == 2
    ran = _one(scheduler_sessions, "SELECT count(*), min((details->>'resumed_from')::int) "
                                   "FROM app_dashboard.sync_events WHERE job_id = :j AND message = 'ran'", j=job_id)
    assert tuple(ran) == (1, 20)  # ran once in all, resuming from the dead process's checkpoint
    reaped = _one(scheduler_sessions, "SELECT count(*) FROM app_dashboard.sync_events "
                                      "WHERE job_id = :j AND message LIKE '%%stopped answering%%'", j=job_id)[0]
    assert reaped == 1


def test_sigterm_checkpoints_releases_and_exits_well_inside_the_bound(spawn, scheduler_sessions, make_shop):
    child = spawn()
    job_id = _enqueue(scheduler_sessions, make_shop(), "TEST_STEPS", params={"steps": 10_000, "step_seconds": 0.01})
    wait_for(lambda: _job(scheduler_sessions, job_id).progress_done >= 5, what="progress")
    started = time.monotonic()
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=25) == 0
    elapsed = time.monotonic() - started
    job = _job(scheduler_sessions, job_id)
    assert elapsed < 5, f"took {elapsed:.1f} s"
    assert (job.status, job.attempts, job.lease_owner) == ("queued", 0, None) and job.state["step"] >= 5
    assert _one(scheduler_sessions, "SELECT count(*) FROM app_dashboard.scheduler_heartbeats")[0] == 0


def test_sigterm_with_a_handler_that_never_checkpoints_still_exits_in_time(spawn, scheduler_sessions, make_shop):
    child = spawn(SHUTDOWN_GRACE_SECONDS="2")
    job_id = _enqueue(scheduler_sessions, make_shop(), "TEST_RECORD", params={"work_seconds": 120})
    wait_for(lambda: _job(scheduler_sessions, job_id).status == "running", what="the job to start")
    started = time.monotonic()
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=25) == 0
    assert time.monotonic() - started < 2 + 3
    job = _job(scheduler_sessions, job_id)
    assert (job.status, job.attempts) == ("queued", 0)
