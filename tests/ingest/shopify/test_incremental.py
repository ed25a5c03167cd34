"""RECENT and INCREMENTAL against a live sandbox store: new orders appear as its clock moves on."""

from datetime import timedelta

import pytest

import settings
from sandbox.shopify_graphql import CostBucket
from tests.clock import at_each_date
from tests.conftest import scalar
from tests.ingest.shopify.conftest import events, run_job, serve_store, truth_days, warehouse_days


@pytest.fixture
def sandbox(monkeypatch, tmp_path, clock, frozen_now):
    """A store whose history runs three days past today: those orders appear when the clock gets there."""
    server = serve_store(monkeypatch, tmp_path, clock, days=40, today=frozen_now.date() + timedelta(days=3))
    yield server
    server.stop()


@at_each_date
@pytest.mark.parametrize("paged_max", [0, 1000], ids=["backlog-by-bulk", "trickle-by-pages"])
def test_backfill_recent_and_incremental_add_up_to_the_sandbox(scheduler_sessions, worker, shop_id, store, clock,
                                                               monkeypatch, paged_max):
    monkeypatch.setattr(settings, "SHOPIFY_PAGED_MAX_ORDERS", paged_max)
    # Shopify Plus's restore rate: paging costs ~200 points an order, 2 s each at the Basic plan's 100/s.
    store.sandbox_api.buckets[store.spec.domain] = CostBucket.for_plan("Shopify Plus")
    run_job(scheduler_sessions, worker, shop_id, "HISTORICAL_INIT")
    backfilled = scalar(scheduler_sessions, "SELECT count(*) FROM core_warehouse.orders")
    recent = run_job(scheduler_sessions, worker, shop_id, "RECENT")
    assert recent.progress_done == recent.progress_total > 0
    assert scalar(scheduler_sessions, "SELECT count(*) FROM core_warehouse.orders") == backfilled

    clock[0] = timedelta(days=5)  # the store's last three days happen
    incremental = run_job(scheduler_sessions, worker, shop_id, "INCREMENTAL")
    total = sum(1 for _ in store.iter_orders())
    assert total > backfilled
    assert scalar(scheduler_sessions, "SELECT count(*) FROM core_warehouse.orders") == total
    assert warehouse_days(scheduler_sessions, shop_id, store) == truth_days(store)
    started_bulk = any("Started a bulk query" in e for e in events(scheduler_sessions, incremental.id))
    assert started_bulk == (paged_max == 0)
    cursor = scalar(scheduler_sessions, "SELECT cursor_at FROM app_dashboard.sync_cursors WHERE resource = 'orders'")
    assert cursor is not None

    lines = scalar(scheduler_sessions, "SELECT count(*) FROM core_warehouse.order_line_items")
    run_job(scheduler_sessions, worker, shop_id, "INCREMENTAL")  # again: nothing changes
    assert scalar(scheduler_sessions, "SELECT count(*) FROM core_warehouse.order_line_items") == lines
    assert warehouse_days(scheduler_sessions, shop_id, store) == truth_days(store)
