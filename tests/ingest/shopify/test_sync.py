"""Shopify sync jobs against the sandbox over HTTP: backfill, recent, incremental, faults, idempotency."""

from datetime import timedelta

import settings
from database import session_scope
from ingest import jobs
from ingest.runner import Worker
from ingest.shopify import queries, sync
from ingest.shopify.client import REVOKED_HINT
from ingest.shopify.sync import ACCESS_HINT
from sandbox.shopify_api import ShopifyFaults
from sandbox.shopify_graphql import load_schema
from tests.clock import at_each_date
from tests.conftest import scalar, wait_for
from tests.ingest.shopify.conftest import SLICE_ORDERS, events, faults, run_job, truth_days, warehouse_days


@at_each_date
def test_historical_backfill_equals_the_sandbox_and_is_idempotent(scheduler_sessions, worker, shop_id, store):
    job = run_job(scheduler_sessions, worker, shop_id, "HISTORICAL_INIT")
    orders = sum(1 for _ in store.iter_orders())
    assert (job.progress_done, job.progress_total) == (orders, orders)
    assert warehouse_days(scheduler_sessions, shop_id, store) == truth_days(store)
    counts = scalar(scheduler_sessions, "SELECT shopify_order_count || '/' || warehouse_order_count "
                    "FROM app_dashboard.shops WHERE id = :s", s=shop_id)
    assert counts == f"{orders}/{orders}"
    before = scalar(scheduler_sessions, "SELECT count(*) FROM core_warehouse.order_line_items")
    run_job(scheduler_sessions, worker, shop_id, "HISTORICAL_INIT")
    assert scalar(scheduler_sessions, "SELECT count(*) FROM core_warehouse.order_line_items") == before
    assert warehouse_days(scheduler_sessions, shop_id, store) == truth_days(store)


def test_no_incremental_beside_a_backfill_which_hands_it_its_cursor(scheduler_sessions, worker, shop_id, store):
    with session_scope(scheduler_sessions) as session:
        jobs.enqueue(session=session, shop_id=shop_id, source="shopify", kind="HISTORICAL_INIT")
        assert sync.enqueue_due(session=session) == 0  # it would read the same orders again, by bulk
    job = run_job(scheduler_sessions, worker, shop_id, "HISTORICAL_INIT")
    cursors = scalar(scheduler_sessions, "SELECT array_agg(DISTINCT cursor_at) FROM app_dashboard.sync_cursors "
                     "WHERE shop_id = :s AND resource IN ('orders', 'customers', 'products')", s=shop_id)
    assert [c.isoformat() for c in cursors] == [job.state["until"].replace("Z", "+00:00")]
    with session_scope(scheduler_sessions) as session:
        assert sync.enqueue_due(session=session) == 1


def test_the_history_is_cut_into_date_slices_of_at_most_so_many_orders(scheduler_sessions, worker, shop_id,
                                                                        store):
    job = run_job(scheduler_sessions, worker, shop_id, "HISTORICAL_INIT")
    slices = [(p["lo"], p["hi"]) for p in job.state["parts"] if p["part"] == "orders"]
    assert len(slices) > 1 and [hi for _, hi in slices[:-1]] == [lo for lo, _ in slices[1:]]  # no gap, no overlap
    created = [o["createdAt"] for o in store.iter_orders()]
    per_slice = [sum(lo <= at < hi for at in created) for lo, hi in slices]
    assert sum(per_slice) == len(created) and max(per_slice) <= SLICE_ORDERS


def test_a_store_whose_history_fits_one_slice_is_one_bulk_query_per_part(scheduler_sessions, worker, shop_id,
                                                                          store, monkeypatch):
    monkeypatch.setattr(settings, "SHOPIFY_BULK_SLICE_ORDERS", 10_000)
    job = run_job(scheduler_sessions, worker, shop_id, "HISTORICAL_INIT")
    assert [p["part"] for p in job.state["parts"]] == ["orders", "order_sales", "customers", "products"]
    assert len(store.sandbox_api.bulk.operations) == 4
    assert warehouse_days(scheduler_sessions, shop_id, store) == truth_days(store)


