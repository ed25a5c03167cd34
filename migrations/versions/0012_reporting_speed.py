"""Report queries in milliseconds: a dense daily FX table the views join by key, and monthly product rollups.

Revision ID: 0012
Revises: 0011

reporting.fx_daily holds, for every currency with ECB rates and every day from its first rate to a year past
today (or the last rate), the latest rate on or before that day (units per euro) and that rate's own day:
what reporting.per_euro answers, precomputed, so a view converts a row with two hash- or index-joined rows
instead of two function calls with their own index probes. Statement triggers on fx_rates recompute the
currencies whose rates changed, from the first changed day on. A day outside the table (before a currency's
first rate, past the horizon) still goes through reporting.fx: the figures are the same either way.

reporting.monthly_products sums reporting.daily_products per shop-local calendar month, kept by the same
flush (the touched days' months) and rebuilt with it: one store's top products over a long range read whole
months from it and only the edge days from the daily rollup.
"""

import importlib
import re

from alembic import op

from migrations.rls import SCHEDULER_ROLE, WEB_ROLE, tenant_table

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

HORIZON_DAYS = 366
ROLLUPS_0010 = importlib.import_module("migrations.versions.0010_rollups").FUNCTIONS

FX_DAILY = f"""
CREATE TABLE reporting.fx_daily (
    currency text NOT NULL,
    day      date NOT NULL,
    per_euro numeric NOT NULL,
    rate_day date NOT NULL,
    PRIMARY KEY (currency, day)
);

-- The days a currency's dense rates cover: from its first rate (the earliest of all for the euro) to the horizon.
CREATE FUNCTION reporting.refresh_fx_daily(currencies text[], since date) RETURNS void LANGUAGE sql AS $$
    DELETE FROM reporting.fx_daily WHERE currency = ANY(currencies) AND day >= since;
    WITH span AS (
        SELECT greatest(max(day), current_date) + {HORIZON_DAYS} AS horizon, min(day) AS first_day
        FROM reporting.fx_rates WHERE base = 'EUR'
    ), firsts AS (
        SELECT c AS currency,
               CASE WHEN c = 'EUR' THEN s.first_day
                    ELSE (SELECT min(day) FROM reporting.fx_rates WHERE base = 'EUR' AND quote = c) END AS first_day,
               s.horizon
        FROM unnest(currencies) c, span s
    )
    INSERT INTO reporting.fx_daily (currency, day, per_euro, rate_day)
    SELECT f.currency, d::date, r.rate, r.rate_day
    FROM firsts f, generate_series(greatest(f.first_day, since), f.horizon, interval '1 day') d,
         LATERAL reporting.per_euro(f.currency, d::date) r
    WHERE f.first_day IS NOT NULL
$$;

-- reporting.fx behind a PL/pgSQL call: the planner plans it when it runs (rarely), not inlined into every view.
CREATE FUNCTION reporting.fx_uncovered(from_currency text, to_currency text, on_day date)
    RETURNS TABLE (rate numeric, rate_day date) LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY SELECT f.rate, f.rate_day FROM reporting.fx(from_currency, to_currency, on_day) f;
END $$;

-- Rates inserted, changed or deleted are noted per transaction (currency, first day) and the dense rows
-- recomputed once, at commit: a file loads in many statements, and each would otherwise redo the years after it.
CREATE UNLOGGED TABLE reporting.fx_dirty (
    xact     bigint NOT NULL,
    currency text NOT NULL,
    since    date NOT NULL,
    PRIMARY KEY (xact, currency)
);

CREATE FUNCTION reporting.note_fx(changed_rates jsonb) RETURNS void LANGUAGE sql AS $$
    INSERT INTO reporting.fx_dirty (xact, currency, since)
    SELECT reporting.current_xact(), quote, min(day)
    FROM jsonb_to_recordset(changed_rates) AS x(quote text, day date) GROUP BY quote
    ON CONFLICT (xact, currency) DO UPDATE SET since = least(reporting.fx_dirty.since, excluded.since)
$$;

CREATE FUNCTION reporting.touch_fx_rates() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM reporting.note_fx((SELECT jsonb_agg(jsonb_build_object('quote', quote, 'day', day))
                                   FROM new_rates WHERE base = 'EUR'));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM reporting.note_fx((SELECT jsonb_agg(jsonb_build_object('quote', quote, 'day', day))
                                   FROM old_rates WHERE base = 'EUR'));
    ELSE  -- a reload of the same rates changes nothing
        PERFORM reporting.note_fx((SELECT jsonb_agg(jsonb_build_object('quote', n.quote, 'day', n.day))
                                   FROM new_rates n JOIN old_rates o USING (base, quote, day)
                                   WHERE n.base = 'EUR' AND n.rate IS DISTINCT FROM o.rate));
    END IF;
    RETURN NULL;
END $$;

-- At commit: every noted currency from its first changed day; the euro's rows span all currencies' days.
CREATE FUNCTION reporting.flush_fx() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    noted record;
    me bigint := reporting.current_xact();
BEGIN
    FOR noted IN DELETE FROM reporting.fx_dirty WHERE xact = me RETURNING currency, since LOOP
        PERFORM reporting.refresh_fx_daily(ARRAY[noted.currency], noted.since);
    END LOOP;
    IF FOUND THEN
        PERFORM reporting.refresh_fx_daily(ARRAY['EUR'], '-infinity');
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER fx_daily_insert AFTER INSERT ON reporting.fx_rates REFERENCING NEW TABLE AS new_rates
    FOR EACH STATEMENT EXECUTE FUNCTION reporting.touch_fx_rates();
CREATE TRIGGER fx_daily_update AFTER UPDATE ON reporting.fx_rates
    REFERENCING OLD TABLE AS old_rates NEW TABLE AS new_rates
    FOR EACH STATEMENT EXECUTE FUNCTION reporting.touch_fx_rates();
CREATE TRIGGER fx_daily_delete AFTER DELETE ON reporting.fx_rates REFERENCING OLD TABLE AS old_rates
    FOR EACH STATEMENT EXECUTE FUNCTION reporting.touch_fx_rates();
CREATE CONSTRAINT TRIGGER fx_daily_flush AFTER INSERT ON reporting.fx_dirty
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION reporting.flush_fx();
"""


