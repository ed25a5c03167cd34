"""Promoting a checked batch into the warehouse: one transaction that retires the batches it replaces, loads
its typed rows set-based (a row is its key: a row another batch holds under it becomes this one's), and settles
its status.

Replacement: a loaded batch of the same store and kind whose period lies within this one's is replaced (its
rows go, this batch's come, in the same transaction); its status becomes `replaced`. A kill before the
commit leaves the old batch whole; after it, the new one.
"""

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import text
from sqlalchemy.orm import Session

from ingest.errors import PermanentError
from ingest.uploads import batch_table, batches, checks, formats

# Per kind: the warehouse table, its instant, how a row of it is found by its key from the staged row t, and
# the plain INSERT from the typed staging table (promotion first deletes what the batch's rows would collide with).
WAREHOUSE = {
    "marketplace-orders": ("core_warehouse.marketplace_orders", "ordered_at",
                           "w.order_id = t.order_id AND w.channel = t.channel", """
        INSERT INTO core_warehouse.marketplace_orders (shop_id, channel, order_id, batch_id, line_no, ordered_at,
            currency, gross, discounts, refunds, fees, net)
        SELECT :s, channel, order_id, :b, line_no, ordered_at, currency, gross, coalesce(discounts, 0),
               coalesce(refunds, 0), coalesce(fees, 0), net
        FROM staging_ingest.marketplace_order_rows WHERE batch_id = :b
    """),
    "payouts": ("core_warehouse.payout_transactions", "transaction_date", "w.transaction_key = t.transaction_key", """
        INSERT INTO core_warehouse.payout_transactions (shop_id, transaction_key, batch_id, line_no,
            transaction_at, type, order_name, card_brand, card_source, payout_status, payout_date, payout_id,
            available_on, amount, fee, net, currency, checkout, payment_method_name, presentment_amount,
            presentment_currency)
        SELECT :s, transaction_key, :b, line_no, transaction_date, type, order_name, card_brand, card_source,
               payout_status, payout_date, payout_id, available_on, amount, fee, net, currency, checkout,
               payment_method_name, presentment_amount, presentment_currency
        FROM staging_ingest.payout_rows WHERE batch_id = :b
    """),
}


@dataclass
class Promoted:
    """What one promotion did."""

    loaded: int = 0
    period: tuple[date, date] | None = None
    replaced: list[int] = field(default_factory=list)


# The channel rollup's sums of a batch's own table (attaching fires no trigger), made by its checks.
BATCH_SUMS = """
    CREATE TEMPORARY TABLE upload_batch_sums ON COMMIT DROP AS
    SELECT shop_id, day, channel, currency, orders, gross, discounts, refunds, fees, net_sales
    FROM staging_ingest.upload_channel_sums WHERE batch_id = :b
"""
ADD_SUMS = """
    INSERT INTO reporting.daily_channel_sales AS r (shop_id, day, channel, currency, orders, gross, discounts,
        refunds, fees, net_sales)
    SELECT shop_id, day, channel, currency, orders, gross, discounts, refunds, fees, net_sales FROM upload_batch_sums
    ON CONFLICT (shop_id, day, channel, currency) DO UPDATE SET orders = r.orders + excluded.orders,
        gross = r.gross + excluded.gross, discounts = r.discounts + excluded.discounts,
        refunds = r.refunds + excluded.refunds, fees = r.fees + excluded.fees,
        net_sales = r.net_sales + excluded.net_sales
"""


