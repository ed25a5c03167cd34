"""The per-row checks, set-based, in one pass: each staged row's fields are typed once (TYPED) into the kind's
staging table with the row's first failing reason; bad and duplicate rows move to upload_rejects with their
line numbers and fields as read. What stays in staging is loadable as it is."""

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from ingest.uploads import formats
from ingest.uploads.stage import RAW

MONEY = "staging_ingest.to_money({})"
INSTANT = "staging_ingest.to_instant(btrim({}))"
DAY = "staging_ingest.to_day(btrim({}))"
TRIMMED = "btrim({})"
OPTIONAL = "nullif(btrim({}), '')"

# Each staging column from its field as read ({} is the raw column): the one conversion of the row.
TYPED = {
    "marketplace-orders": {
        "order_id": TRIMMED, "ordered_at": INSTANT, "currency": "upper(btrim({}))", "gross": MONEY,
        "discounts": MONEY, "refunds": MONEY, "fees": MONEY, "net": MONEY, "channel": TRIMMED,
    },
    "payouts": {
        "transaction_date": INSTANT, "type": "lower(btrim({}))", "order_name": OPTIONAL, "card_brand": OPTIONAL,
        "card_source": OPTIONAL, "payout_status": "nullif(lower(btrim({})), '')", "payout_date": DAY,
        "payout_id": OPTIONAL, "available_on": DAY, "amount": MONEY, "fee": MONEY, "net": MONEY,
        "checkout": OPTIONAL, "payment_method_name": OPTIONAL, "presentment_amount": MONEY,
        "presentment_currency": "nullif(upper(btrim({})), '')", "currency": "upper(btrim({}))",
    },
}

# Shopify's export has no transaction id: a transaction is its instant, type, order, money and checkout.
TRANSACTION_KEY = ("md5(concat_ws('|', v_transaction_date, v_type, btrim(order_name), v_amount, v_fee, v_net, "
                   "v_currency, btrim(checkout)))")


def _empty(column: str) -> str:
    return f"coalesce(btrim({column}), '') = ''"


def _missing_id(column: str, header: str) -> str:
    return f"WHEN {_empty(column)} THEN 'missing id: {header} is empty'"


def _bad_date(column: str, header: str, optional: bool = False,
              what: str = "a date and time with a UTC offset") -> str:
    guard = f"NOT {_empty(column)} AND " if optional else ""
    return (f"WHEN {guard}v_{column} IS NULL "
            f"THEN format('bad date: %s in {header} is not {what}', quote_literal(coalesce({column}, '')))")


def _bad_number(column: str, header: str, optional: bool = False) -> str:
    guard = f"NOT {_empty(column)} AND " if optional else ""
    return (f"WHEN {guard}v_{column} IS NULL "
            f"THEN format('bad number: %s in {header}', quote_literal(coalesce({column}, '')))")


def _unknown_currency(column: str, header: str, optional: bool = False) -> str:
    guard = f"NOT {_empty(column)} AND " if optional else ""
    return (f"WHEN {guard}NOT upper(coalesce(btrim({column}), '')) = ANY(CAST(:codes AS text[])) "
            f"THEN format('unknown currency: %s in {header}', quote_literal(coalesce({column}, '')))")


# Over the row as read (column) and as typed (v_column).
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
        _bad_date("payout_date", "Payout Date", optional=True, what="a date"),
        _bad_date("available_on", "Available On", optional=True, what="a date"),
    ],
}

# What makes a row the same as another of its file (over the staging table), and how a duplicate is named
# (over the row as read): an order is its channel and id; a payout transaction its TRANSACTION_KEY.
KEYS = {
    "marketplace-orders": ("channel, order_id", "btrim(r.channel) || ' ' || btrim(r.order_id)"),
    "payouts": ("transaction_key", "concat_ws(' ', btrim(r.type), btrim(r.order_name), btrim(r.amount))"),
}


WORK_MEM = "256MB"


@dataclass(frozen=True)
class Checked:
    """Rows left to load, and rows moved to the rejects (bad, then duplicate)."""

    good: int
    bad: int
    duplicate: int