MONTHS = """
CREATE TABLE reporting.monthly_products (
    shop_id        bigint NOT NULL REFERENCES app_dashboard.shops (id) ON DELETE CASCADE,
    month          date NOT NULL CHECK (month = date_trunc('month', month)::date),
    product_id     text NOT NULL,
    variant_id     text NOT NULL,
    product_title  text,
    variant_title  text,
    sku            text,
    units_sold     integer NOT NULL DEFAULT 0,
    units_returned integer NOT NULL DEFAULT 0,
    net_sales      numeric(20, 2) NOT NULL DEFAULT 0,
    -- the month's days with positive and with negative net sales, apart: bounds of a converted sum
    net_sales_gains  numeric(20, 2) NOT NULL DEFAULT 0,
    net_sales_losses numeric(20, 2) NOT NULL DEFAULT 0,
    PRIMARY KEY (shop_id, month, product_id, variant_id)
);

-- The months of the days this transaction recomputed, summed again from the daily rollup.
CREATE FUNCTION reporting.flush_months(me bigint) RETURNS void LANGUAGE sql AS $$
    DELETE FROM reporting.monthly_products r
    USING (SELECT DISTINCT shop_id, date_trunc('month', day)::date AS month
           FROM reporting.rollup_dirty_days WHERE xact = me) m
    WHERE r.shop_id = m.shop_id AND r.month = m.month;
    INSERT INTO reporting.monthly_products (shop_id, month, product_id, variant_id, product_title, variant_title,
        sku, units_sold, units_returned, net_sales, net_sales_gains, net_sales_losses)
    SELECT p.shop_id, m.month, p.product_id, p.variant_id, max(p.product_title), max(p.variant_title), max(p.sku),
           sum(p.units_sold), sum(p.units_returned), sum(p.net_sales), sum(greatest(p.net_sales, 0)),
           sum(least(p.net_sales, 0))
    FROM (SELECT DISTINCT shop_id, date_trunc('month', day)::date AS month
          FROM reporting.rollup_dirty_days WHERE xact = me) m
    JOIN reporting.daily_products p
        ON p.shop_id = m.shop_id AND p.day >= m.month AND p.day < (m.month + interval '1 month')::date
    GROUP BY p.shop_id, m.month, p.product_id, p.variant_id
$$;
"""

