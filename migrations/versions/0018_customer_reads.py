"""Customer reads at 50 stores: net sales in cents for index ranges under RLS, and customers counted per day.

Revision ID: 0018
Revises: 0017

reporting.customer_facts.net_cents is net_sales in cents (a stored generated column). Under row-level security
a reader's condition becomes an index condition only when its operator is leakproof: numeric comparisons are
not, bigint ones are. So the top customers' threshold on net_cents reaches the index for the web role too; the
index on (shop_id, net_cents DESC, customer_id) also gives one store's report in its own order (net_sales is
never null, so cents descending, then the customer, is the report's order).

reporting.customer_days counts, per store and shop-local day, the customers whose first order fell on it
(`firsts`) and whose last order fell on it (`lasts`), and of each those with two or more orders to date
(`*_repeat`). A customer ordered in [lo, hi] when first <= hi and last >= lo; those with last < lo all have
first <= hi (given lo <= hi), so the period's count is the firsts up to hi less the lasts before lo. The
customer flush keeps it: a customer whose span or repeat status changed takes the old span out and puts the
new one in. reporting.rebuild_rollups recounts it from customer_facts after recomputing the customers.
"""

import importlib
import re

from alembic import op

from migrations.rls import SCHEDULER_ROLE, tenant_table

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

V0010 = importlib.import_module("migrations.versions.0010_rollups")
V0015 = importlib.import_module("migrations.versions.0015_reports_speed")

LOCAL_DAY = V0010.LOCAL_DAY
SUMMARY_0015 = re.search(r"CREATE OR REPLACE VIEW reporting.customer_summary .*?;\n", V0015.VIEWS, re.S).group(0)
assert "{reporting_join" not in SUMMARY_0015 and SUMMARY_0015.count("\nFROM reporting.customer_facts c") == 1
SUMMARY = SUMMARY_0015.replace("\nFROM reporting.customer_facts c",
                               ",\n       c.net_cents\nFROM reporting.customer_facts c")

EMPTY_DAY = "d.firsts = 0 AND d.firsts_repeat = 0 AND d.lasts = 0 AND d.lasts_repeat = 0"
CUSTOMER_DAYS = f"""
CREATE TABLE reporting.customer_days (
    shop_id      bigint NOT NULL REFERENCES app_dashboard.shops (id) ON DELETE CASCADE,
    day          date NOT NULL,
    firsts       integer NOT NULL DEFAULT 0,
    firsts_repeat integer NOT NULL DEFAULT 0,
    lasts        integer NOT NULL DEFAULT 0,
    lasts_repeat integer NOT NULL DEFAULT 0,
    PRIMARY KEY (shop_id, day)
);
CREATE INDEX customer_days_empty_idx ON reporting.customer_days (shop_id) WHERE {EMPTY_DAY.replace("d.", "")};

-- Every customer of one shop (or all, when NULL) counted again from customer_facts.
CREATE FUNCTION reporting.recount_customer_days(shop bigint) RETURNS void LANGUAGE sql AS $$
    DELETE FROM reporting.customer_days WHERE shop IS NULL OR shop_id = shop;
    INSERT INTO reporting.customer_days (shop_id, day, firsts, firsts_repeat, lasts, lasts_repeat)
    SELECT shop_id, day, sum(firsts), sum(firsts_repeat), sum(lasts), sum(lasts_repeat)
    FROM (SELECT shop_id, first_order_day AS day, count(*) AS firsts, count(*) FILTER (WHERE orders >= 2)
                     AS firsts_repeat, 0 AS lasts, 0 AS lasts_repeat
          FROM reporting.customer_facts WHERE shop IS NULL OR shop_id = shop GROUP BY 1, 2
          UNION ALL
          SELECT shop_id, last_order_day, 0, 0, count(*), count(*) FILTER (WHERE orders >= 2)
          FROM reporting.customer_facts WHERE shop IS NULL OR shop_id = shop GROUP BY 1, 2) x
    GROUP BY shop_id, day
$$;
"""

# Customers' spans (first day, last day, repeat) counted out (-1) and in (+1) of their days' counts.
COUNT_SPANS = """INSERT INTO reporting.customer_days AS d (shop_id, day, firsts, firsts_repeat, lasts, lasts_repeat)
        SELECT s.shop_id, e.day, coalesce(sum(s.sign) FILTER (WHERE e.first), 0),
               coalesce(sum(s.sign) FILTER (WHERE e.first AND s.repeat), 0),
               coalesce(sum(s.sign) FILTER (WHERE NOT e.first), 0),
               coalesce(sum(s.sign) FILTER (WHERE NOT e.first AND s.repeat), 0)
        FROM spans s CROSS JOIN LATERAL (VALUES (s.first_day, true), (s.last_day, false)) e (day, first)
        GROUP BY s.shop_id, e.day
        ON CONFLICT (shop_id, day) DO UPDATE SET firsts = d.firsts + excluded.firsts,
            firsts_repeat = d.firsts_repeat + excluded.firsts_repeat, lasts = d.lasts + excluded.lasts,
            lasts_repeat = d.lasts_repeat + excluded.lasts_repeat"""

