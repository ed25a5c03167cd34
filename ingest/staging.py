"""Staging retention: landed lines, quarantined lines and drained webhooks are kept for replay, then pruned."""

from sqlalchemy import text
from sqlalchemy.orm import Session

import settings

# Oldest first; lines go with their batch (a trigger on load_batches). Pending webhooks are never pruned.
PRUNE = {
    "batches": "DELETE FROM staging_ingest.load_batches WHERE created_at < now() - make_interval(days => :days)",
    "quarantined": "DELETE FROM staging_ingest.quarantine WHERE created_at < now() - make_interval(days => :days)",
    "webhooks": "DELETE FROM staging_ingest.webhook_inbox WHERE processed_at < now() - make_interval(days => :days)",
    # Uploaded rows of settled batches (the file itself is kept; a batch's bad rows stay with the batch).
    **{f"upload {name}": f"""DELETE FROM staging_ingest.{name} r USING app_dashboard.upload_batches b
                             WHERE b.id = r.batch_id AND b.status NOT IN ('received', 'parsing')
                               AND b.updated_at < now() - make_interval(days => :days)"""
       for name in ("marketplace_order_rows", "payout_rows")},
}


def prune(*, session: Session, keep_days: int = settings.STAGING_KEEP_DAYS) -> dict[str, int]:
    """Delete staging rows older than `keep_days`; return how many of each kind went."""
    return {kind: session.execute(text(sql), {"days": keep_days}).rowcount for kind, sql in PRUNE.items()}