def check(*, session: Session, shop_id: int, batch_id: int, fmt: formats.Format) -> Checked:
    """Check the staged rows: bad and duplicate ones move to upload_rejects; the good ones wait in the kind's
    staging table, or (marketplace orders) in the batch's own warehouse table (batch_table.py)."""
    # The duplicate search hashes every row's key: in memory, not in temporary files (as Shopify's promotion).
    session.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
    from ingest.uploads import batch_table  # (it builds on check_raw)

    if fmt.kind in batch_table.KINDS:
        return batch_table.build(session=session, shop_id=shop_id, batch_id=batch_id, fmt=fmt)
    return check_raw(session=session, shop_id=shop_id, batch_id=batch_id, fmt=fmt)


def check_raw(*, session: Session, shop_id: int, batch_id: int, fmt: formats.Format,
              dedupe: bool = True) -> Checked:
    """Type the staged rows of RAW into the kind's staging table, moving bad (and, `dedupe`, duplicate) ones to
    upload_rejects."""
    params = {"b": batch_id, "s": shop_id, "codes": sorted(formats.CURRENCIES)}
    typed = TYPED[fmt.kind]
    names = list(typed)
    extra = ", transaction_key" if fmt.kind == "payouts" else ""
    extra_value = f", {TRANSACTION_KEY}" if fmt.kind == "payouts" else ""
    # OFFSET 0 keeps the conversions in their own plan node: each runs once per row, however often the
    # reasons and the key name its result (a flattened subquery would repeat the expression at each use).
    staged = session.execute(text(f"""
        INSERT INTO {fmt.staging} (batch_id, line_no, {', '.join(names)}{extra}, reason)
        SELECT :b, line_no, {', '.join(f'v_{n}' for n in names)}{extra_value}, CASE {' '.join(REASONS[fmt.kind])} END
        FROM (SELECT {', '.join(f'r.{c.name}' for c in fmt.columns)}, r.line_no,
                     {', '.join(f'{expr.format(n)} AS v_{n}' for n, expr in typed.items())}
              FROM {RAW} r OFFSET 0) t
    """), params).rowcount
    raw = "concat_ws(',', " + ", ".join(f"quote_nullable(r.{c.name})" for c in fmt.columns) + ")"
    bad = session.execute(text(f"""
        WITH moved AS (
            INSERT INTO staging_ingest.upload_rejects (batch_id, shop_id, line_no, reason, raw)
            SELECT :b, :s, t.line_no, t.reason, {raw}
            FROM {fmt.staging} t JOIN {RAW} r ON r.line_no = t.line_no
            WHERE t.batch_id = :b AND t.reason IS NOT NULL
        )
        DELETE FROM {fmt.staging} WHERE batch_id = :b AND reason IS NOT NULL
    """), params).rowcount
    if not dedupe:
        return Checked(staged - bad, bad, 0)
    key, shown = KEYS[fmt.kind]
    # Keys seen more than once first (one hash aggregate, no sort of every row); only their rows are ranked, and
    # the rows are not read again at all when no key is (EXISTS over them is evaluated once, before the scan).
    duplicate = session.execute(text(f"""
        WITH repeated AS MATERIALIZED (
            SELECT {key} FROM {fmt.staging} WHERE batch_id = :b GROUP BY {key} HAVING count(*) > 1
        ), dup AS MATERIALIZED (
            SELECT line_no, first_line FROM (
                SELECT line_no, first_value(line_no) OVER (PARTITION BY {key} ORDER BY line_no) AS first_line
                FROM {fmt.staging}
                WHERE batch_id = :b AND EXISTS (SELECT FROM repeated) AND ({key}) IN (SELECT {key} FROM repeated)
            ) ranked
            WHERE line_no <> first_line
        ), moved AS (
            INSERT INTO staging_ingest.upload_rejects (batch_id, shop_id, line_no, reason, raw)
            SELECT :b, :s, dup.line_no, format('duplicate id: %s is already on line %s', {shown}, dup.first_line),
                   {raw}
            FROM dup JOIN {RAW} r ON r.line_no = dup.line_no
        )
        DELETE FROM {fmt.staging} t USING dup
        WHERE t.batch_id = :b AND t.line_no = dup.line_no AND EXISTS (SELECT FROM dup)
    """), params).rowcount
    return Checked(staged - bad - duplicate, bad, duplicate)
