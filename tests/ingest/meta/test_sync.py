"""Backfill and incremental jobs against the sandbox over HTTP: the warehouse ends equal to the sandbox's truth."""

import signal
from datetime import timedelta

import pytest
from sqlalchemy import text, update

import settings
from database import session_scope
from ingest import jobs
from ingest.meta.client import TOKEN_HINT
from ingest.meta.sync import RESTATED
from ingest.runner import Worker
from models import SyncCursor, SyncJob
from tests.conftest import wait_for
from tests.ingest.meta.conftest import (
    account_today,
    assert_matches_truth,
    count,
    job,
    link,
    one_day_later,
    settle,
    truth,
    warehouse,
)


def _incremental(sessions, shop_id, account_id):
    with session_scope(sessions) as session:
        return jobs.enqueue(session=session, shop_id=shop_id, source="meta", kind="INCREMENTAL",
                            target=account_id)[0]


def _backfill(sessions, shop_id, account_id, days):
    with session_scope(sessions) as session:
        return jobs.enqueue(session=session, shop_id=shop_id, source="meta", kind="HISTORICAL_INIT",
                            target=account_id, params={"days": days})[0]


def _forget_restatement(sessions):
    """A day passes on our side too: the trailing window was last pulled yesterday."""
    with session_scope(sessions) as session:
        for cursor in session.query(SyncCursor).filter(SyncCursor.resource == RESTATED):
            cursor.cursor_value = (cursor.cursor_at.date() - timedelta(days=1)).isoformat()


def test_backfill_and_incremental_equal_the_truth_per_account_campaign_and_day(
        scheduler_sessions, make_shop, worker, sandbox, clock, store):
    shop_id = make_shop(store.spec.domain)
    backfills = [link(scheduler_sessions, shop_id, spec) for spec in store.spec.ad_accounts]
    assert len(backfills) == 2
    for job_id in backfills:
        done = settle(scheduler_sessions, job_id, worker, "succeeded", "failed")
        assert done.status == "succeeded", done.error_message
        assert done.progress_done == done.progress_total == 731
    for spec in store.spec.ad_accounts:
        today = account_today(sandbox, clock, spec.account_id)
        assert_matches_truth(scheduler_sessions, sandbox, clock, spec.account_id, today - timedelta(days=730), today)
        # the same day's INCREMENTAL pulls today only: the backfill has just pulled the trailing window
        incremental = settle(scheduler_sessions, _incremental(scheduler_sessions, shop_id, spec.account_id), worker,
                             "succeeded", "failed")
        assert incremental.status == "succeeded" and incremental.state["since"] == today.isoformat()
        assert_matches_truth(scheduler_sessions, sandbox, clock, spec.account_id, store.spec.start, today)
    currencies = count(scheduler_sessions, "SELECT string_agg(DISTINCT currency, ',') "
                                           "FROM core_warehouse.fact_marketing_campaign_daily")
    assert currencies == "USD"


def test_a_restated_conversion_20_days_back_is_picked_up_by_the_next_daily_sync(
        scheduler_sessions, make_shop, worker, sandbox, clock, big_account):
    spec = big_account
    shop_id = make_shop()
    settle(scheduler_sessions, link(scheduler_sessions, shop_id, spec), worker, "succeeded")
    today = account_today(sandbox, clock, spec.account_id)
    window = (today - timedelta(days=27), today)
    one_day_later(clock)
    stale = warehouse(scheduler_sessions, spec.account_id, *window)
    restated = truth(sandbox, clock, spec.account_id, *window)
    changed = {key for key in restated if restated[key] != stale.get(key)}
    # the sandbox's day is now today + 1: a conversion on the day 20 days back has just been reported
    assert today - timedelta(days=19) in {day for _, day in changed}
    _forget_restatement(scheduler_sessions)
    incremental = settle(scheduler_sessions, _incremental(scheduler_sessions, shop_id, spec.account_id), worker,
                         "succeeded")
    assert incremental.state["since"] == (today - timedelta(days=28)).isoformat()
    assert_matches_truth(scheduler_sessions, sandbox, clock, spec.account_id, *window)