# Customers' net sales to date follow inserted sales by deltas: a new sale adds its amount to its order's
# customer (a backfill's sales part then recomputes no customer), a new agreement adds the sales already
# waiting for it (loaded before it). Everything else (orders, customers, changed or deleted sales and
# agreements) still recomputes the customer from the warehouse, and a recomputed customer ignores its deltas.
CUSTOMER_DELTAS = """
CREATE UNLOGGED TABLE reporting.rollup_customer_deltas (
    xact        bigint NOT NULL,
    shop_id     bigint NOT NULL,
    customer_id text NOT NULL,
    net_sales   numeric NOT NULL,
    PRIMARY KEY (xact, shop_id, customer_id)
);

CREATE OR REPLACE FUNCTION reporting.touch_sales() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO reporting.rollup_dirty_days (xact, shop_id, day)
    SELECT DISTINCT reporting.current_xact(), a.shop_id, {local_day}
    FROM (SELECT DISTINCT shop_id, agreement_id FROM changed) c
    JOIN core_warehouse.order_agreements a ON a.shop_id = c.shop_id AND a.agreement_id = c.agreement_id
    JOIN app_dashboard.shops sh ON sh.id = c.shop_id
    ON CONFLICT DO NOTHING;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO reporting.rollup_customer_deltas AS d (xact, shop_id, customer_id, net_sales)
        SELECT reporting.current_xact(), o.shop_id, o.customer_id, sum(c.total_amount_shop - c.tax_shop)
        FROM changed c
        JOIN core_warehouse.order_agreements a ON a.shop_id = c.shop_id AND a.agreement_id = c.agreement_id
        JOIN core_warehouse.orders o ON o.shop_id = a.shop_id AND o.order_id = a.order_id
        WHERE c.line_type = 'PRODUCT' AND o.customer_id IS NOT NULL AND NOT o.is_test AND o.deleted_at IS NULL
        GROUP BY o.shop_id, o.customer_id
        ON CONFLICT (xact, shop_id, customer_id) DO UPDATE SET net_sales = d.net_sales + excluded.net_sales;
    ELSE
        INSERT INTO reporting.rollup_dirty_customers (xact, shop_id, customer_id)
        SELECT DISTINCT reporting.current_xact(), o.shop_id, o.customer_id
        FROM (SELECT DISTINCT shop_id, agreement_id FROM changed) c
        JOIN core_warehouse.order_agreements a ON a.shop_id = c.shop_id AND a.agreement_id = c.agreement_id
        JOIN core_warehouse.orders o ON o.shop_id = a.shop_id AND o.order_id = a.order_id
        WHERE o.customer_id IS NOT NULL ON CONFLICT DO NOTHING;
    END IF;
    PERFORM reporting.queue_flush();
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION reporting.touch_agreements() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO reporting.rollup_dirty_days (xact, shop_id, day)
    SELECT DISTINCT reporting.current_xact(), c.shop_id, {local_day_changed}
    FROM changed c JOIN app_dashboard.shops sh ON sh.id = c.shop_id
    ON CONFLICT DO NOTHING;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO reporting.rollup_customer_deltas AS d (xact, shop_id, customer_id, net_sales)
        SELECT reporting.current_xact(), o.shop_id, o.customer_id, sum(s.total_amount_shop - s.tax_shop)
        FROM changed c
        JOIN core_warehouse.order_sales s ON s.shop_id = c.shop_id AND s.agreement_id = c.agreement_id
        JOIN core_warehouse.orders o ON o.shop_id = c.shop_id AND o.order_id = c.order_id
        WHERE s.line_type = 'PRODUCT' AND o.customer_id IS NOT NULL AND NOT o.is_test AND o.deleted_at IS NULL
        GROUP BY o.shop_id, o.customer_id
        ON CONFLICT (xact, shop_id, customer_id) DO UPDATE SET net_sales = d.net_sales + excluded.net_sales;
    ELSE
        INSERT INTO reporting.rollup_dirty_customers (xact, shop_id, customer_id)
        SELECT DISTINCT reporting.current_xact(), o.shop_id, o.customer_id
        FROM (SELECT DISTINCT shop_id, order_id FROM changed) t
        JOIN core_warehouse.orders o ON o.shop_id = t.shop_id AND o.order_id = t.order_id
        WHERE o.customer_id IS NOT NULL ON CONFLICT DO NOTHING;
    END IF;
    PERFORM reporting.queue_flush();
    RETURN NULL;
END $$;

-- The deltas of customers not recomputed in full this time.
CREATE FUNCTION reporting.flush_customer_deltas(me bigint) RETURNS void LANGUAGE sql AS $$
    UPDATE reporting.customer_facts cf SET net_sales = cf.net_sales + d.net_sales
    FROM (SELECT shop_id, customer_id, sum(net_sales) AS net_sales FROM reporting.rollup_customer_deltas
          WHERE xact = me GROUP BY shop_id, customer_id) d
    WHERE cf.shop_id = d.shop_id AND cf.customer_id = d.customer_id AND d.net_sales <> 0
      AND NOT EXISTS (SELECT FROM reporting.rollup_dirty_customers n
                      WHERE n.xact = me AND n.shop_id = d.shop_id AND n.customer_id = d.customer_id);
    DELETE FROM reporting.rollup_customer_deltas WHERE xact = me
$$;
"""

