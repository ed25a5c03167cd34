"""Explain a number: the orders and reversals behind each day's sales, per order, as reporting.daily_sales sums them.

Revision ID: 0012
Revises: 0011

reporting.sales_ledger(shop, first_day, last_day) returns one row per (store, day, order) with something
booked that day: the order placed (it counts in `orders`), its sales (gross, discounts), its reversals
(refunds, returns, edits, cancellations: `returns`), shipping, taxes, duties and fees. Its definitions are
reporting.flush_days' own, so a day's rows sum to that day's row of reporting.daily_sales to the cent.

A function, not a view: the day is the agreement's instant in the store's timezone, and a view filtered on
that computed day would read every agreement of the store; the function turns the days into instants first,
so the (shop_id, happened_at) and (shop_id, created_at) indexes find the rows. It runs as the invoker
(SECURITY INVOKER, the default), so row-level security applies exactly as through a security_invoker view;
the web role gets USAGE on core_warehouse and SELECT on just the columns it reads (no raw payloads, no
e-mails or phone numbers).
"""

from alembic import op

from migrations.rls import SCHEDULER_ROLE, WEB_ROLE

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

LEDGER = """
CREATE FUNCTION reporting.sales_ledger(shop bigint, first_day date, last_day date)
RETURNS TABLE (shop_id bigint, shop_domain text, currency text, day date, order_id text, legacy_id bigint,
               order_name text, booked text, orders integer, new_customer boolean, units integer,
               gross_sales numeric, discounts numeric, returns numeric, net_sales numeric, shipping numeric,
               taxes numeric, duties numeric, additional_fees numeric, total_sales numeric)
LANGUAGE sql STABLE AS $$
    WITH shops AS MATERIALIZED (
        SELECT sh.id, sh.shop_domain, sh.currency, sh.iana_timezone,
               first_day::timestamp AT TIME ZONE sh.iana_timezone AS lo,
               (last_day + 1)::timestamp AT TIME ZONE sh.iana_timezone AS hi
        FROM app_dashboard.shops sh WHERE shop IS NULL OR sh.id = shop
    ), sales AS (
        SELECT sh.id AS shop_id, (a.happened_at AT TIME ZONE sh.iana_timezone)::date AS day, a.order_id,
               a.reason, s.action_type, s.line_type, s.quantity,
               s.total_amount_shop - s.tax_shop + s.discount_before_taxes_shop AS gross,
               s.discount_before_taxes_shop AS discount, s.tax_shop AS tax
        FROM shops sh
        JOIN core_warehouse.order_agreements a ON a.shop_id = sh.id AND a.happened_at >= sh.lo AND a.happened_at < sh.hi
        JOIN core_warehouse.order_sales s ON s.shop_id = a.shop_id AND s.agreement_id = a.agreement_id
        JOIN core_warehouse.orders o ON o.shop_id = a.shop_id AND o.order_id = a.order_id
        WHERE NOT o.is_test AND o.deleted_at IS NULL
          AND s.line_type IN ('PRODUCT', 'SHIPPING', 'DUTY', 'ADDITIONAL_FEE')
    ), amounts AS (
        SELECT shop_id, day, order_id,
            string_agg(DISTINCT lower(replace(coalesce(reason, action_type), '_', ' ')), ', ') AS reasons,
            coalesce(sum(quantity) FILTER (WHERE line_type = 'PRODUCT' AND action_type <> 'RETURN'), 0) AS units,
            coalesce(sum(gross) FILTER (WHERE line_type = 'PRODUCT' AND action_type <> 'RETURN'), 0) AS gross_sales,
            coalesce(sum(discount) FILTER (WHERE line_type = 'PRODUCT' AND action_type <> 'RETURN'), 0) AS discounts,
            coalesce(-sum(gross - discount) FILTER (WHERE line_type = 'PRODUCT' AND action_type = 'RETURN'), 0)
                AS returns,
            coalesce(sum(gross - discount) FILTER (WHERE line_type = 'SHIPPING'), 0) AS shipping,
            coalesce(sum(gross - discount) FILTER (WHERE line_type = 'DUTY'), 0) AS duties,
            coalesce(sum(gross - discount) FILTER (WHERE line_type = 'ADDITIONAL_FEE'), 0) AS additional_fees,
            coalesce(sum(tax), 0) AS taxes
        FROM sales GROUP BY shop_id, day, order_id
    ), placed AS (
        SELECT sh.id AS shop_id, (o.created_at AT TIME ZONE sh.iana_timezone)::date AS day, o.order_id
        FROM shops sh
        JOIN core_warehouse.orders o ON o.shop_id = sh.id AND o.created_at >= sh.lo AND o.created_at < sh.hi
        WHERE NOT o.is_test AND o.deleted_at IS NULL
    ), ledger AS MATERIALIZED (
        SELECT shop_id, day, order_id, p.order_id IS NOT NULL AS placed, a.reasons,
               coalesce(a.units, 0) AS units, coalesce(a.gross_sales, 0) AS gross_sales,
               coalesce(a.discounts, 0) AS discounts, coalesce(a.returns, 0) AS returns,
               coalesce(a.shipping, 0) AS shipping, coalesce(a.taxes, 0) AS taxes, coalesce(a.duties, 0) AS duties,
               coalesce(a.additional_fees, 0) AS additional_fees
        FROM amounts a FULL JOIN placed p USING (shop_id, day, order_id)
    )
    SELECT l.shop_id, sh.shop_domain, sh.currency, l.day, l.order_id, o.legacy_id, o.name,
           -- a refund on the day the order was cancelled is its cancellation (Shopify books it as a reversal)
           CASE WHEN o.cancelled_at IS NOT NULL AND (o.cancelled_at AT TIME ZONE sh.iana_timezone)::date = l.day
                     AND l.reasons LIKE '%refund%' THEN replace(l.reasons, 'refund', 'cancellation')
                ELSE coalesce(l.reasons, 'order') END,
           l.placed::integer, l.placed AND cf.first_order_id = l.order_id, l.units,
           l.gross_sales, l.discounts, l.returns, l.gross_sales - l.discounts - l.returns, l.shipping, l.taxes,
           l.duties, l.additional_fees,
           l.gross_sales - l.discounts - l.returns + l.shipping + l.taxes + l.duties + l.additional_fees
    FROM ledger l JOIN shops sh ON sh.id = l.shop_id
    -- each ledger row's order by its key (a join the planner may turn into a scan of every order under RLS)
    CROSS JOIN LATERAL (SELECT o.shop_id, o.legacy_id, o.name, o.created_at, o.cancelled_at, o.customer_id
                        FROM core_warehouse.orders o
                        WHERE o.shop_id = l.shop_id AND o.order_id = l.order_id OFFSET 0) o
    LEFT JOIN reporting.customer_facts cf ON cf.shop_id = o.shop_id AND cf.customer_id = o.customer_id
    ORDER BY l.shop_id, l.day, o.created_at, l.order_id
$$;
"""

