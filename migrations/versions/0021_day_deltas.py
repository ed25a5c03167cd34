"""Day rollups follow inserted sales by deltas, and a month's rates are looked up once per day.

Revision ID: 0021
Revises: 0020

A backfill's sales part inserted sales and agreements whose days were then summed again from the warehouse at
each chunk's commit (reporting.flush_days re-read about as many sales as the chunk inserted, each with its
agreement, order, customer and line item). Now the statement trigger on inserted sales, which already reads each
sale's agreement and order for the customers' net sales (migration 0012), adds the sales to their days'
reporting.daily_sales and reporting.daily_products rows itself and notes those days in
reporting.rollup_delta_days (their months, weeks and conversions are redone as before). A sale is added by delta
when its order is known and its customer, if any, has customer facts (new or returning is read from them: a
first order that moves in the same transaction notes the days of both orders, recomputed in full, which replaces
the deltas); otherwise its day is recomputed as before. A sale of a test, deleted or not yet loaded order
changes no day (the order notes its agreements' days when it changes or comes). The trigger locks its shops
first (the flush's lock), so nothing it read can change under it until its transaction commits. A new agreement
without sales changes no day and notes none (its sales note their days when they come).

reporting.flush_months converted each daily product row with its own rate lookup (two calls of
reporting.fx_uncovered per row for a day fx_reporting does not cover); the rates are now found once per day of
the months and joined by key. Same values.
"""

import importlib
import re
import textwrap

from alembic import op

from migrations.rls import SCHEDULER_ROLE, WEB_ROLE, tenant_table

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

V0015 = importlib.import_module("migrations.versions.0015_reports_speed")
V0017 = importlib.import_module("migrations.versions.0017_kept_conversions")
V0019 = importlib.import_module("migrations.versions.0019_sales_days")

DELTA_DAYS = """
CREATE UNLOGGED TABLE reporting.rollup_delta_days (
    xact    bigint NOT NULL,
    shop_id bigint NOT NULL,
    day     date NOT NULL,
    UNIQUE (xact, shop_id, day)
);
"""

SALE_LINES = "('PRODUCT', 'SHIPPING', 'DUTY', 'ADDITIONAL_FEE')"
# What reporting.flush_days sums per day (same filters), over `sold` rows.
DAY_SUMS = """coalesce(sum(quantity) FILTER (WHERE line_type = 'PRODUCT' AND action_type <> 'RETURN'), 0) AS units,
               coalesce(sum(gross) FILTER (WHERE line_type = 'PRODUCT' AND action_type <> 'RETURN'), 0) AS gross,
               coalesce(sum(discount) FILTER (WHERE line_type = 'PRODUCT' AND action_type <> 'RETURN'), 0) AS disc,
               coalesce(-sum(gross - discount) FILTER (WHERE line_type = 'PRODUCT' AND action_type = 'RETURN'), 0)
                   AS returns,
               coalesce(sum(gross - discount) FILTER (WHERE line_type = 'SHIPPING'), 0) AS shipping,
               coalesce(sum(gross - discount) FILTER (WHERE line_type = 'DUTY'), 0) AS duties,
               coalesce(sum(gross - discount) FILTER (WHERE line_type = 'ADDITIONAL_FEE'), 0) AS fees,
               coalesce(sum(tax), 0) AS taxes,
               coalesce(sum(gross - discount) FILTER (WHERE line_type = 'PRODUCT' AND first_order), 0) AS new_net,
               coalesce(sum(gross - discount) FILTER (WHERE line_type = 'PRODUCT' AND NOT first_order), 0)
                   AS returning_net"""
ADDED = ("units", "gross_sales", "discounts", "returns", "net_sales", "shipping", "taxes", "duties", "additional_fees",
         "total_sales", "new_customer_net_sales", "returning_customer_net_sales")

def changed_0019(name: str) -> str:
    """The branch of 0019's `name` trigger function for changed and deleted rows: their days noted, their
    customers recounted in full (0019 noted the days for every operation, before its IF)."""
    function = re.search(rf"CREATE OR REPLACE FUNCTION reporting.{name}\(\).*?END \$\$;", V0019.TOUCH_SALES_DAYS,
                         re.S).group(0)
    note_days = function[function.index("BEGIN\n") + 6:function.index("    IF TG_OP")]
    return "    ELSE\n" + textwrap.indent(note_days, "    ") + function[function.index("    ELSE\n") + 9:] + "\n"