DELTA_SHOPS = "UNION SELECT shop_id FROM reporting.rollup_customer_deltas WHERE xact = me\n          "

# reporting.flush_rollups of migration 0010 with the months after the days.
FLUSH = """
CREATE OR REPLACE FUNCTION reporting.flush_rollups() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    me bigint := reporting.current_xact();
BEGIN
    PERFORM pg_advisory_xact_lock(1013, shop_id::integer)
    FROM (SELECT shop_id FROM reporting.rollup_dirty_days WHERE xact = me
          UNION SELECT shop_id FROM reporting.rollup_dirty_customers WHERE xact = me
          {delta_shops}ORDER BY 1) shops;
    PERFORM reporting.flush_customers(me);
    {deltas}
    PERFORM reporting.flush_days(me);
    {months}
    PERFORM reporting.flush_marketing(me);
    DELETE FROM reporting.rollup_dirty_days WHERE xact = me;
    DELETE FROM reporting.rollup_dirty_customers WHERE xact = me;
    DELETE FROM reporting.rollup_pending WHERE xact = me;
END $$;
ALTER FUNCTION reporting.flush_rollups() SET enable_hashjoin = off;
ALTER FUNCTION reporting.flush_rollups() SET enable_mergejoin = off;
ALTER FUNCTION reporting.flush_rollups() SET enable_seqscan = off;
"""


def rate(alias: str, source: str, target: str, day: str) -> tuple[str, str]:
    """(rate, rate_day) from `source` to `target` currency on `day`, through fx_daily joined as {alias}f, {alias}t.

    The same values as reporting.fx (which answers a day fx_daily does not cover).
    """
    f, t = f"{alias}f", f"{alias}t"
    both = f"{f}.per_euro IS NOT NULL AND {t}.per_euro IS NOT NULL"
    fallback = f"reporting.fx_uncovered({source}, {target}, {day})"
    value = (f"CASE WHEN {source} = {target} THEN 1::numeric WHEN {both} THEN {t}.per_euro / {f}.per_euro "
             f"ELSE (SELECT x.rate FROM {fallback} x) END")
    rate_day = (f"CASE WHEN {source} = {target} THEN {day} WHEN {both} THEN least({f}.rate_day, {t}.rate_day) "
                f"ELSE (SELECT x.rate_day FROM {fallback} x) END")
    return value, rate_day


