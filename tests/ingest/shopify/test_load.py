"""Landing lines with COPY (bad lines quarantined) and promoting them by Shopify's update rules."""

import json

from sqlalchemy import text

from database import session_scope
from ingest.shopify import load
from ingest.shopify.sync import load_lines
from tests.conftest import scalar


def test_flatten_turns_a_paged_node_into_bulk_lines():
    node = {"__typename": "Order", "id": "gid://shopify/Order/1", "refunds": [
        {"id": "gid://shopify/Refund/9", "refundLineItems": {"pageInfo": {"hasNextPage": False}, "nodes": [
            {"__typename": "RefundLineItem", "id": "gid://shopify/RefundLineItem/5"}]}}],
        "lineItems": {"pageInfo": {"hasNextPage": True}, "nodes": [{"__typename": "LineItem", "id": "L1"}]},
        "totalPriceSet": {"shopMoney": {"amount": "1.00"}}}
    truncated = set()
    lines = list(load.flatten(node, truncated))
    assert lines == [
        {"__typename": "Order", "id": "gid://shopify/Order/1", "refunds": [{"id": "gid://shopify/Refund/9"}],
         "totalPriceSet": {"shopMoney": {"amount": "1.00"}}},
        {"__typename": "RefundLineItem", "id": "gid://shopify/RefundLineItem/5", "__parentId": "gid://shopify/Refund/9"},
        {"__typename": "LineItem", "id": "L1", "__parentId": "gid://shopify/Order/1"},
    ]
    assert truncated == {"gid://shopify/Order/1"}  # its line items did not fit one page


def order(number: int, updated: str, total: str, **extra) -> dict:
    money = {"shopMoney": {"amount": total, "currencyCode": "EUR"},
             "presentmentMoney": {"amount": total, "currencyCode": "EUR"}}
    return {"__typename": "Order", "id": f"gid://shopify/Order/{number}", "name": f"#{number}",
            "createdAt": "2026-01-01T10:00:00Z", "updatedAt": updated, "test": False, "totalPriceSet": money,
            "tags": ["vip"], "transactions": [], "refunds": [], **extra}


def land_lines(sessions, shop_id, lines: list[bytes]):
    with session_scope(sessions) as session:
        return load_lines(session=session, shop_id=shop_id, job_id=None, origin="test", parts=["orders"],
                          lines=lines)


def test_bad_lines_are_quarantined_with_their_line_number_and_the_rest_loads(scheduler_sessions, make_shop):
    shop_id = make_shop()
    lines = [json.dumps(order(1, "2026-01-02T00:00:00Z", "10.00")).encode(),
             b'{"__typename": "Order", "id": "gid://shopify/Or',  # cut off
             json.dumps(order(2, "2026-01-02T00:00:00Z", "20.00", note="nul \u0000 inside")).encode(),
             b"[1, 2]",  # not an object
             json.dumps(order(3, "2026-01-02T00:00:00Z", "30.00")).encode()]
    landed = land_lines(scheduler_sessions, shop_id, lines)
    assert (landed.lines, landed.quarantined) == (2, 3)
    reasons = scalar(scheduler_sessions, "SELECT string_agg(line_no || ': ' || reason, ' | ' ORDER BY line_no) "
                                         "FROM staging_ingest.quarantine")
    assert reasons.startswith("2: malformed JSON") and "3: malformed JSON: \\u0000" in reasons
    assert "4: malformed JSON: a line must be a JSON object" in reasons
    assert scalar(scheduler_sessions, "SELECT string_agg(name, ',' ORDER BY name) FROM core_warehouse.orders") == \
        "#1,#3"
    assert scalar(scheduler_sessions, "SELECT total_price_shop || ' ' || tags[1] FROM core_warehouse.orders "
                                      "WHERE name = '#3'") == "30.00 vip"


def test_an_older_payload_never_replaces_a_newer_one(scheduler_sessions, make_shop):
    shop_id = make_shop()
    newer = json.dumps(order(1, "2026-01-05T00:00:00Z", "15.00")).encode()
    older = json.dumps(order(1, "2026-01-03T00:00:00Z", "10.00")).encode()
    land_lines(scheduler_sessions, shop_id, [newer])
    land_lines(scheduler_sessions, shop_id, [older])  # a late webhook or an old page
    assert scalar(scheduler_sessions, "SELECT total_price_shop FROM core_warehouse.orders") == 15
    land_lines(scheduler_sessions, shop_id, [older, newer])  # both in one batch: the newest wins, once
    assert scalar(scheduler_sessions, "SELECT count(*) || ' ' || max(total_price_shop) FROM core_warehouse.orders") \
        == "1 15.00"


