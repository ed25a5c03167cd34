"""Day rollups: a day whose sales alone changed keeps its placed orders' counts.

Revision ID: 0019
Revises: 0018

Inserting, changing or deleting sales or agreements changes a day's sales, never the orders placed on it or
whether they are new or returning (those follow the orders and the customers' first orders, which note the
day in reporting.rollup_dirty_days as before). Sales and agreements now note their days in
reporting.rollup_sales_days, and reporting.flush_days recomputes only those days' sales and products, keeping
their rows' order counts: a backfill's sales part no longer re-reads the orders of every day it touches and
looks each one's customer up again (a third of the flush, profiled on 50,000 orders). Its product lookups are
index probes by key (the planner, whose statistics lag behind a backfill, chose a bitmap scan per sale).
"""

import importlib
import re

from alembic import op

from migrations.rls import SCHEDULER_ROLE, WEB_ROLE, tenant_table

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

V0010 = importlib.import_module("migrations.versions.0010_rollups")
V0012 = importlib.import_module("migrations.versions.0012_reporting_speed")
V0015 = importlib.import_module("migrations.versions.0015_reports_speed")

LOCAL_DAY = "(a.happened_at AT TIME ZONE sh.iana_timezone)::date"
DELTAS_0012 = V0012.CUSTOMER_DELTAS.format(local_day=LOCAL_DAY,
                                           local_day_changed="(c.happened_at AT TIME ZONE sh.iana_timezone)::date")


def function_0012(name: str) -> str:
    return re.search(rf"CREATE OR REPLACE FUNCTION reporting.{name}\(\).*?END \$\$;", DELTAS_0012, re.S).group(0)


