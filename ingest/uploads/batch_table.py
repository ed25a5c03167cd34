"""A marketplace-orders batch's own warehouse table (migrations 0020, 0022): its good rows written once, typed; its
indexes built once over it, the key's unique index being the duplicate check. Promotion attaches it to
core_warehouse.marketplace_orders (promote.py).

A file COPYed as it is went straight into the table (stage.py), its doubted rows into RAW: here rows of a
currency not in ISO 4217 join them, they are checked as every row of a file read as text is
(checks.check_raw), and the good ones join the table; each bad row gets its reason, a row merely doubted
(1,234.50) loads as before. From a file read as text, all rows are so checked and the good ones written.
"""

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ingest.uploads import batches, checks, formats, stage

KINDS = stage.DIRECT_KINDS
COLUMNS = "shop_id, channel, order_id, batch_id, line_no, ordered_at, currency, gross, discounts, refunds, fees, net"


def name(batch_id: int) -> str:
    """The batch's table (made and named by the migrations' functions)."""
    return f"core_warehouse.marketplace_orders_{int(batch_id)}"


def _copied(session: Session) -> bool:
    """Whether staging COPYed the file into the batch's table."""
    return session.execute(text(f"SELECT to_regclass('{stage.DIRECT}')")).scalar() is not None


def build(*, session: Session, shop_id: int, batch_id: int, fmt: formats.Format) -> checks.Checked:
    """Check the rows staging doubted (or, the file read as text, all of them) into the batch's table, reject
    bad and duplicate rows, build its indexes."""
    table = name(batch_id)
    if _copied(session):
        _doubt_currencies(session=session, batch_id=batch_id, fmt=fmt, table=table)
    else:
        session.execute(text("SELECT core_warehouse.create_marketplace_batch(:b)"), {"b": batch_id})
    bad = duplicate = 0
    if session.execute(text(f"SELECT to_regclass('{stage.RAW}')")).scalar() is not None:
        checked = checks.check_raw(session=session, shop_id=shop_id, batch_id=batch_id, fmt=fmt,
                                   dedupe=not _copied(session))
        _take_staged(session=session, batch_id=batch_id, shop_id=shop_id, table=table)
        bad, duplicate = checked.bad, checked.duplicate
    duplicate += _index(session=session, shop_id=shop_id, batch_id=batch_id, fmt=fmt, table=table)
    good = _sum(session=session, shop_id=shop_id, batch_id=batch_id, table=table)
    return checks.Checked(good, bad, duplicate)


def _doubt_currencies(*, session: Session, batch_id: int, fmt: formats.Format, table: str) -> None:
    """Rows of the table whose currency is not ISO 4217's leave it for RAW, to be checked (and refused) there:
    before the duplicate check, as a file read as text has its bad rows out before its duplicates are sought."""
    lines = list(session.scalars(text(f"SELECT line_no FROM {table} WHERE currency <> ALL(CAST(:codes AS text[]))"),
                                 {"codes": sorted(formats.CURRENCIES)}))
    if lines:
        session.execute(text(f"DELETE FROM {table} WHERE line_no = ANY(:lines)"), {"lines": lines})
        batch = batches.get(session=session, batch_id=batch_id)
        stage.restage_lines(session=session, fmt=fmt, path=batch.path, mapping=batch.mapping, lines=lines)


def _sum(*, session: Session, shop_id: int, batch_id: int, table: str) -> int:
    """The batch's channel sums per local day, for promotion's rollup (in this transaction: its rows are this
    transaction's own, read without setting hint bits); returns its rows. Net sales from the sums (numeric:
    exact), not per row."""
    session.execute(text("DELETE FROM staging_ingest.upload_channel_sums WHERE batch_id = :b"), {"b": batch_id})
    timezone = session.execute(text("SELECT iana_timezone FROM app_dashboard.shops WHERE id = :s"),
                               {"s": shop_id}).scalar()
    session.execute(text(f"""
        INSERT INTO staging_ingest.upload_channel_sums (batch_id, shop_id, day, channel, currency, orders, gross,
            discounts, refunds, fees, net_sales)
        SELECT :b, :s, (ordered_at AT TIME ZONE CAST(:tz AS text))::date, channel, currency, count(*), sum(gross),
               sum(discounts), sum(refunds), sum(fees), sum(gross) - sum(discounts) - sum(refunds)
        FROM {table} GROUP BY 3, 4, 5
    """), {"b": batch_id, "s": shop_id, "tz": timezone})
    return session.execute(text("SELECT coalesce(sum(orders), 0) FROM staging_ingest.upload_channel_sums "
                                "WHERE batch_id = :b"), {"b": batch_id}).scalar()


