"""A scheduler process SIGKILLed in each phase of a backfill: the next one finishes it, nothing twice.

Phases: Shopify's answer to a start on its way (the operation runs, its id unsaved), a bulk operation
running at Shopify, its result downloading, the landed lines being promoted. The sandbox holds each phase
open (a held answer, a held operation, a stalled download) or promotion goes in small chunks, so the kill
lands where the test says; the state read just before the kill proves it.
"""

import signal

import pytest

import settings
from database import session_scope
from ingest import jobs
from ingest.shopify import queries
from tests.clock import at_each_date
from tests.conftest import scalar, wait_for
from tests.ingest.shopify.conftest import faults, truth_days, warehouse_days


def _job(sessions, job_id):
    with session_scope(sessions) as session:
        job = jobs.get(session=session, job_id=job_id)
        session.expunge(job)
        return job


@pytest.fixture
def start_backfill(scheduler_sessions, shop_id, sandbox, spawn):
    """Start a scheduler process on a queued HISTORICAL_INIT; return (process, job id, its env)."""
    env = {"SHOPIFY_ADMIN_URL": settings.SHOPIFY_ADMIN_URL, "SHOPIFY_BULK_POLL_SECONDS": "0.05",
           "SHOPIFY_BULK_SLICE_ORDERS": str(settings.SHOPIFY_BULK_SLICE_ORDERS)}

    def start(**extra):
        with session_scope(scheduler_sessions) as session:
            job_id, _ = jobs.enqueue(session=session, shop_id=shop_id, source="shopify", kind="HISTORICAL_INIT")
        return spawn(**env, **extra), job_id, env

    return start


def kill(victim):
    victim.send_signal(signal.SIGKILL)
    victim.wait()


def finish(spawn, env, sessions, job_id):
    """Start another scheduler and wait for it to finish the job: succeeded, on its second attempt."""
    spawn(**env)
    job = wait_for(lambda: (j := _job(sessions, job_id)).status in ("succeeded", "failed") and j,
                   timeout=90, what="another scheduler to finish the backfill")
    assert (job.status, job.attempts) == ("succeeded", 2), job.error_message
    return job


def assert_each_part_ran_once(store, job):
    """Shopify ran exactly the plan's bulk queries, each once: no operation was started twice."""
    ran = sorted(op.query for op in store.sandbox_api.bulk.operations.values())
    assert ran == sorted(queries.bulk_query(p["part"], p["search"]) for p in job.state["parts"])


@pytest.mark.parametrize("nth", range(1, 9))
def test_killed_before_saving_an_operation_id(start_backfill, spawn, scheduler_sessions, store, nth):
    """Killed while Shopify's answer to its nth start is on the way: the next process adopts that operation."""
    held = faults(store, hold_answer=nth)
    victim, job_id, env = start_backfill()
    # A child process starting, then n - 1 operations before it: well under 20 s, but not on a loaded machine.
    wait_for(lambda: held.started == nth, timeout=60, what=f"bulk operation {nth} to be started")
    starting = [p for p in _job(scheduler_sessions, job_id).state["parts"] if p["status"] == "starting"]
    assert len(starting) == 1 and starting[0]["op"] is None  # the start was announced; its id never arrived
    kill(victim)
    held.answer.set()
    job = finish(spawn, env, scheduler_sessions, job_id)
    assert len(job.state["parts"]) == 8  # three date slices of orders and their sales, customers, products
    assert_each_part_ran_once(store, job)
    assert warehouse_days(scheduler_sessions, job.shop_id, store) == truth_days(store)


@at_each_date
def test_killed_while_bulk_operations_run(start_backfill, spawn, scheduler_sessions, store):
    held = faults(store, held=True)
    victim, job_id, env = start_backfill()
    state = wait_for(lambda: [p for p in _job(scheduler_sessions, job_id).state.get("parts", []) if p["op"]],
                     what="the first bulk operations to be started")
    assert all(p["status"] == "running" for p in state)
    kill(victim)
    held.held = False
    held.release.set()  # Shopify finishes the operations while no scheduler watches
    job = finish(spawn, env, scheduler_sessions, job_id)
    # The new process polled the operations the dead one had started rather than starting them again.
    assert len(store.sandbox_api.bulk.operations) == len(job.state["parts"])
    assert_each_part_ran_once(store, job)
    assert warehouse_days(scheduler_sessions, job.shop_id, store) == truth_days(store)


def test_killed_while_downloading(start_backfill, spawn, scheduler_sessions, store):
    stalled = faults(store, stall_downloads=True)
    victim, job_id, env = start_backfill()
    wait_for(lambda: _job(scheduler_sessions, job_id).progress_label.startswith("Downloading"),
             what="a download to start")
    kill(victim)
    stalled.stall_downloads = False
    stalled.resume_downloads.set()
    job = finish(spawn, env, scheduler_sessions, job_id)
    assert len(store.sandbox_api.bulk.operations) == len(job.state["parts"])  # the file was fetched again
    assert_each_part_ran_once(store, job)
    assert warehouse_days(scheduler_sessions, job.shop_id, store) == truth_days(store)
    assert scalar(scheduler_sessions, "SELECT count(*) - count(DISTINCT order_id) FROM core_warehouse.orders") == 0


def test_killed_while_promoting(start_backfill, spawn, scheduler_sessions, store):
    victim, job_id, env = start_backfill(LOAD_PROMOTE_LINES="10")

    def promoting():
        parts = _job(scheduler_sessions, job_id).state.get("parts", [])
        return [p for p in parts if p["status"] == "promoting" and p["resume"][1] > 0]

    caught = wait_for(promoting, what="a promotion under way")
    kill(victim)
    assert caught[0]["resume"][1] > 0
    job = finish(spawn, env | {"LOAD_PROMOTE_LINES": "10"}, scheduler_sessions, job_id)
    assert warehouse_days(scheduler_sessions, job.shop_id, store) == truth_days(store)
    assert scalar(scheduler_sessions, "SELECT count(*) FROM core_warehouse.orders") == job.progress_total
