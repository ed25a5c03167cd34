"""Staging retention: old landed lines, quarantine and drained webhooks go; recent and pending ones stay."""

from sqlalchemy import text

from database import session_scope
from ingest import staging
from ingest.shopify import load
from tests.conftest import scalar


def test_prune_removes_only_what_is_older_than_the_retention(scheduler_sessions, make_shop):
    shop_id = make_shop()
    with session_scope(scheduler_sessions) as session:
        old, new = (load.create_batch(session=session, shop_id=shop_id, job_id=None, origin="test", parts=["orders"])
                    for _ in range(2))
        for batch in (old, new):
            load.land(session=session, shop_id=shop_id, batch_id=batch, lines=[b'{"id": 1}', b"{broken"])
        session.execute(text("UPDATE staging_ingest.load_batches SET created_at = now() - interval '30 days' "
                             "WHERE id = :b"), {"b": old})
        session.execute(text("UPDATE staging_ingest.quarantine SET created_at = now() - interval '30 days' "
                             "WHERE batch_id = :b"), {"b": old})
        session.execute(text(
            "INSERT INTO staging_ingest.webhook_inbox (shop_domain, topic, webhook_id, payload, processed_at) VALUES "
            "('a.myshopify.com', 'orders/create', 'w1', '{}', now() - interval '30 days'), "
            "('a.myshopify.com', 'orders/create', 'w2', '{}', NULL)"))
    with session_scope(scheduler_sessions) as session:
        assert staging.prune(session=session, keep_days=14) == {"batches": 1, "quarantined": 1, "webhooks": 1,
                                                               "upload marketplace_order_rows": 0,
                                                               "upload payout_rows": 0}
    assert scalar(scheduler_sessions, "SELECT array_agg(DISTINCT batch_id) FROM staging_ingest.shopify_lines") == [new]
    assert scalar(scheduler_sessions, "SELECT array_agg(webhook_id) FROM staging_ingest.webhook_inbox") == ["w2"]
