"""Shopify sync jobs against the sandbox over HTTP: backfill, recent, incremental, faults, idempotency."""

from tests.conftest import scalar
from tests.ingest.shopify.conftest import run_job, truth_days, warehouse_days


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