def rate_joins(alias: str, source: str, target: str, day: str) -> str:
    return (f"LEFT JOIN reporting.fx_daily {alias}f ON {alias}f.currency = {source} AND {alias}f.day = {day}\n"
            f"LEFT JOIN reporting.fx_daily {alias}t ON {alias}t.currency = {target} AND {alias}t.day = {day}")


def reporting_fx(day: str) -> str:
    """The 0011 views' last three columns: reporting currency, rate to it, whether that rate is an earlier day's."""
    value, rate_day = rate("rc", "sh.currency", "a.reporting_currency", day)
    return f"a.reporting_currency, {value} AS fx_rate, coalesce({rate_day} < {day}, true) AS fx_estimated"


def reporting_join(day: str) -> str:
    return ("CROSS JOIN app_dashboard.agency_settings a\n"
            + rate_joins("rc", "sh.currency", "a.reporting_currency", day))


SHOP_RATE, SHOP_RATE_DAY = rate("sc", "m.currency", "sh.currency", "m.day")
ACCOUNT_RATE, ACCOUNT_RATE_DAY = rate("rc", "m.currency", "a.reporting_currency", "m.day")
META_COLUMNS = """m.currency AS account_currency, m.spend, m.impressions, m.clicks, m.link_clicks, m.purchases,
       m.purchase_value, sh.currency, s.rate AS shop_fx_rate,
       round(m.spend * s.rate, 2) AS spend_shop, round(m.purchase_value * s.rate, 2) AS purchase_value_shop,
       coalesce(s.rate_day < m.day, true) AS shop_fx_estimated,
       a.reporting_currency, r.rate AS fx_rate, coalesce(r.rate_day < m.day, true) AS fx_estimated"""
META_JOINS = f"""JOIN app_dashboard.shops sh ON sh.id = m.shop_id
CROSS JOIN app_dashboard.agency_settings a
{rate_joins("sc", "m.currency", "sh.currency", "m.day")}
{rate_joins("rc", "m.currency", "a.reporting_currency", "m.day")}
CROSS JOIN LATERAL (SELECT {SHOP_RATE} AS rate, {SHOP_RATE_DAY} AS rate_day) s
CROSS JOIN LATERAL (SELECT {ACCOUNT_RATE} AS rate, {ACCOUNT_RATE_DAY} AS rate_day) r"""

MER_RATE, MER_RATE_DAY = rate("rc", "sh.currency", "a.reporting_currency", "k.day")

