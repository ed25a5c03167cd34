"""The two ways a file is staged, COPY as it is and Python's csv row by row, give the same rows, lines and reasons.

Each example stages and checks one file both ways in a transaction rolled back, against the same batch.
"""

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import text

from database import session_scope
from ingest.uploads import batch_table, checks, formats, stage
from models import UploadBatch

ORDERS = formats.MARKETPLACE_ORDERS
# Per column, values good and bad (none holds a quote: a quoted file is always read by Python).
# Some COPY would type otherwise than the checks read them, were they not doubted (plain_lines.py): an instant
# without an offset or a word for one, 12.345 (rounded by numeric(20, 2), thousands to to_money), 1e-3, \\N.
VALUES = {
    "order_id": ["A-1", "A-2", "A-3", " A-4 ", "", "É-5", "\\N"],
    "ordered_at": ["2026-11-30T14:05:00+01:00", "2026-11-30 14:05:12 +0100", "2026-11-30T23:30:00Z",
                   "30/11/2026 14:05", "2026-11-30T14:05:00", "yesterday", "", "2026-02-30T10:00:00+01:00",
                   "now", "infinity", "20261130T140500+0100", "2026-11-30T14:05:00.25-03:30"],
    "currency": ["EUR", "usd", " GBP ", "EUX", "", "ABC"],
    "gross": ["59.90", "10", "1.234,50", "12,50", "ten", "", "-3", "1e3", ".5", "0x1F", "1_000", "NaN", "Infinity",
              "12.345", "1e-3", "+5"],
    "discounts": ["0", "", "5.00", "x", "1.005"],
    "refunds": ["0", "", "1.5"],
    "fees": ["1", "", "1.234.5", "7.19"],
    "net": ["47.71", "9", "", "abc"],
    "channel": ["Amazon", "Zalando", "Cdiscount Été", "", " eBay "],
}
FUZZ = hypothesis_settings(max_examples=40, deadline=None, derandomize=True,
                           phases=[Phase.explicit, Phase.generate, Phase.shrink],
                           suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture
def batch(shop, scheduler_sessions, tmp_path):
    """A batch for the shop, its file written by each example."""
    with session_scope(scheduler_sessions) as session:
        row = UploadBatch(shop_id=shop[0], kind=ORDERS.kind, filename="orders.csv", sha256="0" * 64, size_bytes=1,
                          path=str(tmp_path / "orders.csv"))
        session.add(row)
        session.flush()
        return row.id, shop[0], tmp_path / "orders.csv"


def staged_both_ways(sessions, batch, fmt=ORDERS, direct=True):
    """(how, staged rows, rejects, typed rows) for the file staged by COPY, then by Python."""
    batch_id, shop_id, path = batch
    results = []
    for copy_file in (True, False):
        with sessions() as session:
            staged = stage.stage(session=session, shop_id=shop_id, batch_id=batch_id, fmt=fmt, path=path,
                                 copy_file=copy_file)
            # A marketplace-orders file COPYed goes straight into its batch's table (unless many rows are doubted).
            assert staged.typed == (direct and staged.copied and fmt is ORDERS)
            checked = checks.check(session=session, shop_id=shop_id, batch_id=batch_id, fmt=fmt)
            rejects = session.execute(text("SELECT line_no, reason, raw FROM staging_ingest.upload_rejects "
                                           "WHERE batch_id = :b ORDER BY line_no"), {"b": batch_id}).all()
            # Marketplace orders' good rows wait in the batch's own table, the others' in staging.
            good = (f"SELECT {batch_table.COLUMNS} FROM {batch_table.name(batch_id)}" if fmt is ORDERS
                    else f"SELECT * FROM {fmt.staging} WHERE batch_id = :b")
            typed = session.execute(text(good + " ORDER BY line_no"), {"b": batch_id}).all()
            session.rollback()
        results.append((staged.copied, (staged.rows + staged.rejected, checked), rejects, typed))
    return results


def _file(header, rows, delimiter, newline, encoding, bom, trailing):
    body = newline.join(delimiter.join(r) for r in [header, *rows]) + newline + newline * trailing
    return (b"\xef\xbb\xbf" if bom else b"") + body.encode(encoding)


@st.composite
def files(draw):
    """An unquoted marketplace-orders file: our columns in any order (optional ones may lack, one of the file's
    own may come), rows good and bad, any delimiter, encoding and line end, maybe a row of another width."""
    columns = [c.name for c in ORDERS.columns if c.required or draw(st.booleans())]
    columns = draw(st.permutations(columns))
    extra = draw(st.booleans())
    header = [next(c.header for c in ORDERS.columns if c.name == name) for name in columns] + (["Note"] * extra)
    rows = draw(st.lists(st.tuples(*(st.sampled_from(VALUES[name]) for name in columns),
                                   *([st.sampled_from(["", "gift wrap", "fragile"])] * extra)).map(list),
                         min_size=1, max_size=12))
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    rows = [[v.replace(",", ".") if delimiter == "," and draw(st.booleans()) else v for v in row] for row in rows]
    if draw(st.booleans()):  # a row of another width (a comma in a comma file also makes one)
        rows.insert(draw(st.integers(0, len(rows))), rows[0][:-1])
    rectangular = all(len(delimiter.join(row).split(delimiter)) == len(header) for row in rows)
    encoding = draw(st.sampled_from(["utf-8", "latin-1"]))
    return _file(header, rows, delimiter, draw(st.sampled_from(["\n", "\r\n"])), encoding,
                 encoding == "utf-8" and draw(st.booleans()), draw(st.integers(0, 2))), rectangular


def test_a_file_copied_as_it_is_stages_as_python_reads_it(batch, scheduler_sessions):
    path = batch[2]

    @FUZZ
    @given(file=files())
    def check(file):
        content, rectangular = file
        path.write_bytes(content)
        try:
            (copied, *by_copy), (parsed, *by_python) = staged_both_ways(scheduler_sessions, batch)
        except formats.HeaderError:  # the delimiter found is not the file's (a tab file of 1,234.50): refused
            return
        assert not parsed
        assert by_copy == by_python
        assert copied == rectangular  # COPY takes every file whose rows are all the header's width

    check()


def test_the_copy_lists_bad_rows_with_their_lines_after_a_header_over_two_lines(batch, scheduler_sessions):
    batch[2].write_bytes(b'\xef\xbb\xbf"Order\nID";Date;Currency;Gross;Net;Channel\r\n'
                         b"A-1;2026-11-30T14:05:00+01:00;EUR;10;9;Amazon\r\n"
                         b"A-2;2026-11-30T14:05:00+01:00;EUR;ten;9;Amazon\r\n"
                         b"A-1;2026-11-30T15:05:00+01:00;EUR;10;9;Amazon\r\n\r\n")
    (copied, *by_copy), (_, *by_python) = staged_both_ways(scheduler_sessions, batch)
    assert copied and by_copy == by_python
    assert [(line, reason) for line, reason, _ in by_copy[1]] == [
        (4, "bad number: 'ten' in Gross"), (5, "duplicate id: Amazon A-1 is already on line 3")]


def test_payouts_stage_alike_either_way(shop, scheduler_sessions, tmp_path):
    path = tmp_path / "payouts.csv"
    with session_scope(scheduler_sessions) as session:
        row = UploadBatch(shop_id=shop[0], kind="payouts", filename="p.csv", sha256="1" * 64, size_bytes=1,
                          path=str(path))
        session.add(row)
        session.flush()
        batch = (row.id, shop[0], path)
    good = list(formats.PAYOUTS.example)
    rows = [good, [*good[:9], "x", *good[10:]], [*good[:1], "refund", "", *good[3:]], good,
            [*good[:6], "2026-13-01", *good[7:16], "EUX"]]
    path.write_bytes(("\t".join(formats.PAYOUTS.headers()) + "\n"
                      + "".join("\t".join(r) + "\n" for r in rows)).encode())
    (copied, *by_copy), (_, *by_python) = staged_both_ways(scheduler_sessions, batch, fmt=formats.PAYOUTS)
    assert copied and by_copy == by_python
    assert [(line, reason.split(":")[0]) for line, reason, _ in by_copy[1]] == [
        (3, "bad number"), (4, "missing id"), (5, "duplicate id"), (6, "unknown currency")]


@pytest.mark.parametrize("odd", ["0x1F", "0B1", "0o17", "1_000"])
def test_money_is_decimal_text_either_way(batch, scheduler_sessions, odd):
    # numeric alone would read 0x1F as 31 and 1_000 as 1000; a money column means neither, nor NaN.
    values = ["1e3", ".5", odd, "NaN", "Infinity", "1.2345"]
    batch[2].write_bytes(("Order ID,Date,Currency,Gross,Net,Channel\n" + "".join(
        f"A-{n},2026-11-30T14:05:00+01:00,EUR,{v},1,Amazon\n" for n, v in enumerate(values))).encode())
    (copied, *by_copy), (_, *by_python) = staged_both_ways(scheduler_sessions, batch)
    assert copied and by_copy == by_python
    assert [(line, reason) for line, reason, _ in by_copy[1]] == [
        (n + 2, f"bad number: '{v}' in Gross") for n, v in enumerate(values) if n >= 2]
    assert [(row.order_id, row.gross) for row in by_copy[2]] == [("A-0", 1000), ("A-1", Decimal("0.50"))]


def test_a_file_of_many_doubted_rows_is_copied_as_text_instead(batch, scheduler_sessions):
    # Decimal commas: every row doubted (plain_lines.py), more than stage.SKIPPED_PER_PIECE in the one piece.
    rows = stage.SKIPPED_PER_PIECE + 1
    batch[2].write_bytes(("Order ID;Date;Currency;Gross;Net;Channel\n" + "".join(
        f"A-{n};2026-11-30T14:05:00+01:00;EUR;12,{n % 100:02d};9;Amazon\n" for n in range(rows))
        + "A-0;2026-11-30T15:05:00+01:00;EUR;1;1;Amazon\n").encode())
    (copied, *by_copy), (_, *by_python) = staged_both_ways(scheduler_sessions, batch, direct=False)
    assert copied and by_copy[0][0] == rows + 1
    assert by_copy == by_python
    assert [(line, reason) for line, reason, _ in by_copy[1]] == [
        (rows + 2, "duplicate id: Amazon A-0 is already on line 2")]
    assert by_copy[2][1].gross == Decimal("12.01")