# reporting.flush_customers of migration 0010, keeping reporting.customer_days: each changed customer's old
# span (first and last order day, two or more orders) counted out, the new one in. A changed first order day
# is now written even when nothing else changed (a store's new timezone), so the counts follow what is kept.
FLUSH_CUSTOMERS = f"""
CREATE OR REPLACE FUNCTION reporting.flush_customers(me bigint) RETURNS void LANGUAGE sql AS $$
    WITH fresh AS MATERIALIZED (
        SELECT n.shop_id, n.customer_id, cf.first_order_id AS old_first_order_id, f.first_order_id,
               f.first_order_day, f.last_order_day, f.orders, coalesce(net.net_sales, 0) AS net_sales,
               c.display_name, c.email, cf.first_order_day AS old_first_order_day,
               cf.last_order_day AS old_last_order_day, cf.orders AS old_orders
        FROM (SELECT DISTINCT shop_id, customer_id FROM reporting.rollup_dirty_customers WHERE xact = me) n
        JOIN app_dashboard.shops sh ON sh.id = n.shop_id
        LEFT JOIN reporting.customer_facts cf ON cf.shop_id = n.shop_id AND cf.customer_id = n.customer_id
        CROSS JOIN LATERAL (
            SELECT (array_agg(o.order_id ORDER BY o.created_at, o.order_id))[1] AS first_order_id,
                   min({LOCAL_DAY.format(column="o.created_at")}) AS first_order_day,
                   max({LOCAL_DAY.format(column="o.created_at")}) AS last_order_day, count(*) AS orders
            FROM core_warehouse.orders o
            WHERE o.shop_id = n.shop_id AND o.customer_id = n.customer_id AND NOT o.is_test AND o.deleted_at IS NULL
        ) f
        CROSS JOIN LATERAL (
            SELECT sum(s.total_amount_shop - s.tax_shop) AS net_sales
            FROM core_warehouse.orders o
            JOIN core_warehouse.order_agreements a ON a.shop_id = o.shop_id AND a.order_id = o.order_id
            JOIN core_warehouse.order_sales s ON s.shop_id = a.shop_id AND s.agreement_id = a.agreement_id
            WHERE o.shop_id = n.shop_id AND o.customer_id = n.customer_id AND NOT o.is_test
              AND o.deleted_at IS NULL AND s.line_type = 'PRODUCT'
        ) net
        LEFT JOIN core_warehouse.customers c ON c.shop_id = n.shop_id AND c.customer_id = n.customer_id
    ), gone AS (
        DELETE FROM reporting.customer_facts cf USING fresh
        WHERE fresh.orders = 0 AND cf.shop_id = fresh.shop_id AND cf.customer_id = fresh.customer_id
    ), kept AS (
        INSERT INTO reporting.customer_facts AS cf (shop_id, customer_id, display_name, email, first_order_id,
            first_order_day, last_order_day, orders, net_sales)
        SELECT shop_id, customer_id, display_name, email, first_order_id, first_order_day, last_order_day, orders,
               net_sales FROM fresh WHERE orders > 0
        ON CONFLICT (shop_id, customer_id) DO UPDATE SET display_name = excluded.display_name,
            email = excluded.email, first_order_id = excluded.first_order_id,
            first_order_day = excluded.first_order_day, last_order_day = excluded.last_order_day,
            orders = excluded.orders, net_sales = excluded.net_sales
        WHERE (cf.display_name, cf.email, cf.first_order_id, cf.first_order_day, cf.last_order_day, cf.orders,
               cf.net_sales)
              IS DISTINCT FROM (excluded.display_name, excluded.email, excluded.first_order_id,
                                excluded.first_order_day, excluded.last_order_day, excluded.orders,
                                excluded.net_sales)
    ), spans AS (
        SELECT f.shop_id, v.first_day, v.last_day, v.repeat, v.sign
        FROM fresh f CROSS JOIN LATERAL (VALUES
            (f.old_first_order_day, f.old_last_order_day, f.old_orders >= 2, -1),
            (CASE WHEN f.orders > 0 THEN f.first_order_day END, f.last_order_day, f.orders >= 2, 1)
        ) v (first_day, last_day, repeat, sign)
        WHERE v.first_day IS NOT NULL
          AND (f.old_first_order_day, f.old_last_order_day, f.old_orders >= 2)
              IS DISTINCT FROM (CASE WHEN f.orders > 0 THEN f.first_order_day END, f.last_order_day, f.orders >= 2)
    ), counted AS (
        {COUNT_SPANS}
    ), moved AS (
        SELECT DISTINCT shop_id, order_id
        FROM fresh, unnest(ARRAY[old_first_order_id, first_order_id]) AS order_id
        WHERE old_first_order_id IS DISTINCT FROM first_order_id AND order_id IS NOT NULL
    )
    INSERT INTO reporting.rollup_dirty_days (xact, shop_id, day)
    SELECT DISTINCT me, x.shop_id, x.day FROM (
        SELECT o.shop_id, {LOCAL_DAY.format(column="o.created_at")} AS day
        FROM moved m JOIN core_warehouse.orders o ON o.shop_id = m.shop_id AND o.order_id = m.order_id
        JOIN app_dashboard.shops sh ON sh.id = m.shop_id
        UNION ALL
        SELECT a.shop_id, {LOCAL_DAY.format(column="a.happened_at")}
        FROM moved m JOIN core_warehouse.order_agreements a ON a.shop_id = m.shop_id AND a.order_id = m.order_id
        JOIN app_dashboard.shops sh ON sh.id = m.shop_id
    ) x ON CONFLICT DO NOTHING;
    -- Days counted down to nothing go, as a recount would have none (found by the partial index).
    DELETE FROM reporting.customer_days d
    USING (SELECT DISTINCT shop_id FROM reporting.rollup_dirty_customers WHERE xact = me) n
    WHERE d.shop_id = n.shop_id AND {EMPTY_DAY}
$$;
"""

