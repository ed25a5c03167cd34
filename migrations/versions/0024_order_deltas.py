"""Customer facts follow inserted orders by deltas; anything a delta cannot follow exactly is recounted as before.

Revision ID: 0024
Revises: 0023

A backfill's orders part noted every customer of its inserted orders, and reporting.flush_customers recomputed
each from all their orders and sales at the chunk's commit (about 1.6 s of a 50,000-order backfill). Now the
statement trigger on inserted orders takes the store's flush lock (as the sales trigger does, so the facts it
reads stay as read until commit) and, per customer of its new orders that are neither test nor deleted:
- a customer without facts gets them from these orders (first order, first and last day, count, and the net
  sales of any of their sales already loaded), and counts in reporting.customer_days;
- a customer with facts whose first order stays first (the new orders all come after it, by the flush's order:
  creation time, then id) gets the count added, the last day moved up and the net sales added, and the changed
  span counted out and in;
- anything else (a new first order, a customer already noted for a recount in this transaction, a first order
  not found) is noted for the full recount as before.
Updated and deleted orders are noted for the full recount as before. The days of the new orders and their
agreements are noted as before (their placed counts read the facts at the flush).
"""

import importlib
import re

from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

V0010 = importlib.import_module("migrations.versions.0010_rollups")
V0018 = importlib.import_module("migrations.versions.0018_customer_reads")