def test_polling_starts_fast_whatever_its_longest_interval(scheduler_sessions, worker, shop_id, store, monkeypatch):
    # Operations that take a moment must not wait out the interval meant for operations that take minutes.
    monkeypatch.setattr(settings, "SHOPIFY_BULK_POLL_SECONDS", 60)
    held = faults(store, held=True)
    with session_scope(scheduler_sessions) as session:
        job_id, _ = jobs.enqueue(session=session, shop_id=shop_id, source="shopify", kind="HISTORICAL_INIT")
    worker.fill()
    wait_for(lambda: sum(bool(p["op"]) for p in _job(scheduler_sessions, job_id).state.get("parts", [])) == 3,
             what="three operations running at Shopify, then polled")
    held.held = False
    held.release.set()  # they finish now: the job sees it within seconds, not a minute
    job = wait_for(lambda: (j := _job(scheduler_sessions, job_id)).status == "succeeded" and j, timeout=30,
                   what="the backfill to finish")
    assert warehouse_days(scheduler_sessions, shop_id, store) == truth_days(store)
    assert (job.finished_at - job.started_at).total_seconds() < 30


def test_server_errors_and_throttling_are_retried_to_the_same_result(scheduler_sessions, worker, shop_id, store):
    store.sandbox_api.faults[store.spec.domain] = ShopifyFaults(server_errors=3, throttle=3)
    job = run_job(scheduler_sessions, worker, shop_id, "HISTORICAL_INIT")
    assert job.attempts == 1  # retried inside the client, not by failing the job
    assert store.sandbox_api.faults[store.spec.domain].server_errors == 0
    assert store.sandbox_api.faults[store.spec.domain].throttle == 0
    assert warehouse_days(scheduler_sessions, shop_id, store) == truth_days(store)


def test_a_failed_bulk_operation_keeps_its_partial_data_and_runs_again(scheduler_sessions, worker, shop_id, store):
    faults(store, fail=1)
    job = run_job(scheduler_sessions, worker, shop_id, "HISTORICAL_INIT")
    assert any("failed (INTERNAL_SERVER_ERROR); running it again" in e for e in events(scheduler_sessions, job.id))
    assert warehouse_days(scheduler_sessions, shop_id, store) == truth_days(store)


def test_a_timed_out_slice_is_split_in_two(scheduler_sessions, worker, shop_id, store):
    faults(store, timeout=1)
    job = run_job(scheduler_sessions, worker, shop_id, "HISTORICAL_INIT")
    assert any("timed out: splitting it in two" in e for e in events(scheduler_sessions, job.id))
    assert warehouse_days(scheduler_sessions, shop_id, store) == truth_days(store)


def test_a_truncated_download_is_downloaded_again(scheduler_sessions, worker, shop_id, store):
    faults(store, truncate=1)
    job = run_job(scheduler_sessions, worker, shop_id, "HISTORICAL_INIT")
    assert any("ended mid-line" in e for e in events(scheduler_sessions, job.id))
    assert scalar(scheduler_sessions, "SELECT count(*) FROM staging_ingest.quarantine") == 0
    assert warehouse_days(scheduler_sessions, shop_id, store) == truth_days(store)


def test_malformed_lines_are_quarantined_and_their_slice_reloaded(scheduler_sessions, worker, shop_id, store):
    faults(store, malformed_lines=2)
    job = run_job(scheduler_sessions, worker, shop_id, "HISTORICAL_INIT")
    quarantined = scalar(scheduler_sessions, "SELECT count(*) FROM staging_ingest.quarantine "
                                             "WHERE reason LIKE 'malformed JSON%%' AND line_no IN (1, 2)")
    assert quarantined == 2
    messages = events(scheduler_sessions, job.id)
    assert any("2 malformed line(s) quarantined" in e for e in messages)
    assert warehouse_days(scheduler_sessions, shop_id, store) == truth_days(store)  # healed by the reload