def _take_staged(*, session: Session, batch_id: int, shop_id: int, table: str) -> None:
    """Move the checked rows of the staging table into the batch's table."""
    session.execute(text(f"""
        INSERT INTO {table} ({COLUMNS})
        SELECT :s, channel, order_id, :b, line_no, ordered_at, currency, gross, coalesce(discounts, 0),
               coalesce(refunds, 0), coalesce(fees, 0), net
        FROM staging_ingest.marketplace_order_rows WHERE batch_id = :b
    """), {"b": batch_id, "s": shop_id})
    session.execute(text("DELETE FROM staging_ingest.marketplace_order_rows WHERE batch_id = :b"), {"b": batch_id})


def _index(*, session: Session, shop_id: int, batch_id: int, fmt: formats.Format, table: str) -> int:
    """Build the key's unique index (on a duplicate key: reject the later rows, then build it) and the day's.
    Returns how many duplicates went."""
    duplicate = 0
    savepoint = session.begin_nested()
    try:
        session.execute(text("SELECT core_warehouse.index_marketplace_batch(:b, true)"), {"b": batch_id})
        savepoint.commit()
    except IntegrityError:
        savepoint.rollback()
        duplicate = _reject_duplicates(session=session, shop_id=shop_id, batch_id=batch_id, fmt=fmt, table=table)
        session.execute(text("SELECT core_warehouse.index_marketplace_batch(:b, true)"), {"b": batch_id})
    session.execute(text("SELECT core_warehouse.index_marketplace_batch(:b, false)"), {"b": batch_id})
    return duplicate


def _reject_duplicates(*, session: Session, shop_id: int, batch_id: int, fmt: formats.Format, table: str) -> int:
    """Every row of a key after its first line goes to upload_rejects, its fields read again from the file."""
    params = {"b": batch_id, "s": shop_id}
    session.execute(text(f"""
        CREATE TEMPORARY TABLE upload_duplicates ON COMMIT DROP AS
        WITH repeated AS MATERIALIZED (
            SELECT channel, order_id FROM {table} GROUP BY channel, order_id HAVING count(*) > 1
        )
        SELECT line_no, first_line FROM (
            SELECT line_no, first_value(line_no) OVER (PARTITION BY channel, order_id ORDER BY line_no) AS first_line
            FROM {table} WHERE (channel, order_id) IN (SELECT channel, order_id FROM repeated)
        ) ranked
        WHERE line_no <> first_line
    """))
    lines = list(session.scalars(text("SELECT line_no FROM upload_duplicates ORDER BY 1")))
    if _copied(session):  # RAW holds only the doubted rows
        batch = batches.get(session=session, batch_id=batch_id)
        stage.restage_lines(session=session, fmt=fmt, path=batch.path, mapping=batch.mapping, lines=lines)
    raw = "concat_ws(',', " + ", ".join(f"quote_nullable(r.{c.name})" for c in fmt.columns) + ")"
    session.execute(text(f"""
        INSERT INTO staging_ingest.upload_rejects (batch_id, shop_id, line_no, reason, raw)
        SELECT :b, :s, d.line_no, format('duplicate id: %s is already on line %s',
                                         btrim(r.channel) || ' ' || btrim(r.order_id), d.first_line), {raw}
        FROM upload_duplicates d JOIN {stage.RAW} r ON r.line_no = d.line_no
    """), params)
    session.execute(text(f"DELETE FROM {table} t USING upload_duplicates d WHERE t.line_no = d.line_no"))
    session.execute(text("DROP TABLE upload_duplicates"))
    return len(lines)
