"""The completeness check catches a warehouse holding more orders than Shopify counts, and says which way."""

from tests.conftest import scalar
from tests.ingest.shopify.conftest import run_job


def test_a_warehouse_with_more_orders_than_shopify_fails_the_check_and_says_so(scheduler_sessions, worker, shop_id,
                                                                                store):
    run_job(scheduler_sessions, worker, shop_id, "HISTORICAL_INIT")
    orders = sum(1 for _ in store.iter_orders())
    # The merchant deletes an order while no webhook reaches us: Shopify counts one fewer than we hold.
    middle = list(store.iter_orders())[orders // 2]  # inside the backfilled range, which starts at the first order
    deleted = middle["id"]
    store.sandbox_api.delete_order(store.spec.domain, deleted)

    job = run_job(scheduler_sessions, worker, shop_id, "HISTORICAL_INIT", statuses=("failed",))
    assert job.error_message == f"The warehouse holds {orders:,} orders, 1 more than Shopify counts ({orders - 1:,})"
    assert "does not remove them" in job.error_hint
    counts = scalar(scheduler_sessions, "SELECT shopify_order_count || '/' || warehouse_order_count "
                    "FROM app_dashboard.shops WHERE id = :s", s=shop_id)
    assert counts == f"{orders - 1}/{orders}"
