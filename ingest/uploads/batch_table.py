"""A marketplace-orders batch's own warehouse table (migration 0020): its good rows written once, typed, straight
from what COPY staged; its indexes built once over it, the key's unique index being the duplicate check.
Promotion attaches it to core_warehouse.marketplace_orders (promote.py).

From TYPED (the file COPYed with its money typed), one INSERT takes every row a quick test finds loadable as
it is; the rest (rows COPY skipped, rows the test doubts) are read again from the file as text and checked as
every row of a file read as text is (checks.check_raw), so each bad row gets its reason and a row the quick
test merely doubted (1,234.50) loads as before. From RAW (the file read as text), the good rows of the checks.
"""

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ingest.uploads import batches, checks, formats, stage

KINDS = ("marketplace-orders",)
COLUMNS = "shop_id, channel, order_id, batch_id, line_no, ordered_at, currency, gross, discounts, refunds, fees, net"


def name(batch_id: int) -> str:
    """The batch's table (made and named by the migration's functions)."""
    return f"core_warehouse.marketplace_orders_{int(batch_id)}"


def _money_ok(column: str, optional: bool = False) -> str:
    # What to_money's first branch accepts (numeric's reading, two decimals at most, below numeric(20, 2)'s limit).
    test = f"scale({column}) <= 2 AND abs({column}) < 1e18"
    return f"({column} IS NULL OR {test})" if optional else f"{test}"


# The instants' usual shapes, each one to_instant accepts (no fraction of a second; an offset +hh:mm, Z, or
# Shopify's +hhmm): the separators by LIKE, the digits by taking the separators out (a separator character in a
# digit's place shortens what is left) and trimming digits; cheap string functions where to_instant's translate
# and pattern were most of the test's cost. Any other shape is doubted, and to_instant reads it.
SHAPES = ("____-__-__T__:__:__+__:__", "____-__-__T__:__:__-__:__", "____-__-__T__:__:__Z",
          "____-__-__ __:__:__ +____", "____-__-__ __:__:__ -____")
# ({0}: the instant as read; {1}: its DIGITS, computed once in a subquery of their own.)
DIGITS = ("replace(replace(replace(replace(replace(replace({0}, '-', ''), ':', ''), 'T', ''), '+', ''), ' ', ''), "
          "'Z', '')")
INSTANT = ("CASE WHEN (" + " OR ".join(f"{{0}} LIKE '{shape}'" for shape in SHAPES) + ") "
           "AND btrim({1}, '0123456789') = '' AND length({1}) = length({0}) - 7 + (length({0}) = 20)::int "
           "AND pg_input_is_valid({0}, 'timestamptz') THEN CAST({0} AS timestamptz) END")

# A row of TYPED loadable as it is: what check_raw would find of its text, tested on its typed fields.
LOADABLE = " AND ".join([
    "v_order_id <> ''", "v_channel <> ''", "v_ordered_at IS NOT NULL", "v_currency = ANY(CAST(:codes AS text[]))",
    _money_ok("gross"), _money_ok("net"), *(_money_ok(c, optional=True) for c in ("discounts", "refunds", "fees")),
])


def build(*, session: Session, shop_id: int, batch_id: int, fmt: formats.Format) -> checks.Checked:
    """Make the batch's table from TYPED or RAW, reject bad and duplicate rows, build its indexes."""
    session.execute(text("SELECT core_warehouse.create_marketplace_batch(:b)"), {"b": batch_id})
    params = {"b": batch_id, "s": shop_id, "codes": sorted(formats.CURRENCIES)}
    table = name(batch_id)
    if session.execute(text(f"SELECT to_regclass('{stage.TYPED}')")).scalar() is None:
        checked = checks.check_raw(session=session, shop_id=shop_id, batch_id=batch_id, fmt=fmt)
        _take_staged(session=session, batch_id=batch_id, shop_id=shop_id, table=table)
        bad, duplicate = checked.bad, checked.duplicate
    else:
        # OFFSET 0: the instant is converted once per row, however often the test names it. A row whose instant
        # has another shape (fractions of a second, no seconds) is doubted, and to_instant reads it.
        inserted = session.execute(text(f"""
            INSERT INTO {table} ({COLUMNS})
            SELECT :s, v_channel, v_order_id, :b, line_no, v_ordered_at, v_currency, gross, coalesce(discounts, 0),
                   coalesce(refunds, 0), coalesce(fees, 0), net
            FROM (SELECT *, {INSTANT.format('ordered_at', 'digits')} AS v_ordered_at
                  FROM (SELECT *, {DIGITS.format('ordered_at')} AS digits, btrim(order_id) AS v_order_id,
                               btrim(channel) AS v_channel, upper(btrim(currency)) AS v_currency
                        FROM {stage.TYPED} OFFSET 0) d OFFSET 0) t
            WHERE {LOADABLE}
        """), params).rowcount
        bad = _check_doubted(session=session, shop_id=shop_id, batch_id=batch_id, fmt=fmt, table=table,
                             inserted=inserted)
        duplicate = 0
    duplicate += _index(session=session, shop_id=shop_id, batch_id=batch_id, fmt=fmt, table=table)
    good = _sum(session=session, shop_id=shop_id, batch_id=batch_id, table=table)
    return checks.Checked(good, bad, duplicate)


def _sum(*, session: Session, shop_id: int, batch_id: int, table: str) -> int:
    """The batch's channel sums per local day, for promotion's rollup (in this transaction: its rows are this
    transaction's own, read without setting hint bits); returns its rows."""
    session.execute(text("DELETE FROM staging_ingest.upload_channel_sums WHERE batch_id = :b"), {"b": batch_id})
    timezone = session.execute(text("SELECT iana_timezone FROM app_dashboard.shops WHERE id = :s"),
                               {"s": shop_id}).scalar()
    session.execute(text(f"""
        INSERT INTO staging_ingest.upload_channel_sums (batch_id, shop_id, day, channel, currency, orders, gross,
            discounts, refunds, fees, net_sales)
        SELECT :b, :s, (ordered_at AT TIME ZONE CAST(:tz AS text))::date, channel, currency, count(*), sum(gross),
               sum(discounts), sum(refunds), sum(fees), sum(gross - discounts - refunds)
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


def _check_doubted(*, session: Session, shop_id: int, batch_id: int, fmt: formats.Format, table: str,
                   inserted: int) -> int:
    """The lines TYPED's INSERT left out (COPY skipped them, or the test doubted them), read again as text and
    checked so; the good ones join the batch's table. Returns how many were bad."""
    first, last = session.execute(text(f"""
        SELECT s.seqstart, currval(s.seqrelid)
        FROM pg_sequence s WHERE s.seqrelid = pg_get_serial_sequence('{stage.TYPED}', 'line_no')::regclass
    """)).one()
    if inserted == last - first + 1:
        return 0
    lines = list(session.scalars(text(f"""
        SELECT g FROM generate_series(CAST(:first AS bigint), :last) g
        EXCEPT ALL SELECT line_no FROM {table} ORDER BY 1
    """), {"first": first, "last": last}))
    batch = batches.get(session=session, batch_id=batch_id)
    stage.restage_lines(session=session, fmt=fmt, path=batch.path, mapping=batch.mapping, lines=lines)
    checked = checks.check_raw(session=session, shop_id=shop_id, batch_id=batch_id, fmt=fmt, dedupe=False)
    _take_staged(session=session, batch_id=batch_id, shop_id=shop_id, table=table)
    return checked.bad


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
    if session.execute(text(f"SELECT to_regclass('{stage.TYPED}')")).scalar() is not None:
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