# Same names, columns and meaning as migration 0011's views; only how the rates are found differs.
VIEWS = f"""
CREATE OR REPLACE VIEW reporting.daily_revenue WITH (security_invoker = true) AS
SELECT r.shop_id, sh.shop_domain, r.day, sh.currency, r.orders, r.units, r.gross_sales, r.discounts, r.returns,
       r.net_sales, r.shipping, r.taxes, r.duties, r.additional_fees, r.total_sales,
       round((r.gross_sales - r.discounts) / nullif(r.orders, 0), 2) AS aov,
       r.new_customers, r.new_customer_orders, r.new_customer_net_sales,
       r.returning_customers, r.returning_customer_orders, r.returning_customer_net_sales,
       {reporting_fx("r.day")}
FROM reporting.daily_sales r JOIN app_dashboard.shops sh ON sh.id = r.shop_id
{reporting_join("r.day")};

CREATE OR REPLACE VIEW reporting.marketing_daily WITH (security_invoker = true) AS
SELECT m.shop_id, sh.shop_domain, m.day, m.account_id, {META_COLUMNS}
FROM reporting.daily_marketing m
{META_JOINS};

CREATE OR REPLACE VIEW reporting.campaign_daily WITH (security_invoker = true) AS
SELECT m.shop_id, sh.shop_domain, m.day, m.account_id, m.campaign_id, m.campaign_name, m.objective, {META_COLUMNS}
FROM reporting.daily_campaigns m
{META_JOINS};

-- The keys are the union of the two rollups' (shop, day) pairs, so a filter on shop and day reaches both
-- rollups' indexes (a FULL JOIN's merged keys would not let it through).
CREATE OR REPLACE VIEW reporting.mer_roas WITH (security_invoker = true) AS
WITH spend AS (
    SELECT shop_id, day, sum(spend_shop) AS spend, sum(purchases) AS purchases,
           sum(purchase_value_shop) AS purchase_value, bool_or(shop_fx_estimated) AS shop_fx_estimated
    FROM reporting.marketing_daily GROUP BY shop_id, day
)
SELECT k.shop_id, sh.shop_domain, k.day, sh.currency, coalesce(r.orders, 0) AS orders,
       coalesce(r.total_sales, 0) AS total_sales, coalesce(r.new_customers, 0) AS new_customers,
       coalesce(s.spend, 0) AS spend, coalesce(s.purchases, 0) AS purchases,
       coalesce(s.purchase_value, 0) AS purchase_value,
       round(coalesce(r.total_sales, 0) / nullif(s.spend, 0), 4) AS mer,
       round(s.purchase_value / nullif(s.spend, 0), 4) AS roas,
       round(s.spend / nullif(r.new_customers, 0), 2) AS cac,
       coalesce(s.shop_fx_estimated, false) AS shop_fx_estimated, a.reporting_currency, {MER_RATE} AS fx_rate,
       coalesce({MER_RATE_DAY} < k.day, true) OR coalesce(s.shop_fx_estimated, false) AS fx_estimated
FROM (SELECT shop_id, day FROM reporting.daily_sales UNION SELECT shop_id, day FROM reporting.daily_marketing) k
LEFT JOIN reporting.daily_sales r ON r.shop_id = k.shop_id AND r.day = k.day
LEFT JOIN spend s ON s.shop_id = k.shop_id AND s.day = k.day
JOIN app_dashboard.shops sh ON sh.id = k.shop_id
{reporting_join("k.day")};

CREATE OR REPLACE VIEW reporting.product_daily WITH (security_invoker = true) AS
SELECT p.shop_id, sh.shop_domain, p.day, p.product_id, p.variant_id, p.product_title, p.variant_title, p.sku,
       sh.currency, p.units_sold, p.units_returned, p.net_sales,
       {reporting_fx("p.day")}
FROM reporting.daily_products p JOIN app_dashboard.shops sh ON sh.id = p.shop_id
{reporting_join("p.day")};

-- Whole calendar months of reporting.product_daily (one store's figures, in its currency).
CREATE VIEW reporting.product_monthly WITH (security_invoker = true) AS
SELECT p.shop_id, sh.shop_domain, p.month, p.product_id, p.variant_id, p.product_title, p.variant_title, p.sku,
       sh.currency, p.units_sold, p.units_returned, p.net_sales, p.net_sales_gains, p.net_sales_losses
FROM reporting.monthly_products p JOIN app_dashboard.shops sh ON sh.id = p.shop_id;

CREATE OR REPLACE VIEW reporting.customer_summary WITH (security_invoker = true) AS
SELECT c.shop_id, sh.shop_domain, c.customer_id, c.display_name, c.email, c.first_order_day, c.last_order_day,
       c.orders, sh.currency, c.net_sales, round(c.net_sales / nullif(c.orders, 0), 2) AS net_sales_per_order,
       {reporting_fx("c.last_order_day")}
FROM reporting.customer_facts c JOIN app_dashboard.shops sh ON sh.id = c.shop_id
{reporting_join("c.last_order_day")};
"""

FUNCTIONS = ("FUNCTION reporting.refresh_fx_daily(text[], date), reporting.note_fx(jsonb), "
             "reporting.touch_fx_rates(), reporting.flush_fx()")
GRANTS = f"""
GRANT SELECT ON reporting.fx_daily, reporting.product_monthly TO {WEB_ROLE}, {SCHEDULER_ROLE};
REVOKE EXECUTE ON FUNCTION reporting.fx_uncovered(text, text, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reporting.fx_uncovered(text, text, date) TO {WEB_ROLE}, {SCHEDULER_ROLE};
GRANT ALL ON reporting.fx_daily TO {SCHEDULER_ROLE};
REVOKE ALL ON reporting.fx_dirty FROM {WEB_ROLE};
GRANT ALL ON reporting.fx_dirty TO {SCHEDULER_ROLE};
REVOKE EXECUTE ON {FUNCTIONS}, reporting.flush_months(bigint), reporting.flush_customer_deltas(bigint)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reporting.flush_months(bigint), reporting.flush_customer_deltas(bigint) TO {SCHEDULER_ROLE};
REVOKE ALL ON reporting.rollup_customer_deltas FROM {WEB_ROLE};
GRANT EXECUTE ON {FUNCTIONS} TO {SCHEDULER_ROLE};
"""