REBUILD_0010 = re.search(r"CREATE FUNCTION reporting.rebuild_rollups\(.*?END \$\$;", V0010.FUNCTIONS, re.S).group(0)
assert REBUILD_0010.count("    PERFORM reporting.flush_rollups();\n") == 1
# reporting.rebuild_rollups of migration 0010, then the day counts of the shop's customers recounted (a rebuild
# repairs lost rows; the flush's counts only move what it changes).
REBUILD = REBUILD_0010.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION").replace(
    "    PERFORM reporting.flush_rollups();\n",
    "    PERFORM reporting.flush_rollups();\n    PERFORM reporting.recount_customer_days(shop);\n")

INDEXES_0015 = ("CREATE INDEX customer_facts_last_order_idx ON reporting.customer_facts (shop_id, last_order_day) "
                "INCLUDE (first_order_day, net_sales)")
INDEXES_0012 = ("CREATE INDEX customer_facts_net_sales_idx ON reporting.customer_facts (shop_id, net_sales DESC) "
                "INCLUDE (first_order_day, last_order_day)")
# Tables and views get the schema's default privileges (the web reads, the scheduler writes); functions are
# the writer's alone.
GRANTS = f"""
REVOKE EXECUTE ON FUNCTION reporting.recount_customer_days(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reporting.recount_customer_days(bigint) TO {SCHEDULER_ROLE};
"""


# The view is replaced after its table is altered: take the view first, in the order a reader takes them (a
# reader holding the view and waiting for the table would otherwise deadlock with the migration). Setting an
# option it already has locks the view alone (LOCK TABLE on a view would lock the stores and rates as well).
LOCK_VIEW = "ALTER VIEW reporting.customer_summary SET (security_invoker = true)"


def upgrade() -> None:
    op.execute(LOCK_VIEW)
    # One rewrite of the table (the generated column), then the two indexes that read by cents.
    op.execute("DROP INDEX reporting.customer_facts_net_sales_idx, reporting.customer_facts_last_order_idx")
    op.execute("ALTER TABLE reporting.customer_facts ADD COLUMN net_cents bigint "
               "GENERATED ALWAYS AS ((net_sales * 100)::bigint) STORED")
    op.execute("CREATE INDEX customer_facts_net_cents_idx ON reporting.customer_facts "
               "(shop_id, net_cents DESC, customer_id) INCLUDE (first_order_day, last_order_day, net_sales)")
    op.execute("CREATE INDEX customer_facts_last_order_idx ON reporting.customer_facts (shop_id, last_order_day) "
               "INCLUDE (first_order_day, net_cents)")
    op.execute("ANALYZE reporting.customer_facts")  # the new column's statistics, for one store's plans
    op.execute(SUMMARY)
    op.execute(CUSTOMER_DAYS)
    op.execute(tenant_table("reporting.customer_days"))
    op.execute(GRANTS)
    op.execute(FLUSH_CUSTOMERS)
    op.execute(REBUILD)
    op.execute("SELECT reporting.recount_customer_days(NULL)")


def downgrade() -> None:
    op.execute(LOCK_VIEW)
    op.execute(REBUILD_0010.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"))
    op.execute(re.search(r"CREATE FUNCTION reporting.flush_customers\(.*?\n\$\$;", V0010.FUNCTIONS, re.S).group(0)
               .replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"))
    op.execute("DROP TABLE reporting.customer_days")
    op.execute("DROP FUNCTION reporting.recount_customer_days(bigint)")
    op.execute("DROP VIEW reporting.customer_summary")
    op.execute(SUMMARY_0015.replace("CREATE OR REPLACE VIEW", "CREATE VIEW"))
    op.execute("ALTER TABLE reporting.customer_facts DROP COLUMN net_cents")  # drops its two indexes
    op.execute(INDEXES_0012)
    op.execute(INDEXES_0015)