def test_a_first_load_finds_each_childs_order_by_primary_key(scheduler_sessions, make_shop):
    # A fresh warehouse has no statistics: a plain join was planned as a scan of the shop's orders for every
    # child line, quadratic in the batch (seconds for a small store's first backfill).
    from sqlalchemy import text

    from ingest.shopify import promote

    shop_id = make_shop()
    lines = []
    for number in range(1, 301):
        lines.append(json.dumps(order(number, "2026-01-02T00:00:00Z", "10.00")).encode())
        lines += [json.dumps({"__typename": "LineItem", "id": f"gid://shopify/LineItem/{number}{n}",
                              "__parentId": f"gid://shopify/Order/{number}", "quantity": 1}).encode()
                  for n in range(2)]
    with session_scope(scheduler_sessions) as session:
        batch = load.create_batch(session=session, shop_id=shop_id, job_id=None, origin="bulk", parts=["orders"])
        landed = load.land(session=session, shop_id=shop_id, batch_id=batch, lines=lines)
    load.promote_batch(sessions=scheduler_sessions, shop_id=shop_id, batch_id=batch, parts=["orders"])
    assert scalar(scheduler_sessions, "SELECT count(*) FROM core_warehouse.order_line_items") == 600
    with session_scope(scheduler_sessions) as session:
        plan = "\n".join(session.execute(text("EXPLAIN " + promote.LINE_ITEMS), {
            "shop": shop_id, "batch": landed.batch_id, "lo": 0, "hi": landed.last_line}).scalars())
    assert "Index Scan using orders_pkey" in plan, plan


def test_a_line_with_a_framing_byte_is_quarantined_and_its_buffer_still_loads(scheduler_sessions, make_shop):
    shop_id = make_shop()
    lines = [json.dumps(order(1, "2026-01-02T00:00:00Z", "10.00")).encode(),
             b'{"__typename": "Order", "id": "gid://shopify/Order/2", "note": "\x02"}',  # raw control byte
             json.dumps(order(3, "2026-01-02T00:00:00Z", "30.00")).encode()]
    landed = land_lines(scheduler_sessions, shop_id, lines)
    assert (landed.lines, landed.quarantined) == (2, 1)
    assert scalar(scheduler_sessions, "SELECT line_no || ': ' || reason FROM staging_ingest.quarantine") == \
        "2: control character outside a JSON string"
    assert scalar(scheduler_sessions, "SELECT string_agg(name, ',' ORDER BY name) FROM core_warehouse.orders") == \
        "#1,#3"


def test_a_backfill_leaves_no_table_the_rollups_read_doubled_past_its_statistics(scheduler_sessions, make_shop):
    # The rollups' triggers plan on these tables' statistics; a table more than doubled since is analyzed after
    # the chunk that grew it (a sales chunk once took 73 s on statistics taken before the backfill).
    from ingest.shopify import promote

    stats = ("SELECT c.relname, c.relpages, pg_relation_size(c.oid) / current_setting('block_size')::int "
             "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'core_warehouse' "
             "AND c.relname = ANY(:t) ORDER BY 1")
    with session_scope(scheduler_sessions) as session:
        before = {r[0]: r[1:] for r in session.execute(text(stats), {"t": list(promote.ROLLUP_READS)})}
    orders = max(300, before["order_line_items"][1] // 2 + 50)  # five pages of line items each: the table doubles
    title = "x" * 1500  # a line item of about 1.6 kB, five to a page
    lines = []
    for number in range(1, orders + 1):
        lines.append(json.dumps(order(number, "2026-01-02T00:00:00Z", "10.00")).encode())
        lines += [json.dumps({"__typename": "LineItem", "id": f"gid://shopify/LineItem/{number}-{n}",
                              "__parentId": f"gid://shopify/Order/{number}", "quantity": 1, "title": title}).encode()
                  for n in range(2)]
    shop_id = make_shop()
    with session_scope(scheduler_sessions) as session:
        batch = load.create_batch(session=session, shop_id=shop_id, job_id=None, origin="bulk", parts=["orders"])
        load.land(session=session, shop_id=shop_id, batch_id=batch, lines=lines)
    load.promote_batch(sessions=scheduler_sessions, shop_id=shop_id, batch_id=batch, parts=["orders"],
                       chunk=len(lines) // 3)
    with session_scope(scheduler_sessions) as session:
        after = {r[0]: r[1:] for r in session.execute(text(stats), {"t": list(promote.ROLLUP_READS)})}
    assert after["order_line_items"][1] > 2 * before["order_line_items"][1]  # the load did double it
    too_small = promote.ANALYZE_FROM_BYTES // 8192
    assert all(pages <= max(2 * counted, too_small) for counted, pages in after.values()), after
