"""The Meta cron duty: queue an INCREMENTAL for every connected ad account whose last one is old enough."""

from sqlalchemy import text
from sqlalchemy.orm import Session

import settings
from ingest import jobs

# Accounts of active shops with a token, no INCREMENTAL queued within the interval, and whose latest Meta
# job did not fail for good (an expired token waits for a reconnect instead of failing every hour).
DUE = text("""
    SELECT a.shop_id, a.account_id
    FROM app_dashboard.ad_accounts a JOIN app_dashboard.shops s ON s.id = a.shop_id
    WHERE s.status = 'active' AND a.access_token_enc IS NOT NULL
      AND NOT EXISTS (
          SELECT 1 FROM app_dashboard.sync_jobs j
          WHERE j.shop_id = a.shop_id AND j.source = 'meta' AND j.kind = 'INCREMENTAL' AND j.target = a.account_id
            AND j.created_at > now() - make_interval(secs => :every))
      AND (SELECT j.status = 'failed' AND j.error_class = 'PermanentError' FROM app_dashboard.sync_jobs j
           WHERE j.shop_id = a.shop_id AND j.source = 'meta' AND j.target = a.account_id
           ORDER BY j.id DESC LIMIT 1) IS NOT TRUE
    ORDER BY a.shop_id, a.account_id
""")


def enqueue_due(*, session: Session) -> int:
    """Queue the due INCREMENTAL jobs; return how many were queued."""
    queued = 0
    for shop_id, account_id in session.execute(DUE, {"every": settings.META_INCREMENTAL_SECONDS}).all():
        queued += jobs.enqueue(session=session, shop_id=shop_id, source="meta", kind="INCREMENTAL",
                               target=account_id)[1]
    return queued
