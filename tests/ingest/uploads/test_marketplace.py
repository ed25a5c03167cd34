"""Marketplace orders from hand-written CSV files: every validation case with its line, the encodings and
delimiters, quoted newlines, the same file twice, a corrected file replacing its batch, a file too large."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

import settings
from database import session_scope
from tests.conftest import scalar
from tests.ingest.uploads.conftest import write

HEADER = "Order ID,Date,Currency,Gross,Discounts,Refunds,Fees,Net,Channel\r\n"


def _load(cli, capsys, shop, path, *extra):
    code = cli(["load", "--shop", shop[1], "--kind", "marketplace-orders", *extra, path])
    out = capsys.readouterr()
    return code, out.out, out.err


def _rejects(sessions) -> list[tuple[int, str]]:
    rows = scalar(sessions, "SELECT json_agg(json_build_array(line_no, reason) ORDER BY line_no) "
                            "FROM staging_ingest.upload_rejects")
    return [tuple(r) for r in rows or []]


def _orders(sessions) -> dict[str, tuple]:
    rows = scalar(sessions, """SELECT json_object_agg(channel || ':' || order_id,
                                   json_build_array(gross::text, discounts::text, net::text, currency, batch_id))
                               FROM core_warehouse.marketplace_orders""")
    return {k: tuple(v) for k, v in (rows or {}).items()}


def test_every_bad_row_is_listed_with_its_line_and_reason_and_the_good_rows_load(cli, capsys, shop, tmp_path,
                                                                                  scheduler_sessions):
    path = write(tmp_path / "orders.csv", HEADER
                 + "A-1,2026-11-30T14:05:00+01:00,EUR,59.90,5.00,0,7.19,47.71,Amazon\r\n"  # 2 good
                 + "A-2,30/11/2026 14:05,EUR,10.00,0,0,1,9,Amazon\r\n"  # 3 bad date
                 + "A-3,2026-11-30T14:05:00,EUR,10.00,0,0,1,9,Amazon\r\n"  # 4 no offset: bad date
                 + "A-4,2026-11-30T14:05:00+01:00,EUR,ten,0,0,1,9,Amazon\r\n"  # 5 bad number
                 + "A-5,2026-11-30T14:05:00+01:00,EUR,10.00,0,0,1.234.5,9,Amazon\r\n"  # 6 bad number (fees)
                 + "A-6,2026-11-30T14:05:00+01:00,EUX,10.00,0,0,1,9,Amazon\r\n"  # 7 unknown currency
                 + ",2026-11-30T14:05:00+01:00,EUR,10.00,0,0,1,9,Amazon\r\n"  # 8 missing id
                 + "A-1,2026-11-30T15:00:00+01:00,EUR,20.00,0,0,1,19,Amazon\r\n"  # 9 duplicate id
                 + "A-1,2026-11-30T16:00:00+01:00,EUR,30.00,,,,30,Zalando\r\n"  # 10 good: another channel
                 + "A-7,2026-11-30T14:05:00+01:00,EUR,10.00,0\r\n"  # 11 too few fields
                 + "A-8,2026-12-01T00:30:00+01:00,usd,\"1,234.50\",0,0,0,\"1,234.50\",Amazon\r\n")  # 12 good
    code, out, err = _load(cli, capsys, shop, path)
    assert (code, err) == (0, "")
    assert "partially_loaded: 11 rows, 3 loaded, 8 rejected" in out
    assert _rejects(scheduler_sessions) == [
        (3, "bad date: '30/11/2026 14:05' in Date is not a date and time with a UTC offset"),
        (4, "bad date: '2026-11-30T14:05:00' in Date is not a date and time with a UTC offset"),
        (5, "bad number: 'ten' in Gross"),
        (6, "bad number: '1.234.5' in Fees"),
        (7, "unknown currency: 'EUX' in Currency"),
        (8, "missing id: Order ID is empty"),
        (9, "duplicate id: Amazon A-1 is already on line 2"),
        (11, "5 fields where the header has 9"),
    ]
    assert "line 3: bad date" in out and "line 11: 5 fields" in out  # the CLI prints the first bad rows
    assert _orders(scheduler_sessions) == {
        "Amazon:A-1": ("59.90", "5.00", "47.71", "EUR", 1), "Zalando:A-1": ("30.00", "0.00", "30.00", "EUR", 1),
        "Amazon:A-8": ("1234.50", "0.00", "1234.50", "USD", 1)}
    # The channel rollup, by the store's day (Paris): A-8 at 00:30 on 1 December is that day's.
    assert scalar(scheduler_sessions, """
        SELECT json_agg(json_build_array(day::text, channel, currency, orders, net_sales::text) ORDER BY day, channel)
        FROM reporting.daily_channel_sales""") == [
        ["2026-11-30", "Amazon", "EUR", 1, "54.90"], ["2026-11-30", "Zalando", "EUR", 1, "30.00"],
        ["2026-12-01", "Amazon", "USD", 1, "1234.50"]]
    steps = scalar(scheduler_sessions, "SELECT json_agg(json_build_array(step, rows, good, bad) ORDER BY id) "
                                       "FROM app_dashboard.upload_log")
    assert steps == [["received", None, None, None], ["parsed", 11, 3, 8], ["loaded", 11, 3, 8],
                     ["reconciled", 0, 0, 0]]


@pytest.mark.parametrize("encoding, delimiter, bom", [("utf-8", ";", True), ("utf-8", ",", False),
                                                      ("latin-1", "\t", False)])
def test_encodings_and_delimiters(cli, capsys, shop, tmp_path, scheduler_sessions, encoding, delimiter, bom):
    rows = [["Order ID", "Date", "Currency", "Gross", "Discounts", "Refunds", "Fees", "Net", "Channel"],
            ["É-1", "2026-11-30T14:05:00+01:00", "EUR", "12,50" if delimiter != "," else "12.50", "0", "0", "1",
             "11,50" if delimiter != "," else "11.50", "Cdiscount Été"]]
    text = "\r\n".join(delimiter.join(r) for r in rows) + "\r\n"
    path = tmp_path / "orders.csv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding))
    code, out, err = _load(cli, capsys, shop, str(path))
    assert (code, err) == (0, ""), out
    assert _orders(scheduler_sessions) == {"Cdiscount Été:É-1": ("12.50", "0.00", "11.50", "EUR", 1)}


def test_quoted_newlines_keep_the_line_numbers_of_the_rows_after_them(cli, capsys, shop, tmp_path,
                                                                       scheduler_sessions):
    path = write(tmp_path / "orders.csv", "Order ID,Date,Currency,Gross,Net,Channel,Note\n"
                 "A-1,2026-11-30T14:05:00+01:00,EUR,10,10,Amazon,\"gift wrap,\nleave at the door\n\"\"fragile\"\"\"\n"
                 "A-2,2026-11-30T14:05:00+01:00,EUR,oops,10,Amazon,\n")
    code, out, _ = _load(cli, capsys, shop, path)
    assert code == 0
    assert _rejects(scheduler_sessions) == [(5, "bad number: 'oops' in Gross")]
    assert list(_orders(scheduler_sessions)) == ["Amazon:A-1"]


def test_headers_match_case_and_space_insensitively_and_a_mapping_names_the_others(cli, capsys, shop, tmp_path,
                                                                                    scheduler_sessions):
    text = ("  order id ,DATE,currency,GROSS,net proceeds,Storefront\n"
            "A-1,2026-11-30T14:05:00+01:00,EUR,10,9,Amazon\n")
    path = write(tmp_path / "orders.csv", text)
    code, _, err = _load(cli, capsys, shop, path)
    assert code == 2
    assert err.count("\n") == 1 and "missing column Channel" in err and "Storefront" in err
    assert scalar(scheduler_sessions, "SELECT count(*) FROM app_dashboard.upload_batches") == 0
    code, out, err = _load(cli, capsys, shop, path, "--map", "Storefront=Channel")
    assert (code, err) == (0, ""), out
    assert _orders(scheduler_sessions) == {"Amazon:A-1": ("10.00", "0.00", "9.00", "EUR", 1)}


def test_the_same_file_twice_is_recognised_and_not_loaded_again(cli, capsys, shop, tmp_path, scheduler_sessions):
    path = write(tmp_path / "orders.csv", HEADER + "A-1,2026-11-30T14:05:00+01:00,EUR,10,0,0,1,9,Amazon\r\n")
    assert _load(cli, capsys, shop, path)[0] == 0
    before = _orders(scheduler_sessions)
    copy = tmp_path / "renamed.csv"
    copy.write_bytes((tmp_path / "orders.csv").read_bytes())
    code, out, _ = _load(cli, capsys, shop, str(copy))
    assert code == 0 and "already uploaded: batch 1 holds this file (loaded)" in out
    assert scalar(scheduler_sessions, "SELECT count(*) FROM app_dashboard.upload_batches") == 1
    assert scalar(scheduler_sessions, "SELECT count(*) FROM app_dashboard.sync_jobs") == 1
    assert _orders(scheduler_sessions) == before


def test_a_corrected_file_for_the_same_period_replaces_the_earlier_batch(cli, capsys, shop, tmp_path,
                                                                         scheduler_sessions):
    first = write(tmp_path / "november.csv", HEADER
                  + "A-1,2026-11-01T10:00:00+01:00,EUR,10,0,0,1,9,Amazon\r\n"
                  + "A-2,2026-11-15T10:00:00+01:00,EUR,20,0,0,2,18,Amazon\r\n"
                  + "A-3,2026-11-30T10:00:00+01:00,EUR,30,0,0,3,27,Amazon\r\n")
    assert _load(cli, capsys, shop, first)[0] == 0
    corrected = write(tmp_path / "november-fixed.csv", HEADER  # A-2 was never sold; A-3's gross was wrong
                      + "A-1,2026-11-01T10:00:00+01:00,EUR,10,0,0,1,9,Amazon\r\n"
                      + "A-3,2026-11-30T10:00:00+01:00,EUR,33,0,0,3,30,Amazon\r\n")
    code, out, _ = _load(cli, capsys, shop, corrected)
    assert code == 0 and "batch 2 loaded" in out
    assert _orders(scheduler_sessions) == {"Amazon:A-1": ("10.00", "0.00", "9.00", "EUR", 2),
                                           "Amazon:A-3": ("33.00", "0.00", "30.00", "EUR", 2)}
    assert scalar(scheduler_sessions, "SELECT json_agg(json_build_array(id, status, replaced_by) ORDER BY id) "
                                      "FROM app_dashboard.upload_batches") == [[1, "replaced", 2], [2, "loaded", None]]
    assert scalar(scheduler_sessions, "SELECT json_agg(json_build_array(day::text, net_sales::text) ORDER BY day) "
                                      "FROM reporting.daily_channel_sales") == [["2026-11-01", "10.00"],
                                                                                ["2026-11-30", "33.00"]]
    assert scalar(scheduler_sessions, "SELECT count(*) FROM app_dashboard.upload_log WHERE step = 'replaced' "
                                      "AND batch_id = 1") == 1
    # Each batch's rows are a partition of their own: the replaced batch's went with its rows.
    assert scalar(scheduler_sessions, "SELECT json_agg(c.relname ORDER BY c.relname) FROM pg_inherits i "
                                      "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = "
                                      "'core_warehouse.marketplace_orders'::regclass") == [
        "marketplace_orders_2", "marketplace_orders_default"]
    assert scalar(scheduler_sessions, "SELECT to_regclass('core_warehouse.marketplace_orders_1')") is None


def test_a_file_over_the_limit_is_refused_before_anything_is_kept(cli, capsys, shop, tmp_path, upload_dir,
                                                                   scheduler_sessions, monkeypatch):
    monkeypatch.setattr(settings, "UPLOAD_MAX_BYTES", 100)
    path = write(tmp_path / "orders.csv", HEADER + "A-1,2026-11-30T14:05:00+01:00,EUR,10,0,0,1,9,Amazon\r\n")
    code, out, err = _load(cli, capsys, shop, path)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "over the 0.0 MiB limit (UPLOAD_MAX_BYTES = 100 bytes)" in err
    assert not upload_dir.exists() or not any(upload_dir.rglob("*"))
    assert scalar(scheduler_sessions, "SELECT count(*) FROM app_dashboard.upload_batches") == 0


def test_an_unknown_shop_an_empty_file_and_a_missing_file_are_one_line_errors(cli, capsys, shop, tmp_path):
    empty = write(tmp_path / "empty.csv", "")
    for args, expected in (([shop[1], empty], "the file is empty"),
                           (["nope.myshopify.com", empty], "unknown shop nope.myshopify.com"),
                           ([shop[1], str(tmp_path / "missing.csv")], "no such file")):
        code = cli(["load", "--shop", args[0], "--kind", "marketplace-orders", args[1]])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and expected in err, err


def test_a_file_without_a_good_row_fails_keeps_its_bad_rows_and_may_be_sent_again(cli, capsys, shop, tmp_path,
                                                                                   scheduler_sessions):
    path = write(tmp_path / "orders.csv", HEADER + "A-1,yesterday,EUR,10,0,0,1,9,Amazon\r\n")
    code, out, _ = _load(cli, capsys, shop, path)
    assert code == 1 and "batch 1 failed" in out and "no row of the file could be loaded" in out
    assert _rejects(scheduler_sessions) == [
        (2, "bad date: 'yesterday' in Date is not a date and time with a UTC offset")]
    assert scalar(scheduler_sessions, "SELECT status FROM app_dashboard.sync_jobs") == "failed"
    assert scalar(scheduler_sessions, "SELECT step FROM app_dashboard.upload_log ORDER BY id DESC LIMIT 1") == "failed"
    code, out, _ = _load(cli, capsys, shop, path)  # a failed batch does not hold its file: it is tried again
    assert code == 1 and "batch 2 failed" in out


def test_the_channel_rollup_follows_every_update_and_delete_of_the_orders(cli, capsys, shop, tmp_path,
                                                                         scheduler_sessions):
    path = write(tmp_path / "orders.csv", HEADER
                 + "A-1,2026-11-01T10:00:00+01:00,EUR,10,1,0,1,8,Amazon\r\n"
                 + "A-2,2026-11-01T11:00:00+01:00,EUR,20,0,2,2,16,Amazon\r\n"
                 + "A-3,2026-11-02T10:00:00+01:00,EUR,30,0,0,3,27,eBay\r\n")
    assert _load(cli, capsys, shop, path)[0] == 0
    rollup = ("SELECT json_agg(json_build_array(day::text, channel, orders, gross::text, net_sales::text) "
              "ORDER BY day, channel) FROM reporting.daily_channel_sales")
    recomputed = ("SELECT json_agg(json_build_array(day::text, channel, n, gross::text, net::text) "
                  "ORDER BY day, channel) FROM (SELECT (ordered_at AT TIME ZONE 'Europe/Paris')::date AS day, "
                  "channel, count(*) AS n, sum(gross) AS gross, sum(gross - discounts - refunds) AS net "
                  "FROM core_warehouse.marketplace_orders GROUP BY 1, 2) r")
    assert scalar(scheduler_sessions, rollup) == [["2026-11-01", "Amazon", 2, "30.00", "27.00"],
                                                  ["2026-11-02", "eBay", 1, "30.00", "30.00"]]
    # An order moved to another day and channel, one deleted: each statement's rows move the sums exactly.
    for sql in ("UPDATE core_warehouse.marketplace_orders SET ordered_at = ordered_at + interval '1 day', "
                "channel = 'eBay', gross = gross + 5 WHERE order_id = 'A-1'",
                "DELETE FROM core_warehouse.marketplace_orders WHERE order_id = 'A-3'"):
        with session_scope(scheduler_sessions) as session:
            session.execute(text(sql))
    assert scalar(scheduler_sessions, rollup) == [["2026-11-01", "Amazon", 1, "20.00", "18.00"],
                                                  ["2026-11-02", "eBay", 1, "15.00", "14.00"]]
    assert scalar(scheduler_sessions, rollup) == scalar(scheduler_sessions, recomputed)


def test_orders_name_an_existing_store_and_go_with_it(cli, capsys, shop, tmp_path, scheduler_sessions,
                                                      owner_sessions):
    path = write(tmp_path / "orders.csv", HEADER + "A-1,2026-11-01T10:00:00+01:00,EUR,10,0,0,1,9,Amazon\r\n")
    assert _load(cli, capsys, shop, path)[0] == 0
    with pytest.raises(IntegrityError, match="name shop 999999, which does not exist"), \
            session_scope(scheduler_sessions) as session:
        session.execute(text("UPDATE core_warehouse.marketplace_orders SET shop_id = 999999"))
    with session_scope(owner_sessions) as session:
        session.execute(text("DELETE FROM app_dashboard.shops WHERE id = :s"), {"s": shop[0]})
    assert scalar(owner_sessions, "SELECT count(*) FROM core_warehouse.marketplace_orders") == 0
    assert scalar(owner_sessions, "SELECT count(*) FROM reporting.daily_channel_sales") == 0


def test_a_column_of_the_files_own_after_ours_is_left_out(cli, capsys, shop, tmp_path, scheduler_sessions):
    path = write(tmp_path / "orders.csv", HEADER.rstrip() + ",Note\r\n"
                 + "A-1,2026-11-01T10:00:00+01:00,EUR,10,1,0,1,8,Amazon,gift wrap\r\n")
    code, out, err = _load(cli, capsys, shop, path)
    assert (code, err) == (0, ""), out
    assert _orders(scheduler_sessions) == {"Amazon:A-1": ("10.00", "1.00", "8.00", "EUR", 1)}
    # The batch's table took the note in a column of its own for the COPY; attached, it is the parent's shape,
    # its load-time defaults and line sequence gone (loaded_at keeps the parent's).
    assert scalar(scheduler_sessions, """
        SELECT json_build_array(
            (SELECT array_agg(attname::text ORDER BY attnum) FROM pg_attribute WHERE attnum > 0
             AND NOT attisdropped AND attrelid = 'core_warehouse.marketplace_orders_1'::regclass),
            (SELECT array_agg(a.attname::text) FROM pg_attrdef d JOIN pg_attribute a
             ON a.attrelid = d.adrelid AND a.attnum = d.adnum
             WHERE d.adrelid = 'core_warehouse.marketplace_orders_1'::regclass),
            to_regclass('core_warehouse.marketplace_orders_1_line') IS NULL)""") == [
        ["shop_id", "channel", "order_id", "batch_id", "line_no", "ordered_at", "currency", "gross", "discounts",
         "refunds", "fees", "net", "loaded_at"], ["loaded_at"], True]