def function_0010(name: str) -> str:
    return (re.search(rf"CREATE FUNCTION reporting.{name}\(.*?\n\$\$;", V0010.FUNCTIONS, re.S).group(0)
            .replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"))


# touch_sales and touch_agreements of migration 0012, their days noted as days of sales only.
TOUCH = "\n".join(function_0012(name) for name in ("touch_sales", "touch_agreements"))
assert TOUCH.count("INSERT INTO reporting.rollup_dirty_days") == 2
TOUCH_SALES_DAYS = TOUCH.replace("INSERT INTO reporting.rollup_dirty_days", "INSERT INTO reporting.rollup_sales_days")

# reporting.flush_rollups of migration 0015, the shops of the sales days locked too.
assert V0012.DELTA_SHOPS in V0015.FLUSH_CAMPAIGN_MONTHS
SALES_DAY_SHOPS = "UNION SELECT shop_id FROM reporting.rollup_sales_days WHERE xact = me\n          "
FLUSH_ROLLUPS = V0015.FLUSH_CAMPAIGN_MONTHS.replace(V0012.DELTA_SHOPS, V0012.DELTA_SHOPS + SALES_DAY_SHOPS)

SALES_DAYS = """
CREATE UNLOGGED TABLE reporting.rollup_sales_days (
    xact    bigint NOT NULL,
    shop_id bigint NOT NULL,
    day     date NOT NULL,
    UNIQUE (xact, shop_id, day)
);
"""

# The noted days as instants; `placed` when the orders placed on the day are to be counted again as well.
NOTED_DAYS = f"""
CREATE FUNCTION reporting.noted_days(me bigint)
    RETURNS TABLE (shop_id bigint, day date, lo timestamptz, hi timestamptz, placed boolean)
    LANGUAGE sql STABLE AS $$
    SELECT d.shop_id, d.day, {V0010.DAY_RANGE}, bool_or(d.placed)
    FROM (SELECT shop_id, day, true AS placed FROM reporting.rollup_dirty_days WHERE xact = me
          UNION ALL SELECT shop_id, day, false FROM reporting.rollup_sales_days WHERE xact = me) d
    JOIN app_dashboard.shops sh ON sh.id = d.shop_id
    GROUP BY d.shop_id, d.day, sh.iana_timezone
$$;
"""

AMOUNTS = ("units", "gross_sales", "discounts", "returns", "net_sales", "shipping", "taxes", "duties",
           "additional_fees", "total_sales", "new_customer_net_sales", "returning_customer_net_sales")

# reporting.flush_days of migration 0010 with two kinds of day. A day of sales only keeps its row's order counts
# (a row without orders goes, and comes back if the day still has sales); every day's sales and products are
# summed again. Then the sales days join the noted days, whose months and marketing the later flushes redo.
FLUSH_DAYS_0010 = function_0010("flush_days")
ONE_KIND = ("    DELETE FROM reporting.daily_sales r USING reporting.noted_days(me) d "
            "WHERE r.shop_id = d.shop_id AND r.day = d.day;\n",
            "        WHERE NOT o.is_test AND o.deleted_at IS NULL\n        GROUP BY d.shop_id, d.day\n",
            "    INSERT INTO reporting.daily_sales (shop_id,",
            "    SELECT shop_id, day, coalesce(p.orders, 0)",
            "    FROM amounts a FULL JOIN placed p USING (shop_id, day)\n$$;")
TWO_KINDS = ("    DELETE FROM reporting.daily_sales r USING reporting.noted_days(me) d\n"
             "    WHERE r.shop_id = d.shop_id AND r.day = d.day AND (d.placed OR r.orders = 0);\n",
             "        WHERE d.placed AND NOT o.is_test AND o.deleted_at IS NULL\n        GROUP BY d.shop_id, d.day\n",
             "    INSERT INTO reporting.daily_sales AS r (shop_id,",
             "    SELECT d.shop_id, d.day, coalesce(p.orders, 0)",
             f"""    FROM days d
    LEFT JOIN amounts a ON a.shop_id = d.shop_id AND a.day = d.day
    LEFT JOIN placed p ON p.shop_id = d.shop_id AND p.day = d.day
    WHERE a.shop_id IS NOT NULL OR p.shop_id IS NOT NULL
       OR EXISTS (SELECT FROM reporting.daily_sales k WHERE k.shop_id = d.shop_id AND k.day = d.day)
    ON CONFLICT (shop_id, day) DO UPDATE SET {", ".join(f"{c} = excluded.{c}" for c in AMOUNTS)};
    INSERT INTO reporting.rollup_dirty_days (xact, shop_id, day)
    SELECT xact, shop_id, day FROM reporting.rollup_sales_days WHERE xact = me ON CONFLICT DO NOTHING;
    DELETE FROM reporting.rollup_sales_days WHERE xact = me
$$;""")
FLUSH_DAYS = FLUSH_DAYS_0010
for one, two in zip(ONE_KIND, TWO_KINDS, strict=True):
    assert FLUSH_DAYS.count(one) == 1, one
    FLUSH_DAYS = FLUSH_DAYS.replace(one, two)
FLUSH_DAYS = "\n" + FLUSH_DAYS + """
-- A sale's line item is one row found by key: a bitmap scan per sale (the planner's choice while a backfill's
-- statistics lag) costs four times as much.
ALTER FUNCTION reporting.flush_days(bigint) SET enable_bitmapscan = off;
"""

# The planner's statistics lag behind a backfill: once it believed a shop had ten sales, it memoized all of them
# under the shop's id for each new agreement's order (131 s for a chunk of 11,000 agreements, against 0.05 s).
TOUCH_FUNCTIONS = ("touch_sales", "touch_agreements")
TOUCH_PLANS = "\n".join(f"ALTER FUNCTION reporting.{function}() SET enable_memoize = off;"
                        for function in TOUCH_FUNCTIONS)

NOTED_DAYS_GRANTS = f"""
REVOKE EXECUTE ON FUNCTION reporting.noted_days(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reporting.noted_days(bigint) TO {SCHEDULER_ROLE};
"""
GRANTS = f"""
REVOKE ALL ON reporting.rollup_sales_days FROM {WEB_ROLE};
GRANT ALL ON reporting.rollup_sales_days TO {SCHEDULER_ROLE};
{NOTED_DAYS_GRANTS}"""


def upgrade() -> None:
    op.execute(SALES_DAYS)
    op.execute(tenant_table("reporting.rollup_sales_days"))  # the web has no grant on it (GRANTS)
    op.execute("DROP FUNCTION reporting.noted_days(bigint)")
    op.execute(NOTED_DAYS)
    op.execute(FLUSH_DAYS)
    op.execute(TOUCH_SALES_DAYS)
    op.execute(TOUCH_PLANS)
    op.execute(FLUSH_ROLLUPS)
    op.execute(GRANTS)


def downgrade() -> None:
    op.execute(V0015.FLUSH_CAMPAIGN_MONTHS)
    op.execute(TOUCH)
    for function in TOUCH_FUNCTIONS:
        op.execute(f"ALTER FUNCTION reporting.{function}() RESET ALL")
    op.execute("ALTER FUNCTION reporting.flush_days(bigint) RESET enable_bitmapscan")
    op.execute(function_0010("flush_days"))
    op.execute("DROP FUNCTION reporting.noted_days(bigint)")
    op.execute(function_0010("noted_days").replace("CREATE OR REPLACE FUNCTION", "CREATE FUNCTION"))
    op.execute(NOTED_DAYS_GRANTS)
    op.execute("DROP TABLE reporting.rollup_sales_days")