TOUCH_SALES = f"""
CREATE OR REPLACE FUNCTION reporting.touch_sales() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- The flush's lock, taken now: the orders and customer facts read below stay as read until commit.
        PERFORM pg_advisory_xact_lock(1013, shop_id::integer) FROM (SELECT DISTINCT shop_id FROM changed ORDER BY 1) s;
        WITH agreed AS MATERIALIZED (  -- each agreement's day, order and customer, looked up once
            SELECT a.shop_id, a.agreement_id, (a.happened_at AT TIME ZONE sh.iana_timezone)::date AS day,
                   o.customer_id, cf.first_order_id = o.order_id AS first_order,
                   CASE WHEN o.order_id IS NULL OR o.is_test OR o.deleted_at IS NOT NULL THEN 'none'
                        WHEN o.customer_id IS NOT NULL AND cf.customer_id IS NULL THEN 'recount'
                        ELSE 'delta' END AS how
            FROM (SELECT DISTINCT shop_id, agreement_id FROM changed) c
            JOIN core_warehouse.order_agreements a ON a.shop_id = c.shop_id AND a.agreement_id = c.agreement_id
            JOIN app_dashboard.shops sh ON sh.id = c.shop_id
            LEFT JOIN core_warehouse.orders o ON o.shop_id = a.shop_id AND o.order_id = a.order_id
            LEFT JOIN reporting.customer_facts cf ON cf.shop_id = o.shop_id AND cf.customer_id = o.customer_id
        ), sold AS MATERIALIZED (
            SELECT c.shop_id, g.day, c.action_type, c.line_type, c.quantity, c.line_item_id, g.customer_id,
                   c.total_amount_shop - c.tax_shop AS net,
                   c.total_amount_shop - c.tax_shop + c.discount_before_taxes_shop AS gross,
                   c.discount_before_taxes_shop AS discount, c.tax_shop AS tax, g.first_order, g.how
            FROM changed c JOIN agreed g ON g.shop_id = c.shop_id AND g.agreement_id = c.agreement_id
        ), customers AS (
            INSERT INTO reporting.rollup_customer_deltas AS d (xact, shop_id, customer_id, net_sales)
            SELECT reporting.current_xact(), shop_id, customer_id, sum(net) FROM sold
            WHERE line_type = 'PRODUCT' AND customer_id IS NOT NULL AND how <> 'none'
            GROUP BY shop_id, customer_id
            ON CONFLICT (xact, shop_id, customer_id) DO UPDATE SET net_sales = d.net_sales + excluded.net_sales
        ), recounted AS (
            INSERT INTO reporting.rollup_sales_days (xact, shop_id, day)
            SELECT DISTINCT reporting.current_xact(), shop_id, day FROM sold WHERE how = 'recount'
            ON CONFLICT DO NOTHING
        ), added AS (
            INSERT INTO reporting.rollup_delta_days (xact, shop_id, day)
            SELECT DISTINCT reporting.current_xact(), shop_id, day FROM sold
            WHERE how = 'delta' AND line_type IN {SALE_LINES}
            ON CONFLICT DO NOTHING
        ), products AS (
            INSERT INTO reporting.daily_products AS r (shop_id, day, product_id, variant_id, product_title,
                variant_title, sku, units_sold, units_returned, net_sales)
            SELECT s.shop_id, s.day, coalesce(li.product_id, ''), coalesce(li.variant_id, ''), max(li.title),
                   max(li.variant_title), max(li.sku),
                   coalesce(sum(s.quantity) FILTER (WHERE s.action_type <> 'RETURN'), 0),
                   coalesce(-sum(s.quantity) FILTER (WHERE s.action_type = 'RETURN'), 0),
                   sum(s.gross - s.discount)
            FROM sold s
            LEFT JOIN core_warehouse.order_line_items li ON li.shop_id = s.shop_id AND li.line_item_id = s.line_item_id
            WHERE s.how = 'delta' AND s.line_type = 'PRODUCT'
            GROUP BY s.shop_id, s.day, coalesce(li.product_id, ''), coalesce(li.variant_id, '')
            ON CONFLICT (shop_id, day, product_id, variant_id) DO UPDATE SET
                product_title = greatest(r.product_title, excluded.product_title),
                variant_title = greatest(r.variant_title, excluded.variant_title),
                sku = greatest(r.sku, excluded.sku), units_sold = r.units_sold + excluded.units_sold,
                units_returned = r.units_returned + excluded.units_returned,
                net_sales = r.net_sales + coalesce(excluded.net_sales, 0)
        )
        INSERT INTO reporting.daily_sales AS r (shop_id, day, {", ".join(ADDED)})
        SELECT shop_id, day, units, gross, disc, returns, gross - disc - returns, shipping, taxes, duties, fees,
               gross - disc - returns + shipping + taxes + duties + fees, new_net, returning_net
        FROM (SELECT shop_id, day, {DAY_SUMS}
              FROM sold WHERE how = 'delta' AND line_type IN {SALE_LINES} GROUP BY shop_id, day) x
        ON CONFLICT (shop_id, day) DO UPDATE SET {", ".join(f"{c} = r.{c} + excluded.{c}" for c in ADDED)};
{changed_0019('touch_sales')}"""

