"""The per-row checks, set-based: each staged row gets its first failing reason; bad and duplicate rows move
from staging to upload_rejects with their line numbers. What stays in staging is loadable as it is."""

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from ingest.uploads import formats


def _empty(column: str) -> str:
    return f"coalesce(btrim({column}), '') = ''"


def _missing_id(column: str, header: str) -> str:
    return f"WHEN {_empty(column)} THEN 'missing id: {header} is empty'"


def _bad_date(column: str, header: str, parse: str = "staging_ingest.to_instant", optional: bool = False,
              what: str = "a date and time with a UTC offset") -> str:
    guard = f"NOT {_empty(column)} AND " if optional else ""
    return (f"WHEN {guard}{parse}(btrim({column})) IS NULL "
            f"THEN format('bad date: %s in {header} is not {what}', quote_literal(coalesce({column}, '')))")


def _bad_number(column: str, header: str, optional: bool = False) -> str:
    guard = f"NOT {_empty(column)} AND " if optional else ""
    return (f"WHEN {guard}staging_ingest.to_money({column}) IS NULL "
            f"THEN format('bad number: %s in {header}', quote_literal(coalesce({column}, '')))")


def _unknown_currency(column: str, header: str, optional: bool = False) -> str:
    guard = f"NOT {_empty(column)} AND " if optional else ""
    return (f"WHEN {guard}NOT upper(coalesce(btrim({column}), '')) = ANY(CAST(:codes AS text[])) "
            f"THEN format('unknown currency: %s in {header}', quote_literal(coalesce({column}, '')))")


REASONS = {
    "marketplace-orders": [
        _missing_id("order_id", "Order ID"),
        "WHEN coalesce(btrim(channel), '') = '' THEN 'missing channel: Channel is empty'",
        _bad_date("ordered_at", "Date"),
        _unknown_currency("currency", "Currency"),
        _bad_number("gross", "Gross"),
        _bad_number("discounts", "Discounts", optional=True),
        _bad_number("refunds", "Refunds", optional=True),
        _bad_number("fees", "Fees", optional=True),
        _bad_number("net", "Net"),
    ],
    "payouts": [
        _bad_date("transaction_date", "Transaction Date"),
        "WHEN coalesce(btrim(type), '') = '' THEN 'missing type: Type is empty'",
        # Money that moved for an order names it; adjustments, reserves and payouts need not.
        "WHEN lower(btrim(type)) IN ('charge', 'refund', 'chargeback', 'chargeback won', 'chargeback_won') "
        "AND coalesce(btrim(order_name), '') = '' THEN 'missing id: Order is empty for a ' || lower(btrim(type))",
        _unknown_currency("currency", "Currency"),
        _bad_number("amount", "Amount"),
        _bad_number("fee", "Fee"),
        _bad_number("net", "Net"),
        _bad_number("presentment_amount", "Presentment Amount", optional=True),
        _unknown_currency("presentment_currency", "Presentment Currency", optional=True),
        _bad_date("payout_date", "Payout Date", "staging_ingest.to_day", optional=True, what="a date"),
        _bad_date("available_on", "Available On", "staging_ingest.to_day", optional=True, what="a date"),
    ],
}

# What makes a row the same as another of its file: an order is its channel and id; a payout transaction
# (Shopify exports no id) its instant, type, order, money and checkout.
KEYS = {
    "marketplace-orders": ("btrim(channel) || ' ' || btrim(order_id)", "btrim(channel) || ' ' || btrim(order_id)"),
    "payouts": ("md5(concat_ws('|', staging_ingest.to_instant(btrim(transaction_date)), lower(btrim(type)), "
                "btrim(order_name), staging_ingest.to_money(amount), staging_ingest.to_money(fee), "
                "staging_ingest.to_money(net), upper(btrim(currency)), btrim(checkout)))",
                "concat_ws(' ', btrim(type), btrim(order_name), btrim(amount))"),
}


WORK_MEM = "256MB"


@dataclass(frozen=True)
class Checked:
    """Rows left to load, and rows moved to the rejects (bad, then duplicate)."""

    good: int
    bad: int
    duplicate: int


def check(*, session: Session, shop_id: int, batch_id: int, fmt: formats.Format) -> Checked:
    """Move the batch's bad and duplicate staged rows to upload_rejects; return the counts."""
    # The duplicate search sorts every row's key: in memory, not in temporary files (as Shopify's promotion).
    session.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
    raw = "concat_ws(',', " + ", ".join(f"quote_nullable({c.name})" for c in fmt.columns) + ")"
    reason = "CASE " + " ".join(REASONS[fmt.kind]) + " END"
    params = {"b": batch_id, "s": shop_id, "codes": sorted(formats.CURRENCIES)}
    bad = session.execute(text(f"""
        WITH bad AS MATERIALIZED (
            SELECT line_no, reason FROM (SELECT line_no, {reason} AS reason FROM {fmt.staging} WHERE batch_id = :b) x
            WHERE reason IS NOT NULL
        ), moved AS (
            INSERT INTO staging_ingest.upload_rejects (batch_id, shop_id, line_no, reason, raw)
            SELECT :b, :s, bad.line_no, bad.reason, {raw}
            FROM bad JOIN {fmt.staging} r ON r.batch_id = :b AND r.line_no = bad.line_no
        )
        DELETE FROM {fmt.staging} r USING bad WHERE r.batch_id = :b AND r.line_no = bad.line_no
    """), params).rowcount
    key, shown = KEYS[fmt.kind]
    duplicate = session.execute(text(f"""
        WITH ranked AS (
            SELECT line_no, {shown} AS shown,
                   first_value(line_no) OVER (PARTITION BY {key} ORDER BY line_no) AS first_line
            FROM {fmt.staging} WHERE batch_id = :b
        ), dup AS MATERIALIZED (SELECT * FROM ranked WHERE line_no <> first_line), moved AS (
            INSERT INTO staging_ingest.upload_rejects (batch_id, shop_id, line_no, reason, raw)
            SELECT :b, :s, dup.line_no, format('duplicate id: %s is already on line %s', dup.shown, dup.first_line),
                   {raw}
            FROM dup JOIN {fmt.staging} r ON r.batch_id = :b AND r.line_no = dup.line_no
        )
        DELETE FROM {fmt.staging} r USING dup WHERE r.batch_id = :b AND r.line_no = dup.line_no
    """), params).rowcount
    good = session.execute(text(f"SELECT count(*) FROM {fmt.staging} WHERE batch_id = :b"), params).scalar_one()
    return Checked(good, bad, duplicate)