def test_a_second_run_changes_nothing(scheduler_sessions, make_shop, worker, sandbox, clock, store):
    spec = store.spec.ad_accounts[1]
    shop_id = make_shop(store.spec.domain)
    settle(scheduler_sessions, link(scheduler_sessions, shop_id, spec), worker, "succeeded")
    snapshot = "SELECT md5(string_agg(xmin::text || f::text, ',' ORDER BY campaign_id, date)) " \
               "FROM core_warehouse.fact_marketing_campaign_daily f"
    before = count(scheduler_sessions, snapshot), count(scheduler_sessions, "SELECT count(*) FROM "
                                                                             "core_warehouse.fact_marketing_daily")
    again = settle(scheduler_sessions, _backfill(scheduler_sessions, shop_id, spec.account_id, 730), worker,
                   "succeeded")
    assert again.state["cursor"] < again.state["since"]
    after = count(scheduler_sessions, snapshot), count(scheduler_sessions, "SELECT count(*) FROM "
                                                                           "core_warehouse.fact_marketing_daily")
    assert before == after  # same rows, same values, not even rewritten (xmin unchanged)


def test_an_interrupted_backfill_resumes_from_its_checkpoint(scheduler_sessions, make_shop, sandbox, clock, store,
                                                            monkeypatch):
    monkeypatch.setattr(settings, "META_CHUNK_DAYS", 20)
    spec = store.spec.ad_accounts[0]
    shop_id = make_shop(store.spec.domain)
    job_id = link(scheduler_sessions, shop_id, spec)
    first = Worker(scheduler_sessions, threads=1)
    sandbox.world.meta_faults.set(spec.account_id, "slow", 0.05)
    first.fill()
    wait_for(lambda: job(scheduler_sessions, job_id).progress_done >= 60, what="a few chunks")
    first.stop(grace_seconds=10)
    paused = job(scheduler_sessions, job_id)
    assert paused.status == "queued" and paused.state["cursor"] < paused.state["until"]
    sandbox.world.meta_faults.clear()
    second = Worker(scheduler_sessions, threads=1)
    try:
        done = settle(scheduler_sessions, job_id, second, "succeeded")
    finally:
        second.stop()
    assert done.attempts == 1  # a release does not count as an attempt
    messages = [m for (m,) in _messages(scheduler_sessions, job_id) if "backfill" in m]
    assert messages[0].startswith("Starting") and messages[1].startswith(f"Resuming Meta backfill of "
                                                                         f"{spec.account_id}")
    today = account_today(sandbox, clock, spec.account_id)
    assert_matches_truth(scheduler_sessions, sandbox, clock, spec.account_id, today - timedelta(days=730), today)


def _messages(sessions, job_id):
    with session_scope(sessions) as session:
        return session.execute(text("SELECT message FROM app_dashboard.sync_events WHERE job_id = :j ORDER BY id"),
                               {"j": job_id}).all()


@pytest.mark.parametrize("code", [4, 17, 613, 80000, 80004])
def test_throttling_puts_the_job_back_for_as_long_as_meta_says(code, scheduler_sessions, make_shop, worker, sandbox,
                                                               clock, store):
    spec = store.spec.ad_accounts[0]
    shop_id = make_shop(store.spec.domain)
    link(scheduler_sessions, shop_id, spec)
    sandbox.world.meta_faults.set(spec.account_id, "throttle", 1, code=code, regain_minutes=2)
    job_id = _incremental(scheduler_sessions, shop_id, spec.account_id)
    with session_scope(scheduler_sessions) as session:  # only the INCREMENTAL runs in this test
        session.execute(update(SyncJob).where(SyncJob.kind == "HISTORICAL_INIT").values(status="cancelled"))
    worker.fill()
    waiting = settle(scheduler_sessions, job_id, worker, "queued")
    assert waiting.error_class == "ThrottledError" and str(code) in waiting.error_message
    wait = count(scheduler_sessions, "SELECT extract(epoch FROM run_after - now()) FROM app_dashboard.sync_jobs "
                                     "WHERE id = :id", id=job_id)
    assert 100 < float(wait) <= 120  # estimated_time_to_regain_access: 2 minutes
    with session_scope(scheduler_sessions) as session:  # the two minutes pass
        session.execute(update(SyncJob).where(SyncJob.id == job_id).values(run_after=text("now()")))
    assert settle(scheduler_sessions, job_id, worker, "succeeded").attempts == 1  # the wait spent no attempt