# touch_agreements of migration 0019 for changes and deletions; a new agreement notes its day only when sales
# were waiting for it (loaded first), found by key once for both the day and the customers' deltas.
TOUCH_AGREEMENTS = f"""
CREATE OR REPLACE FUNCTION reporting.touch_agreements() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        WITH waiting AS MATERIALIZED (
            SELECT c.shop_id, c.order_id, (c.happened_at AT TIME ZONE sh.iana_timezone)::date AS day, s.line_type,
                   s.total_amount_shop - s.tax_shop AS net
            FROM changed c
            JOIN core_warehouse.order_sales s ON s.shop_id = c.shop_id AND s.agreement_id = c.agreement_id
            JOIN app_dashboard.shops sh ON sh.id = c.shop_id
        ), days AS (
            INSERT INTO reporting.rollup_sales_days (xact, shop_id, day)
            SELECT DISTINCT reporting.current_xact(), shop_id, day FROM waiting ON CONFLICT DO NOTHING
        )
        INSERT INTO reporting.rollup_customer_deltas AS d (xact, shop_id, customer_id, net_sales)
        SELECT reporting.current_xact(), o.shop_id, o.customer_id, sum(w.net)
        FROM waiting w JOIN core_warehouse.orders o ON o.shop_id = w.shop_id AND o.order_id = w.order_id
        WHERE w.line_type = 'PRODUCT' AND o.customer_id IS NOT NULL AND NOT o.is_test AND o.deleted_at IS NULL
        GROUP BY o.shop_id, o.customer_id
        ON CONFLICT (xact, shop_id, customer_id) DO UPDATE SET net_sales = d.net_sales + excluded.net_sales;
{changed_0019('touch_agreements')}"""

# flush_days of migration 0019, the delta days then joining the noted days (months, weeks, marketing).
FLUSH_DAYS_0019 = V0019.FLUSH_DAYS
MOVE_SALES_DAYS = ("    INSERT INTO reporting.rollup_dirty_days (xact, shop_id, day)\n"
                   "    SELECT xact, shop_id, day FROM reporting.rollup_sales_days WHERE xact = me "
                   "ON CONFLICT DO NOTHING;\n")
assert FLUSH_DAYS_0019.count(MOVE_SALES_DAYS) == 1
FLUSH_DAYS = FLUSH_DAYS_0019.replace(MOVE_SALES_DAYS, MOVE_SALES_DAYS + (
    "    INSERT INTO reporting.rollup_dirty_days (xact, shop_id, day)\n"
    "    SELECT xact, shop_id, day FROM reporting.rollup_delta_days WHERE xact = me ON CONFLICT DO NOTHING;\n"
    "    DELETE FROM reporting.rollup_delta_days WHERE xact = me;\n"))

# flush_months of migration 0017 (months, then weeks of the month), each day's rate found once.
MONTHS = ("SELECT DISTINCT shop_id, date_trunc('month', day)::date AS month "
          "FROM reporting.rollup_dirty_days WHERE xact = me")
DAY_RATE, DAY_RATE_DAY = V0015.rate("sh.currency", "g.day")
PRODUCT_COLUMNS = ("product_title, variant_title, sku, units_sold, units_returned, net_sales, net_sales_gains, "
                   "net_sales_losses, net_sales_reporting, fx_estimated")