def test_bulk_limit_reached_is_waited_out(scheduler_sessions, worker, shop_id, store):
    held = faults(store, held=True)
    others = [store.sandbox_api.bulk.start(shop=store.spec.domain, schema=load_schema("2026-01"),
                                           query=queries.bulk_query("customers"), group_objects=False,
                                           items_for=lambda root, args: [])
              for _ in range(5)]  # another app's five operations fill every slot
    for other in others:
        other["launch"]()
    with session_scope(scheduler_sessions) as session:
        job_id, _ = jobs.enqueue(session=session, shop_id=shop_id, source="shopify", kind="HISTORICAL_INIT")
    worker.fill()
    wait_for(lambda: _job(scheduler_sessions, job_id).progress_label.startswith("Planned"), what="the plan")
    assert _job(scheduler_sessions, job_id).state["parts"][0]["op"] is None  # nothing started: no free slot
    held.held = False
    held.release.set()
    job = run_job(scheduler_sessions, worker, shop_id, "HISTORICAL_INIT")
    assert job.id == job_id and job.attempts == 1


def test_a_revoked_token_fails_the_job_with_a_hint(scheduler_sessions, worker, shop_id, store):
    store.sandbox_api.uninstall(store.spec.domain)
    job = run_job(scheduler_sessions, worker, shop_id, "HISTORICAL_INIT", statuses=("failed",))
    assert (job.attempts, job.error_class) == (1, "PermanentError")
    assert job.error_hint == REVOKED_HINT


def _job(sessions, job_id):
    with session_scope(sessions) as session:
        job = jobs.get(session=session, job_id=job_id)
        session.expunge(job)
        return job


def test_access_denied_fails_the_job_at_once_with_a_hint(scheduler_sessions, worker, shop_id, store):
    faults(store, access_denied=1)
    job = run_job(scheduler_sessions, worker, shop_id, "HISTORICAL_INIT", statuses=("failed",))
    assert (job.attempts, job.error_class, job.error_hint) == (1, "PermanentError", ACCESS_HINT)


def test_an_expired_result_is_asked_for_again(scheduler_sessions, worker, shop_id, store, clock):
    held = faults(store, held=True)
    with session_scope(scheduler_sessions) as session:
        job_id, _ = jobs.enqueue(session=session, shop_id=shop_id, source="shopify", kind="HISTORICAL_INIT")
    worker.fill()
    wait_for(lambda: _job(scheduler_sessions, job_id).state.get("parts", [{}])[0].get("op"), what="an operation")
    worker.stop(grace_seconds=5)  # a scheduler restart: the job goes back to the queue with its state
    held.held = False
    held.release.set()
    started = list(store.sandbox_api.bulk.operations.values())
    wait_for(lambda: all(op.status == "COMPLETED" for op in started), what="Shopify to finish them")
    clock[0] = timedelta(days=8)  # the scheduler comes back after the results' URLs expired (7 days)
    job = run_job(scheduler_sessions, Worker(scheduler_sessions, threads=1), shop_id, "HISTORICAL_INIT")
    assert job.id == job_id
    assert any("was expired; running it again" in e for e in events(scheduler_sessions, job_id))
    assert len(store.sandbox_api.bulk.operations) > len(started)
    assert warehouse_days(scheduler_sessions, shop_id, store) == truth_days(store)


def test_the_backfill_starts_its_bulk_operations_once_recent_is_done(scheduler_sessions, worker, shop_id, store):
    with session_scope(scheduler_sessions) as session:
        jobs.enqueue(session=session, shop_id=shop_id, source="shopify", kind="RECENT")
    backfill = run_job(scheduler_sessions, worker, shop_id, "HISTORICAL_INIT")
    recent_done = scalar(scheduler_sessions, "SELECT finished_at FROM app_dashboard.sync_jobs WHERE kind = 'RECENT' "
                         "AND status = 'succeeded'")
    first_start = scalar(scheduler_sessions, "SELECT min(created_at) FROM app_dashboard.sync_events WHERE job_id = :j "
                         "AND message LIKE 'Started a bulk query%'", j=backfill.id)
    assert recent_done is not None and first_start >= recent_done
    assert warehouse_days(scheduler_sessions, shop_id, store) == truth_days(store)
