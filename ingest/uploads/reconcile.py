"""Reconciliation counts for a batch's period: orders against payout transactions (reporting.reconcile)."""

from datetime import date

from sqlalchemy import text
from sqlalchemy.orm import Session

import settings

# `difference`: matched on both sides, but the amounts differ by more than the tolerance.
STATUS = "CASE WHEN status = 'matched' AND abs(difference) > :tolerance THEN 'difference' ELSE status END"


def summarise(*, session: Session, shop_id: int, start: date, end: date,
              tolerance: float = settings.RECONCILE_TOLERANCE) -> dict[str, int]:
    """How many order references are matched, different, or missing on either side ("side/status": count)."""
    rows = session.execute(text(f"""
        SELECT side, {STATUS} AS status, count(*) FROM reporting.reconcile(:s, :lo, :hi) GROUP BY 1, 2 ORDER BY 1, 2
    """), {"s": shop_id, "lo": start, "hi": end, "tolerance": tolerance})
    return {f"{side}/{status}": count for side, status, count in rows}