SUMS = """max(p.product_title), max(p.variant_title), max(p.sku), sum(p.units_sold), sum(p.units_returned),
           sum(p.net_sales), sum(greatest(p.net_sales, 0)), sum(least(p.net_sales, 0)),
           CASE WHEN bool_and(r.rate IS NOT NULL) THEN sum(p.net_sales * r.rate) END,
           coalesce(bool_or(coalesce(r.rate_day < p.day, true)), false)"""
FLUSH_MONTHS = f"""
CREATE OR REPLACE FUNCTION reporting.flush_months(me bigint) RETURNS void LANGUAGE sql AS $$
    DELETE FROM reporting.monthly_products r USING ({MONTHS}) m WHERE r.shop_id = m.shop_id AND r.month = m.month;
    DELETE FROM reporting.weekly_products r USING ({V0017.DIRTY_WEEKS}) w
    WHERE r.shop_id = w.shop_id AND r.week = w.week;
    WITH rates AS MATERIALIZED (
        SELECT m.shop_id, m.month, g.day, {DAY_RATE} AS rate, {DAY_RATE_DAY} AS rate_day
        FROM ({MONTHS}) m
        CROSS JOIN LATERAL (SELECT d::date AS day FROM generate_series(m.month,
            (m.month + interval '1 month' - interval '1 day')::date, interval '1 day') d) g
        JOIN app_dashboard.shops sh ON sh.id = m.shop_id
        CROSS JOIN app_dashboard.agency_settings a
        {V0015.rate_join("sh.currency", "g.day")}
    ), weeks AS (
        INSERT INTO reporting.weekly_products (shop_id, week, product_id, variant_id, {PRODUCT_COLUMNS})
        SELECT p.shop_id, w.week, p.product_id, p.variant_id, {SUMS}
        FROM ({V0017.DIRTY_WEEKS}) w
        JOIN rates r ON r.shop_id = w.shop_id AND r.day >= w.week AND r.day < {V0017.after_week("w.week")}
        JOIN reporting.daily_products p ON p.shop_id = r.shop_id AND p.day = r.day
        GROUP BY p.shop_id, w.week, p.product_id, p.variant_id
    )
    INSERT INTO reporting.monthly_products (shop_id, month, product_id, variant_id, {PRODUCT_COLUMNS})
    SELECT p.shop_id, r.month, p.product_id, p.variant_id, {SUMS}
    FROM rates r JOIN reporting.daily_products p ON p.shop_id = r.shop_id AND p.day = r.day
    GROUP BY p.shop_id, r.month, p.product_id, p.variant_id
$$;
"""

# A sale's line item is one row found by key: a bitmap scan per sale (the planner's choice while a backfill's
# statistics lag) took 2.1 of a chunk's 2.3 s in the trigger, as in 0019's flush_days. A function replaced by
# CREATE OR REPLACE loses its settings: 0019's memoize setting is given again.
TOUCH_PLANS = "\n".join(f"ALTER FUNCTION reporting.{function}() SET {setting} = off;"
                         for function in V0019.TOUCH_FUNCTIONS for setting in ("enable_memoize", "enable_bitmapscan"))

GRANTS = f"""
REVOKE ALL ON reporting.rollup_delta_days FROM {WEB_ROLE};
GRANT ALL ON reporting.rollup_delta_days TO {SCHEDULER_ROLE};
"""


def upgrade() -> None:
    op.execute(DELTA_DAYS)
    op.execute(tenant_table("reporting.rollup_delta_days"))  # the web has no grant on it (GRANTS)
    op.execute(GRANTS)
    op.execute(TOUCH_SALES)
    op.execute(TOUCH_AGREEMENTS)
    op.execute(TOUCH_PLANS)
    op.execute(FLUSH_DAYS)
    op.execute(FLUSH_MONTHS)


def downgrade() -> None:
    op.execute(V0017.FLUSH_MONTHS)
    op.execute(FLUSH_DAYS_0019)
    op.execute(V0019.TOUCH_SALES_DAYS)
    op.execute(V0019.TOUCH_PLANS)
    op.execute("DROP TABLE reporting.rollup_delta_days")