TOUCH_ORDERS_0010 = (re.search(r"CREATE FUNCTION reporting.touch_orders\(\).*?END \$\$;", V0010.FUNCTIONS, re.S)
                     .group(0).replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"))
LOCAL_DAY = "(c.created_at AT TIME ZONE sh.iana_timezone)::date"
PLACED = "c.customer_id IS NOT NULL AND NOT c.is_test AND c.deleted_at IS NULL"
# A customer's span as reporting.customer_days counts it: first day, last day, two or more orders.
SPAN_OUT_IN = """(j.old_first, j.old_last, j.old_orders >= 2, -1),
            (coalesce(j.old_first, j.first_day), greatest(j.old_last, j.last_day),
             coalesce(j.old_orders, 0) + j.orders >= 2, 1)"""

TOUCH_ORDERS = f"""
CREATE OR REPLACE FUNCTION reporting.touch_orders() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO reporting.rollup_dirty_days (xact, shop_id, day)
    SELECT DISTINCT reporting.current_xact(), x.shop_id, x.day FROM (
        SELECT c.shop_id, {LOCAL_DAY} AS day
        FROM changed c JOIN app_dashboard.shops sh ON sh.id = c.shop_id
        UNION ALL
        SELECT a.shop_id, (a.happened_at AT TIME ZONE sh.iana_timezone)::date
        FROM changed c JOIN core_warehouse.order_agreements a ON a.shop_id = c.shop_id AND a.order_id = c.order_id
        JOIN app_dashboard.shops sh ON sh.id = c.shop_id
    ) x ON CONFLICT DO NOTHING;
    IF TG_OP = 'INSERT' THEN
        -- The flush's lock, taken now: the customer facts read below stay as read until commit.
        PERFORM pg_advisory_xact_lock(1013, shop_id::integer) FROM (SELECT DISTINCT shop_id FROM changed ORDER BY 1) s;
        WITH placed AS MATERIALIZED (  -- each customer's new orders
            SELECT c.shop_id, c.customer_id,
                   (array_agg(c.order_id ORDER BY c.created_at, c.order_id))[1] AS first_order_id,
                   min(c.created_at) AS first_at, min({LOCAL_DAY}) AS first_day, max({LOCAL_DAY}) AS last_day,
                   count(*) AS orders
            FROM changed c JOIN app_dashboard.shops sh ON sh.id = c.shop_id
            WHERE {PLACED}
            GROUP BY c.shop_id, c.customer_id
        ), judged AS MATERIALIZED (
            SELECT p.*, cf.first_order_day AS old_first, cf.last_order_day AS old_last, cf.orders AS old_orders,
                   CASE WHEN n.customer_id IS NOT NULL THEN 'recount'
                        WHEN cf.customer_id IS NULL THEN 'new'
                        WHEN (p.first_at, p.first_order_id) > (o.created_at, o.order_id) THEN 'later'
                        ELSE 'recount' END AS how
            FROM placed p
            LEFT JOIN reporting.rollup_dirty_customers n
                ON n.xact = reporting.current_xact() AND n.shop_id = p.shop_id AND n.customer_id = p.customer_id
            LEFT JOIN reporting.customer_facts cf ON cf.shop_id = p.shop_id AND cf.customer_id = p.customer_id
            LEFT JOIN core_warehouse.orders o ON o.shop_id = cf.shop_id AND o.order_id = cf.first_order_id
        ), sold AS (  -- sales loaded before their orders (none in a backfill's order)
            SELECT c.shop_id, c.customer_id, sum(s.total_amount_shop - s.tax_shop) AS net
            FROM changed c
            JOIN core_warehouse.order_agreements a ON a.shop_id = c.shop_id AND a.order_id = c.order_id
            JOIN core_warehouse.order_sales s ON s.shop_id = a.shop_id AND s.agreement_id = a.agreement_id
            WHERE {PLACED} AND s.line_type = 'PRODUCT'
            GROUP BY c.shop_id, c.customer_id
        ), recounted AS (
            INSERT INTO reporting.rollup_dirty_customers (xact, shop_id, customer_id)
            SELECT reporting.current_xact(), shop_id, customer_id FROM judged WHERE how = 'recount'
            ON CONFLICT DO NOTHING
        ), born AS (
            INSERT INTO reporting.customer_facts (shop_id, customer_id, display_name, email, first_order_id,
                first_order_day, last_order_day, orders, net_sales)
            SELECT j.shop_id, j.customer_id, cu.display_name, cu.email, j.first_order_id, j.first_day, j.last_day,
                   j.orders, coalesce(s.net, 0)
            FROM judged j
            LEFT JOIN sold s ON s.shop_id = j.shop_id AND s.customer_id = j.customer_id
            LEFT JOIN core_warehouse.customers cu ON cu.shop_id = j.shop_id AND cu.customer_id = j.customer_id
            WHERE j.how = 'new'
        ), grown AS (
            UPDATE reporting.customer_facts cf SET orders = cf.orders + j.orders,
                last_order_day = greatest(cf.last_order_day, j.last_day), net_sales = cf.net_sales + coalesce(s.net, 0)
            FROM judged j LEFT JOIN sold s ON s.shop_id = j.shop_id AND s.customer_id = j.customer_id
            WHERE j.how = 'later' AND cf.shop_id = j.shop_id AND cf.customer_id = j.customer_id
        ), spans AS (
            SELECT j.shop_id, v.first_day, v.last_day, v.repeat, v.sign
            FROM judged j CROSS JOIN LATERAL (VALUES
            {SPAN_OUT_IN}
            ) v (first_day, last_day, repeat, sign)
            WHERE j.how IN ('new', 'later') AND v.first_day IS NOT NULL
              AND (j.old_first, j.old_last, j.old_orders >= 2) IS DISTINCT FROM
                  (coalesce(j.old_first, j.first_day), greatest(j.old_last, j.last_day),
                   coalesce(j.old_orders, 0) + j.orders >= 2)
        )
        {V0018.COUNT_SPANS};
        -- Days counted down to nothing go, as a recount would have none (found by the partial index).
        DELETE FROM reporting.customer_days d USING (SELECT DISTINCT shop_id FROM changed) c
        WHERE d.shop_id = c.shop_id AND d.firsts = 0 AND d.firsts_repeat = 0 AND d.lasts = 0 AND d.lasts_repeat = 0;
    ELSE
        INSERT INTO reporting.rollup_dirty_customers (xact, shop_id, customer_id)
        SELECT DISTINCT reporting.current_xact(), shop_id, customer_id FROM changed WHERE customer_id IS NOT NULL
        ON CONFLICT DO NOTHING;
    END IF;
    PERFORM reporting.queue_flush();
    RETURN NULL;
END $$;
-- Each customer's facts and first order are rows found by key (the planner's statistics lag behind a backfill).
ALTER FUNCTION reporting.touch_orders() SET enable_memoize = off;
ALTER FUNCTION reporting.touch_orders() SET enable_bitmapscan = off;
"""


def upgrade() -> None:
    op.execute(TOUCH_ORDERS)


def downgrade() -> None:
    op.execute("ALTER FUNCTION reporting.touch_orders() RESET ALL")
    op.execute(TOUCH_ORDERS_0010)
