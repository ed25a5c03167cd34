"""Promoting a checked batch into the warehouse: one transaction that retires the batches it replaces, upserts
its rows set-based (a row is its key: the same file loaded again changes nothing), and settles its status.

Replacement: a loaded batch of the same store and kind whose period lies within this one's is replaced (its
rows go, this batch's come, in the same transaction); its status becomes `replaced`. A kill before the
commit leaves the old batch whole; after it, the new one.
"""

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import text
from sqlalchemy.orm import Session

from ingest.uploads import batches, checks, formats

WAREHOUSE = {
    "marketplace-orders": ("core_warehouse.marketplace_orders", "ordered_at", """
        INSERT INTO core_warehouse.marketplace_orders AS w (shop_id, channel, order_id, batch_id, line_no, ordered_at,
            currency, gross, discounts, refunds, fees, net)
        SELECT :s, btrim(channel), btrim(order_id), :b, line_no, staging_ingest.to_instant(btrim(ordered_at)),
               upper(btrim(currency)), staging_ingest.to_money(gross), coalesce(staging_ingest.to_money(discounts), 0),
               coalesce(staging_ingest.to_money(refunds), 0), coalesce(staging_ingest.to_money(fees), 0),
               staging_ingest.to_money(net)
        FROM staging_ingest.marketplace_order_rows WHERE batch_id = :b
        ON CONFLICT (shop_id, channel, order_id) DO UPDATE SET batch_id = excluded.batch_id,
            line_no = excluded.line_no, ordered_at = excluded.ordered_at, currency = excluded.currency,
            gross = excluded.gross, discounts = excluded.discounts, refunds = excluded.refunds, fees = excluded.fees,
            net = excluded.net, loaded_at = now()
    """),
    "payouts": ("core_warehouse.payout_transactions", "transaction_at", """
        INSERT INTO core_warehouse.payout_transactions AS w (shop_id, transaction_key, batch_id, line_no,
            transaction_at, type, order_name, card_brand, card_source, payout_status, payout_date, payout_id,
            available_on, amount, fee, net, currency, checkout, payment_method_name, presentment_amount,
            presentment_currency)
        SELECT :s, {key}, :b, line_no, staging_ingest.to_instant(btrim(transaction_date)), lower(btrim(type)),
               nullif(btrim(order_name), ''), nullif(btrim(card_brand), ''), nullif(btrim(card_source), ''),
               nullif(lower(btrim(payout_status)), ''), staging_ingest.to_day(btrim(payout_date)),
               nullif(btrim(payout_id), ''), staging_ingest.to_day(btrim(available_on)),
               staging_ingest.to_money(amount), staging_ingest.to_money(fee), staging_ingest.to_money(net),
               upper(btrim(currency)), nullif(btrim(checkout), ''), nullif(btrim(payment_method_name), ''),
               staging_ingest.to_money(presentment_amount), nullif(upper(btrim(presentment_currency)), '')
        FROM staging_ingest.payout_rows WHERE batch_id = :b
        ON CONFLICT (shop_id, transaction_key) DO UPDATE SET batch_id = excluded.batch_id,
            line_no = excluded.line_no, payout_status = excluded.payout_status, payout_date = excluded.payout_date,
            payout_id = excluded.payout_id, available_on = excluded.available_on, card_brand = excluded.card_brand,
            card_source = excluded.card_source, payment_method_name = excluded.payment_method_name,
            presentment_amount = excluded.presentment_amount, presentment_currency = excluded.presentment_currency,
            loaded_at = now()
    """),
}


@dataclass
class Promoted:
    """What one promotion did."""

    loaded: int = 0
    period: tuple[date, date] | None = None
    replaced: list[int] = field(default_factory=list)


def promote(*, session: Session, shop_id: int, batch_id: int, fmt: formats.Format, rejected: int) -> Promoted:
    """Replace the batches this one covers and upsert its rows, in the caller's (one) transaction."""
    table, instant, insert = WAREHOUSE[fmt.kind]
    session.execute(text(f"SET LOCAL work_mem = '{checks.WORK_MEM}'"))  # the rollup's distinct days, in memory
    sql = insert.format(key=checks.KEYS["payouts"][0]) if fmt.kind == "payouts" else insert
    # Upsert first (rows the new file shares with an old batch become the new batch's), then retire what the
    # replaced batches held beyond that: the same end state as delete-then-insert, in one pass over the file.
    loaded, lo, hi = session.execute(text(f"""
        WITH upserted AS ({sql} RETURNING {instant})
        SELECT count(*), min(({instant} AT TIME ZONE sh.iana_timezone)::date),
               max(({instant} AT TIME ZONE sh.iana_timezone)::date)
        FROM upserted, app_dashboard.shops sh WHERE sh.id = :s
    """), {"s": shop_id, "b": batch_id}).one()
    promoted = Promoted(loaded=loaded, period=None if lo is None else (lo, hi))
    if promoted.period is not None:
        promoted.replaced = list(session.scalars(text("""
            SELECT id FROM app_dashboard.upload_batches
            WHERE shop_id = :s AND kind = :k AND id <> :b AND status IN ('loaded', 'partially_loaded')
              AND period_start >= :lo AND period_end <= :hi
            ORDER BY id FOR UPDATE
        """), {"s": shop_id, "k": fmt.kind, "b": batch_id, "lo": promoted.period[0], "hi": promoted.period[1]}))
    if promoted.replaced:
        session.execute(text(f"DELETE FROM {table} WHERE shop_id = :s AND batch_id = ANY(:old)"),
                        {"s": shop_id, "old": promoted.replaced})
    session.execute(text(f"DELETE FROM {fmt.staging} WHERE batch_id = :b"), {"b": batch_id})
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