# Exactly the columns the ledger reads, under the tables' existing web_read policies (0002).
COLUMNS = {
    "core_warehouse.orders": "shop_id, order_id, legacy_id, name, created_at, cancelled_at, is_test, deleted_at, "
                             "customer_id",
    "core_warehouse.order_agreements": "shop_id, agreement_id, order_id, reason, happened_at",
    "core_warehouse.order_sales": "shop_id, agreement_id, action_type, line_type, quantity, total_amount_shop, "
                                  "discount_before_taxes_shop, tax_shop",
}
SIGNATURE = "reporting.sales_ledger(bigint, date, date)"


# A few keys of large tables per store and day: index probes are always right here, a hash join over a whole
# table never is (the planner cannot know how few days are asked; reporting.flush_rollups does the same).
SETTINGS = [f"ALTER FUNCTION reporting.sales_ledger(bigint, date, date) SET {name} = off"
            for name in ("enable_hashjoin", "enable_mergejoin")]


def upgrade() -> None:
    op.execute(LEDGER)
    for statement in SETTINGS:
        op.execute(statement)
    op.execute(f"REVOKE EXECUTE ON FUNCTION {SIGNATURE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {SIGNATURE} TO {WEB_ROLE}, {SCHEDULER_ROLE}")
    op.execute(f"GRANT USAGE ON SCHEMA core_warehouse TO {WEB_ROLE}")
    for table, columns in COLUMNS.items():
        op.execute(f"GRANT SELECT ({columns}) ON {table} TO {WEB_ROLE}")


def downgrade() -> None:
    for table, columns in COLUMNS.items():
        op.execute(f"REVOKE SELECT ({columns}) ON {table} FROM {WEB_ROLE}")
    op.execute(f"REVOKE USAGE ON SCHEMA core_warehouse FROM {WEB_ROLE}")
    op.execute(f"DROP FUNCTION {SIGNATURE}")