def promote(*, session: Session, shop_id: int, batch_id: int, fmt: formats.Format, rejected: int) -> Promoted:
    """Replace the batches this one covers and load its rows, in the caller's (one) transaction."""
    table, instant, same_key, insert = WAREHOUSE[fmt.kind]
    session.execute(text(f"SET LOCAL work_mem = '{checks.WORK_MEM}'"))  # the rollup's distinct days, in memory
    params = {"s": shop_id, "b": batch_id}
    own = fmt.kind in batch_table.KINDS
    if own:
        if session.execute(text(f"SELECT to_regclass('{batch_table.name(batch_id)}')")).scalar() is None:
            raise RuntimeError(f"batch {batch_id}'s table is gone; the file is staged again on the next attempt")
        # One promotion per store at a time: each deletes what the others hold under its keys.
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext('marketplace_orders'), CAST(:s AS integer))"),
                        params)
        session.execute(text(BATCH_SUMS), params)
        session.execute(text("DELETE FROM staging_ingest.upload_channel_sums WHERE batch_id = :b"), params)
        lo, hi = session.execute(text("SELECT min(day), max(day) FROM upload_batch_sums")).one()
    else:
        lo, hi = session.execute(text(f"""
            SELECT min(({instant} AT TIME ZONE sh.iana_timezone)::date),
                   max(({instant} AT TIME ZONE sh.iana_timezone)::date)
            FROM {fmt.staging} t, app_dashboard.shops sh WHERE t.batch_id = :b AND sh.id = :s
        """), params).one()
    promoted = Promoted(period=None if lo is None else (lo, hi))
    if promoted.period is not None:
        promoted.replaced = list(session.scalars(text("""
            SELECT id FROM app_dashboard.upload_batches
            WHERE shop_id = :s AND kind = :k AND id <> :b AND status IN ('loaded', 'partially_loaded')
              AND period_start >= :lo AND period_end <= :hi
            ORDER BY id FOR UPDATE
        """), {**params, "k": fmt.kind, "lo": lo, "hi": hi}))
    if promoted.replaced:
        # Through the parent, so the rollup follows; a replaced batch's emptied table goes.
        session.execute(text(f"DELETE FROM {table} WHERE shop_id = :s AND batch_id = ANY(:old)"),
                        {**params, "old": promoted.replaced})
        if own:
            for old in promoted.replaced:
                session.execute(text("SELECT core_warehouse.drop_marketplace_batch(:old)"), {"old": old})
    # Rows another batch holds under this one's keys become this batch's: delete them, then a plain INSERT
    # (the same end state as an upsert, without its per-row conflict check); none when the store has none.
    session.execute(text(f"""
        DELETE FROM {table} w USING {batch_table.name(batch_id) if own else fmt.staging} t
        WHERE t.batch_id = :b AND w.shop_id = :s AND {same_key}
          AND EXISTS (SELECT FROM {table} WHERE shop_id = :s)
    """), params)
    if own:
        promoted.loaded = _attach(session=session, shop_id=shop_id, batch_id=batch_id)
    else:
        promoted.loaded = session.execute(text(insert), params).rowcount
        session.execute(text(f"DELETE FROM {fmt.staging} WHERE batch_id = :b"), params)
    for old in promoted.replaced:
        batches.set_status(session=session, batch_id=old, status="replaced", replaced_by=batch_id)
        batches.log(session=session, batch=old, shop_id=shop_id, step="replaced", replaced_by=batch_id)
    status = "partially_loaded" if rejected else "loaded"
    lo, hi = promoted.period or (None, None)
    batches.set_status(session=session, batch_id=batch_id, status=status, rows_loaded=promoted.loaded,
                       period_start=lo, period_end=hi, error=None)
    batches.log(session=session, batch=batch_id, shop_id=shop_id, step="loaded", rows=promoted.loaded + rejected,
                good=promoted.loaded, bad=rejected, replaced=promoted.replaced,
                period=[str(lo), str(hi)] if lo else None)
    return promoted


def _attach(*, session: Session, shop_id: int, batch_id: int) -> int:
    """Attach the batch's table to the warehouse and add its sums to the channel rollup; return its rows."""
    # What the parent's trigger checks per statement: the store exists, and stays while this commits.
    if session.execute(text("SELECT id FROM app_dashboard.shops WHERE id = :s FOR KEY SHARE"),
                       {"s": shop_id}).first() is None:
        raise PermanentError(f"store {shop_id} does not exist (any more)")
    session.execute(text("SELECT core_warehouse.attach_marketplace_batch(:b)"), {"b": batch_id})
    session.execute(text(ADD_SUMS))
    return session.execute(text("SELECT coalesce(sum(orders), 0) FROM upload_batch_sums")).scalar()