@pytest.mark.parametrize("fault,value", [("transient", 2), ("unknown", 1), ("reduce_data", 1), ("async_fail", 1)])
def test_recoverable_faults_end_with_complete_data_in_one_attempt(fault, value, scheduler_sessions, make_shop, worker,
                                                                  sandbox, clock, store):
    spec = store.spec.ad_accounts[0]
    shop_id = make_shop(store.spec.domain)
    job_id = link(scheduler_sessions, shop_id, spec)
    sandbox.world.meta_faults.set(spec.account_id, fault, value)
    done = settle(scheduler_sessions, job_id, worker, "succeeded", "failed")
    assert (done.status, done.attempts) == ("succeeded", 1), done.error_message
    assert sandbox.world.meta_faults.peek(spec.account_id, fault) is None  # the fault did fire
    today = account_today(sandbox, clock, spec.account_id)
    assert_matches_truth(scheduler_sessions, sandbox, clock, spec.account_id, today - timedelta(days=730), today)


def test_persistent_transient_errors_are_retried_by_the_queue(scheduler_sessions, make_shop, worker, sandbox, store):
    spec = store.spec.ad_accounts[0]
    shop_id = make_shop(store.spec.domain)
    job_id = link(scheduler_sessions, shop_id, spec)
    sandbox.world.meta_faults.set(spec.account_id, "transient", 1.0)
    worker.fill()
    failed = settle(scheduler_sessions, job_id, worker, "failed")
    assert failed.attempts == failed.max_attempts and failed.error_class == "TransientError"


def test_an_expired_token_fails_the_job_with_a_hint(scheduler_sessions, make_shop, worker, sandbox, store):
    spec = store.spec.ad_accounts[0]
    shop_id = make_shop(store.spec.domain)
    job_id = link(scheduler_sessions, shop_id, spec)
    sandbox.world.meta_faults.set(spec.account_id, "expired_token", 1.0)
    failed = settle(scheduler_sessions, job_id, worker, "failed")
    assert (failed.attempts, failed.error_class, failed.error_hint) == (1, "PermanentError", TOKEN_HINT)
    assert TOKEN_HINT == "The Meta token expired: reconnect it in Settings"


@pytest.fixture
def spawn_on_sandbox(spawn, sandbox):
    """Start real scheduler processes (tests.conftest's `spawn`) pointed at the sandbox's Meta."""
    return lambda: spawn(META_GRAPH_URL=f"{sandbox.base_url}/meta", META_POLL_SECONDS="0", META_CHUNK_DAYS="20")


def test_a_scheduler_killed_mid_backfill_resumes_without_gaps_or_duplicates(
        spawn_on_sandbox, scheduler_sessions, make_shop, sandbox, clock, store):
    spec = store.spec.ad_accounts[1]
    shop_id = make_shop(store.spec.domain)
    job_id = link(scheduler_sessions, shop_id, spec)
    sandbox.world.meta_faults.set(spec.account_id, "slow", 0.03)  # a backfill long enough to kill in the middle
    victim = spawn_on_sandbox()
    wait_for(lambda: job(scheduler_sessions, job_id).progress_done >= 100, timeout=30, what="a few chunks")
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    sandbox.world.meta_faults.clear()
    spawn_on_sandbox()
    done = wait_for(lambda: (j := job(scheduler_sessions, job_id)).status == "succeeded" and j, timeout=60,
                    what="another scheduler to finish the backfill")
    assert done.attempts == 2
    messages = [m for (m,) in _messages(scheduler_sessions, job_id) if "backfill" in m]
    assert messages[0].startswith("Starting") and messages[1].startswith("Resuming")
    resumed_at = messages[1].rsplit(" to ", 1)[1]
    assert resumed_at < done.state["until"]  # not from the start
    today = account_today(sandbox, clock, spec.account_id)
    assert_matches_truth(scheduler_sessions, sandbox, clock, spec.account_id, today - timedelta(days=730), today)