def upgrade() -> None:
    op.execute(FX_DAILY)
    op.execute(MONTHS)
    op.execute(tenant_table("reporting.monthly_products"))
    op.execute(CUSTOMER_DELTAS.format(local_day="(a.happened_at AT TIME ZONE sh.iana_timezone)::date",
                                      local_day_changed="(c.happened_at AT TIME ZONE sh.iana_timezone)::date"))
    op.execute(tenant_table("reporting.rollup_customer_deltas"))  # the web has no grant on it (GRANTS)
    op.execute(FLUSH.format(months="PERFORM reporting.flush_months(me);",
                            deltas="PERFORM reporting.flush_customer_deltas(me);",
                            delta_shops=DELTA_SHOPS))
    op.execute(VIEWS)
    op.execute(GRANTS)
    # Customers by net sales within a store, the dates read from the index (top customers of a range).
    op.execute("DROP INDEX reporting.customer_facts_net_sales_idx")
    op.execute("CREATE INDEX customer_facts_net_sales_idx ON reporting.customer_facts (shop_id, net_sales DESC) "
               "INCLUDE (first_order_day, last_order_day)")
    # One product's days (all stores' top products convert only the products that can make the list).
    op.execute("CREATE INDEX daily_products_product_idx ON reporting.daily_products "
               "(shop_id, product_id, variant_id, day)")
    op.execute("INSERT INTO reporting.monthly_products (shop_id, month, product_id, variant_id, product_title, "
               "variant_title, sku, units_sold, units_returned, net_sales, net_sales_gains, net_sales_losses) "
               "SELECT shop_id, date_trunc('month', day)::date, product_id, variant_id, max(product_title), "
               "max(variant_title), max(sku), sum(units_sold), sum(units_returned), sum(net_sales), "
               "sum(greatest(net_sales, 0)), sum(least(net_sales, 0)) "
               "FROM reporting.daily_products GROUP BY 1, 2, 3, 4")
    op.execute("SELECT reporting.refresh_fx_daily(ARRAY(SELECT DISTINCT quote FROM reporting.fx_rates "
               "WHERE base = 'EUR') || ARRAY['EUR'], '-infinity')")


def downgrade() -> None:
    views = importlib.import_module("migrations.versions.0011_views").VIEWS
    op.execute(views.replace("CREATE VIEW", "CREATE OR REPLACE VIEW"))
    op.execute("DROP VIEW reporting.product_monthly")
    op.execute(FLUSH.format(months="", deltas="", delta_shops=""))
    op.execute("DROP TABLE reporting.rollup_customer_deltas")
    op.execute("DROP FUNCTION reporting.flush_customer_deltas(bigint)")
    for function in ("touch_sales", "touch_agreements"):  # 0010's, noting customers for a full recompute
        op.execute(re.search(rf"CREATE FUNCTION reporting.{function}\(\).*?END \$\$;", ROLLUPS_0010, re.S)
                   .group(0).replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"))
    op.execute("DROP TABLE reporting.monthly_products")
    op.execute("DROP FUNCTION reporting.flush_months(bigint)")
    op.execute("DROP INDEX reporting.customer_facts_net_sales_idx, reporting.daily_products_product_idx")
    op.execute("CREATE INDEX customer_facts_net_sales_idx ON reporting.customer_facts (shop_id, net_sales DESC)")
    for trigger in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER fx_daily_{trigger} ON reporting.fx_rates")
    op.execute("DROP TABLE reporting.fx_dirty, reporting.fx_daily")
    op.execute(f"DROP {FUNCTIONS}, reporting.fx_uncovered(text, text, date)")
