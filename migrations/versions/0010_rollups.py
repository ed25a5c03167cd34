"""Reporting rollups kept current by every write to the warehouse, and the views the web reads.

Revision ID: 0010
Revises: 0009

One mechanism, whoever writes (sync job, webhook drain, load-bulk, uploads): statement-level triggers with
transition tables note the (shop, day) pairs and customers a statement touched, tagged with the transaction;
a deferred constraint trigger fires once per transaction, at commit, and recomputes exactly those pairs,
set-based (reporting.flush_rollups). A rollup therefore commits with the rows it sums, and
reporting.rebuild_rollups(shop) recomputes everything the same way. Days are shop-local (IANA timezone);
Meta facts keep their ad account's day.
"""

from alembic import op

from migrations.rls import SCHEDULER_ROLE, WEB_ROLE, tenant_table

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

MONEY = "numeric(20, 2) NOT NULL DEFAULT 0"
META_METRICS = f"""
    currency       text NOT NULL,
    spend          {MONEY},
    impressions    bigint NOT NULL DEFAULT 0,
    clicks         bigint NOT NULL DEFAULT 0,
    link_clicks    bigint NOT NULL DEFAULT 0,
    purchases      numeric NOT NULL DEFAULT 0,
    purchase_value {MONEY}
"""

TABLES = f"""
CREATE TABLE reporting.daily_sales (
    shop_id         bigint NOT NULL REFERENCES app_dashboard.shops (id) ON DELETE CASCADE,
    day             date NOT NULL,
    orders          integer NOT NULL DEFAULT 0,
    units           integer NOT NULL DEFAULT 0,
    gross_sales     {MONEY},
    discounts       {MONEY},
    returns         {MONEY},
    net_sales       {MONEY},
    shipping        {MONEY},
    taxes           {MONEY},
    duties          {MONEY},
    additional_fees {MONEY},
    total_sales     {MONEY},
    new_customers                integer NOT NULL DEFAULT 0,
    new_customer_orders          integer NOT NULL DEFAULT 0,
    new_customer_net_sales       {MONEY},
    returning_customers          integer NOT NULL DEFAULT 0,
    returning_customer_orders    integer NOT NULL DEFAULT 0,
    returning_customer_net_sales {MONEY},
    PRIMARY KEY (shop_id, day)
);

CREATE TABLE reporting.daily_marketing (
    shop_id    bigint NOT NULL REFERENCES app_dashboard.shops (id) ON DELETE CASCADE,
    account_id text NOT NULL,
    day        date NOT NULL,
    {META_METRICS},
    PRIMARY KEY (shop_id, day, account_id)
);

CREATE TABLE reporting.daily_campaigns (
    shop_id       bigint NOT NULL REFERENCES app_dashboard.shops (id) ON DELETE CASCADE,
    account_id    text NOT NULL,
    campaign_id   text NOT NULL,
    day           date NOT NULL,
    campaign_name text NOT NULL DEFAULT '',
    objective     text,
    {META_METRICS},
    PRIMARY KEY (shop_id, day, account_id, campaign_id)
);

-- product_id and variant_id are '' for a custom line item (no product).
CREATE TABLE reporting.daily_products (
    shop_id        bigint NOT NULL REFERENCES app_dashboard.shops (id) ON DELETE CASCADE,
    day            date NOT NULL,
    product_id     text NOT NULL,
    variant_id     text NOT NULL,
    product_title  text,
    variant_title  text,
    sku            text,
    units_sold     integer NOT NULL DEFAULT 0,
    units_returned integer NOT NULL DEFAULT 0,
    net_sales      {MONEY},
    PRIMARY KEY (shop_id, day, product_id, variant_id)
);

CREATE TABLE reporting.customer_facts (
    shop_id         bigint NOT NULL REFERENCES app_dashboard.shops (id) ON DELETE CASCADE,
    customer_id     text NOT NULL,
    display_name    text,
    email           text,
    first_order_id  text NOT NULL,
    first_order_day date NOT NULL,
    last_order_day  date NOT NULL,
    orders          integer NOT NULL,
    net_sales       {MONEY},
    PRIMARY KEY (shop_id, customer_id)
);
CREATE INDEX customer_facts_net_sales_idx ON reporting.customer_facts (shop_id, net_sales DESC);

-- What this transaction touched, flushed at its commit (under RLS like every table with a shop; the web
-- has no grant on them at all). Tagged with the transaction, so two concurrent
-- loads of one shop never wait on each other's rows here (no key shared across transactions).
CREATE UNLOGGED TABLE reporting.rollup_dirty_days (
    xact    bigint NOT NULL,
    shop_id bigint NOT NULL,
    day     date NOT NULL,
    UNIQUE (xact, shop_id, day)
);
CREATE UNLOGGED TABLE reporting.rollup_dirty_customers (
    xact        bigint NOT NULL,
    shop_id     bigint NOT NULL,
    customer_id text NOT NULL,
    UNIQUE (xact, shop_id, customer_id)
);
CREATE UNLOGGED TABLE reporting.rollup_pending (xact bigint PRIMARY KEY);

-- The flush finds a day's agreements by time range.
CREATE INDEX order_agreements_happened_idx ON core_warehouse.order_agreements (shop_id, happened_at);
"""

# A (shop, day) pair as a half-open range of instants, so the warehouse's indexes find its rows.
DAY_RANGE = """(d.day::timestamp AT TIME ZONE sh.iana_timezone) AS lo,
               ((d.day + 1)::timestamp AT TIME ZONE sh.iana_timezone) AS hi"""

LOCAL_DAY = "(({column}) AT TIME ZONE sh.iana_timezone)::date"

FUNCTIONS = f"""
CREATE FUNCTION reporting.current_xact() RETURNS bigint LANGUAGE sql VOLATILE AS $$
    SELECT pg_current_xact_id()::text::bigint
$$;

-- The first note of a transaction queues its flush at commit.
CREATE FUNCTION reporting.queue_flush() RETURNS void LANGUAGE sql AS $$
    INSERT INTO reporting.rollup_pending VALUES (reporting.current_xact()) ON CONFLICT DO NOTHING
$$;

-- Orders: the day placed, every day of their agreements (a test flag or a deletion changes them), the customer.
CREATE FUNCTION reporting.touch_orders() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO reporting.rollup_dirty_days (xact, shop_id, day)
    SELECT DISTINCT reporting.current_xact(), x.shop_id, x.day FROM (
        SELECT c.shop_id, {LOCAL_DAY.format(column="c.created_at")} AS day
        FROM changed c JOIN app_dashboard.shops sh ON sh.id = c.shop_id
        UNION ALL
        SELECT a.shop_id, {LOCAL_DAY.format(column="a.happened_at")}
        FROM changed c JOIN core_warehouse.order_agreements a ON a.shop_id = c.shop_id AND a.order_id = c.order_id
        JOIN app_dashboard.shops sh ON sh.id = c.shop_id
    ) x ON CONFLICT DO NOTHING;
    INSERT INTO reporting.rollup_dirty_customers (xact, shop_id, customer_id)
    SELECT DISTINCT reporting.current_xact(), shop_id, customer_id FROM changed WHERE customer_id IS NOT NULL
    ON CONFLICT DO NOTHING;
    PERFORM reporting.queue_flush();
    RETURN NULL;
END $$;

-- Agreements, sales and line items: the days of their agreements, and the order's customer (net sales to date).
CREATE FUNCTION reporting.touch_agreements() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH touched AS MATERIALIZED (
        SELECT DISTINCT c.shop_id, {LOCAL_DAY.format(column="c.happened_at")} AS day, c.order_id
        FROM changed c JOIN app_dashboard.shops sh ON sh.id = c.shop_id
    ), days AS (
        INSERT INTO reporting.rollup_dirty_days (xact, shop_id, day)
        SELECT DISTINCT reporting.current_xact(), shop_id, day FROM touched ON CONFLICT DO NOTHING
    )
    INSERT INTO reporting.rollup_dirty_customers (xact, shop_id, customer_id)
    SELECT DISTINCT reporting.current_xact(), o.shop_id, o.customer_id
    FROM (SELECT DISTINCT shop_id, order_id FROM touched) t
    JOIN core_warehouse.orders o ON o.shop_id = t.shop_id AND o.order_id = t.order_id
    WHERE o.customer_id IS NOT NULL ON CONFLICT DO NOTHING;
    PERFORM reporting.queue_flush();
    RETURN NULL;
END $$;

CREATE FUNCTION reporting.touch_sales() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH touched AS MATERIALIZED (
        SELECT DISTINCT a.shop_id, {LOCAL_DAY.format(column="a.happened_at")} AS day, a.order_id
        FROM (SELECT DISTINCT shop_id, agreement_id FROM changed) c
        JOIN core_warehouse.order_agreements a ON a.shop_id = c.shop_id AND a.agreement_id = c.agreement_id
        JOIN app_dashboard.shops sh ON sh.id = c.shop_id
    ), days AS (
        INSERT INTO reporting.rollup_dirty_days (xact, shop_id, day)
        SELECT DISTINCT reporting.current_xact(), shop_id, day FROM touched ON CONFLICT DO NOTHING
    )
    INSERT INTO reporting.rollup_dirty_customers (xact, shop_id, customer_id)
    SELECT DISTINCT reporting.current_xact(), o.shop_id, o.customer_id
    FROM (SELECT DISTINCT shop_id, order_id FROM touched) t
    JOIN core_warehouse.orders o ON o.shop_id = t.shop_id AND o.order_id = t.order_id
    WHERE o.customer_id IS NOT NULL ON CONFLICT DO NOTHING;
    PERFORM reporting.queue_flush();
    RETURN NULL;
END $$;

-- A line item names the product and variant of its sales: the days of its order's agreements.
CREATE FUNCTION reporting.touch_line_items() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO reporting.rollup_dirty_days (xact, shop_id, day)
    SELECT DISTINCT reporting.current_xact(), a.shop_id, {LOCAL_DAY.format(column="a.happened_at")}
    FROM (SELECT DISTINCT shop_id, order_id FROM changed) c
    JOIN core_warehouse.order_agreements a ON a.shop_id = c.shop_id AND a.order_id = c.order_id
    JOIN app_dashboard.shops sh ON sh.id = c.shop_id
    ON CONFLICT DO NOTHING;
    PERFORM reporting.queue_flush();
    RETURN NULL;
END $$;

CREATE FUNCTION reporting.touch_customers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO reporting.rollup_dirty_customers (xact, shop_id, customer_id)
    SELECT DISTINCT reporting.current_xact(), shop_id, customer_id FROM changed ON CONFLICT DO NOTHING;
    PERFORM reporting.queue_flush();
    RETURN NULL;
END $$;

CREATE FUNCTION reporting.touch_marketing() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO reporting.rollup_dirty_days (xact, shop_id, day)
    SELECT DISTINCT reporting.current_xact(), shop_id, date FROM changed ON CONFLICT DO NOTHING;
    PERFORM reporting.queue_flush();
    RETURN NULL;
END $$;

-- Customer facts of the noted customers; a customer whose first order changed re-dates new and returning
-- figures on the days of both orders. Each customer is its own few index probes (LATERAL): no join between
-- two CTEs, whose row counts the planner cannot know.
CREATE FUNCTION reporting.flush_customers(me bigint) RETURNS void LANGUAGE sql AS $$
    WITH fresh AS MATERIALIZED (
        SELECT n.shop_id, n.customer_id, cf.first_order_id AS old_first_order_id, f.first_order_id,
               f.first_order_day, f.last_order_day, f.orders, coalesce(net.net_sales, 0) AS net_sales,
               c.display_name, c.email
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
        WHERE (cf.display_name, cf.email, cf.first_order_id, cf.last_order_day, cf.orders, cf.net_sales)
              IS DISTINCT FROM (excluded.display_name, excluded.email, excluded.first_order_id,
                                excluded.last_order_day, excluded.orders, excluded.net_sales)
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
    ) x ON CONFLICT DO NOTHING
$$;

-- The noted (shop, day) pairs as instants: what the day rollups are recomputed for.
CREATE FUNCTION reporting.noted_days(me bigint)
    RETURNS TABLE (shop_id bigint, day date, lo timestamptz, hi timestamptz) LANGUAGE sql STABLE AS $$
    SELECT DISTINCT d.shop_id, d.day, {DAY_RANGE}
    FROM reporting.rollup_dirty_days d JOIN app_dashboard.shops sh ON sh.id = d.shop_id
    WHERE d.xact = me
$$;

-- Shopify's sales report (as core_warehouse.shop_daily_sales) with units and new and returning customers, and
-- the same day's sales per product and variant: one read of the noted days' sales feeds both.
CREATE FUNCTION reporting.flush_days(me bigint) RETURNS void LANGUAGE sql AS $$
    DELETE FROM reporting.daily_sales r USING reporting.noted_days(me) d WHERE r.shop_id = d.shop_id AND r.day = d.day;
    DELETE FROM reporting.daily_products r USING reporting.noted_days(me) d
    WHERE r.shop_id = d.shop_id AND r.day = d.day;
    WITH days AS MATERIALIZED (SELECT * FROM reporting.noted_days(me)),
    sales AS MATERIALIZED (
        SELECT d.shop_id, d.day, s.action_type, s.line_type, s.quantity, s.line_item_id, o.customer_id,
               cf.first_order_id = o.order_id AS first_order,
               s.total_amount_shop - s.tax_shop + s.discount_before_taxes_shop AS gross,
               s.discount_before_taxes_shop AS discount, s.tax_shop AS tax
        FROM days d
        JOIN core_warehouse.order_agreements a
            ON a.shop_id = d.shop_id AND a.happened_at >= d.lo AND a.happened_at < d.hi
        JOIN core_warehouse.order_sales s ON s.shop_id = a.shop_id AND s.agreement_id = a.agreement_id
        JOIN core_warehouse.orders o ON o.shop_id = a.shop_id AND o.order_id = a.order_id
        LEFT JOIN reporting.customer_facts cf ON cf.shop_id = o.shop_id AND cf.customer_id = o.customer_id
        WHERE NOT o.is_test AND o.deleted_at IS NULL
          AND s.line_type IN ('PRODUCT', 'SHIPPING', 'DUTY', 'ADDITIONAL_FEE')
    ), amounts AS (
        SELECT shop_id, day,
            coalesce(sum(quantity) FILTER (WHERE line_type = 'PRODUCT' AND action_type <> 'RETURN'), 0) AS units,
            coalesce(sum(gross) FILTER (WHERE line_type = 'PRODUCT' AND action_type <> 'RETURN'), 0) AS gross_sales,
            coalesce(sum(discount) FILTER (WHERE line_type = 'PRODUCT' AND action_type <> 'RETURN'), 0) AS discounts,
            coalesce(-sum(gross - discount) FILTER (WHERE line_type = 'PRODUCT' AND action_type = 'RETURN'), 0)
                AS returns,
            coalesce(sum(gross - discount) FILTER (WHERE line_type = 'SHIPPING'), 0) AS shipping,
            coalesce(sum(gross - discount) FILTER (WHERE line_type = 'DUTY'), 0) AS duties,
            coalesce(sum(gross - discount) FILTER (WHERE line_type = 'ADDITIONAL_FEE'), 0) AS additional_fees,
            coalesce(sum(tax), 0) AS taxes,
            coalesce(sum(gross - discount) FILTER (WHERE line_type = 'PRODUCT' AND first_order), 0) AS new_net,
            coalesce(sum(gross - discount) FILTER (WHERE line_type = 'PRODUCT' AND NOT first_order), 0)
                AS returning_net
        FROM sales GROUP BY shop_id, day
    ), placed AS (
        SELECT d.shop_id, d.day, count(*) AS orders,
               count(*) FILTER (WHERE cf.first_order_id = o.order_id) AS new_orders,
               count(DISTINCT o.customer_id) FILTER (WHERE cf.first_order_id = o.order_id) AS new_customers,
               count(*) FILTER (WHERE cf.first_order_id <> o.order_id) AS returning_orders,
               count(DISTINCT o.customer_id) FILTER (WHERE cf.first_order_id <> o.order_id) AS returning_customers
        FROM days d
        JOIN core_warehouse.orders o ON o.shop_id = d.shop_id AND o.created_at >= d.lo AND o.created_at < d.hi
        LEFT JOIN reporting.customer_facts cf ON cf.shop_id = o.shop_id AND cf.customer_id = o.customer_id
        WHERE NOT o.is_test AND o.deleted_at IS NULL
        GROUP BY d.shop_id, d.day
    ), products AS (
        INSERT INTO reporting.daily_products (shop_id, day, product_id, variant_id, product_title, variant_title,
            sku, units_sold, units_returned, net_sales)
        SELECT s.shop_id, s.day, coalesce(li.product_id, ''), coalesce(li.variant_id, ''), max(li.title),
               max(li.variant_title), max(li.sku),
               coalesce(sum(s.quantity) FILTER (WHERE s.action_type <> 'RETURN'), 0),
               coalesce(-sum(s.quantity) FILTER (WHERE s.action_type = 'RETURN'), 0),
               sum(s.gross - s.discount)
        FROM sales s
        LEFT JOIN core_warehouse.order_line_items li ON li.shop_id = s.shop_id AND li.line_item_id = s.line_item_id
        WHERE s.line_type = 'PRODUCT'
        GROUP BY s.shop_id, s.day, coalesce(li.product_id, ''), coalesce(li.variant_id, '')
    )
    INSERT INTO reporting.daily_sales (shop_id, day, orders, units, gross_sales, discounts, returns, net_sales,
        shipping, taxes, duties, additional_fees, total_sales, new_customers, new_customer_orders,
        new_customer_net_sales, returning_customers, returning_customer_orders, returning_customer_net_sales)
    SELECT shop_id, day, coalesce(p.orders, 0), coalesce(a.units, 0), coalesce(a.gross_sales, 0),
           coalesce(a.discounts, 0), coalesce(a.returns, 0),
           coalesce(a.gross_sales - a.discounts - a.returns, 0), coalesce(a.shipping, 0), coalesce(a.taxes, 0),
           coalesce(a.duties, 0), coalesce(a.additional_fees, 0),
           coalesce(a.gross_sales - a.discounts - a.returns + a.shipping + a.taxes + a.duties + a.additional_fees, 0),
           coalesce(p.new_customers, 0), coalesce(p.new_orders, 0), coalesce(a.new_net, 0),
           coalesce(p.returning_customers, 0), coalesce(p.returning_orders, 0), coalesce(a.returning_net, 0)
    FROM amounts a FULL JOIN placed p USING (shop_id, day)
$$;

CREATE FUNCTION reporting.flush_marketing(me bigint) RETURNS void LANGUAGE sql AS $$
    DELETE FROM reporting.daily_marketing r USING reporting.rollup_dirty_days d
    WHERE d.xact = me AND r.shop_id = d.shop_id AND r.day = d.day;
    DELETE FROM reporting.daily_campaigns r USING reporting.rollup_dirty_days d
    WHERE d.xact = me AND r.shop_id = d.shop_id AND r.day = d.day;
    WITH days AS MATERIALIZED (SELECT DISTINCT shop_id, day FROM reporting.rollup_dirty_days WHERE xact = me),
    campaigns AS (
        INSERT INTO reporting.daily_campaigns (shop_id, account_id, campaign_id, day, campaign_name, objective,
            currency, spend, impressions, clicks, link_clicks, purchases, purchase_value)
        SELECT f.shop_id, f.account_id, f.campaign_id, f.date, f.campaign_name, f.objective, f.currency, f.spend,
               f.impressions, f.clicks, f.link_clicks, f.purchases, f.purchase_value
        FROM days d JOIN core_warehouse.fact_marketing_campaign_daily f ON f.shop_id = d.shop_id AND f.date = d.day
    )
    INSERT INTO reporting.daily_marketing (shop_id, account_id, day, currency, spend, impressions, clicks,
        link_clicks, purchases, purchase_value)
    SELECT f.shop_id, f.account_id, f.date, f.currency, f.spend, f.impressions, f.clicks, f.link_clicks,
           f.purchases, f.purchase_value
    FROM days d JOIN core_warehouse.fact_marketing_daily f ON f.shop_id = d.shop_id AND f.date = d.day
$$;

-- Everything this transaction noted: shops locked in order (a concurrent flush of the same shop waits, then
-- reads what that one committed), customers first (they may note more days), then the days.
CREATE FUNCTION reporting.flush_rollups() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    me bigint := reporting.current_xact();
BEGIN
    PERFORM pg_advisory_xact_lock(1013, shop_id::integer)
    FROM (SELECT shop_id FROM reporting.rollup_dirty_days WHERE xact = me
          UNION SELECT shop_id FROM reporting.rollup_dirty_customers WHERE xact = me ORDER BY 1) shops;
    PERFORM reporting.flush_customers(me);
    PERFORM reporting.flush_days(me);
    PERFORM reporting.flush_marketing(me);
    DELETE FROM reporting.rollup_dirty_days WHERE xact = me;
    DELETE FROM reporting.rollup_dirty_customers WHERE xact = me;
    DELETE FROM reporting.rollup_pending WHERE xact = me;
END $$;

-- A flush reads a few keys of large tables that a backfill is filling (their statistics lag behind): index
-- probes are always right here, and a hash join over a whole table never is.
ALTER FUNCTION reporting.flush_rollups() SET enable_hashjoin = off;
ALTER FUNCTION reporting.flush_rollups() SET enable_mergejoin = off;
ALTER FUNCTION reporting.flush_rollups() SET enable_seqscan = off;

CREATE FUNCTION reporting.flush_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM reporting.flush_rollups();
    RETURN NULL;
END $$;

-- Every day and customer of one shop (or all, when NULL), recomputed the same way.
CREATE FUNCTION reporting.rebuild_rollups(shop bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    me bigint := reporting.current_xact();
BEGIN
    INSERT INTO reporting.rollup_dirty_customers (xact, shop_id, customer_id)
    SELECT me, shop_id, customer_id FROM core_warehouse.orders
    WHERE customer_id IS NOT NULL AND (shop IS NULL OR shop_id = shop)
    UNION SELECT me, shop_id, customer_id FROM reporting.customer_facts WHERE shop IS NULL OR shop_id = shop
    ON CONFLICT DO NOTHING;
    INSERT INTO reporting.rollup_dirty_days (xact, shop_id, day)
    SELECT me, o.shop_id, {LOCAL_DAY.format(column="o.created_at")}
    FROM core_warehouse.orders o JOIN app_dashboard.shops sh ON sh.id = o.shop_id WHERE shop IS NULL OR o.shop_id = shop
    UNION SELECT me, a.shop_id, {LOCAL_DAY.format(column="a.happened_at")}
    FROM core_warehouse.order_agreements a JOIN app_dashboard.shops sh ON sh.id = a.shop_id
    WHERE shop IS NULL OR a.shop_id = shop
    UNION SELECT me, shop_id, date FROM core_warehouse.fact_marketing_daily WHERE shop IS NULL OR shop_id = shop
    UNION SELECT me, shop_id, date FROM core_warehouse.fact_marketing_campaign_daily
    WHERE shop IS NULL OR shop_id = shop
    UNION SELECT me, shop_id, day FROM reporting.daily_sales WHERE shop IS NULL OR shop_id = shop
    UNION SELECT me, shop_id, day FROM reporting.daily_marketing WHERE shop IS NULL OR shop_id = shop
    UNION SELECT me, shop_id, day FROM reporting.daily_campaigns WHERE shop IS NULL OR shop_id = shop
    UNION SELECT me, shop_id, day FROM reporting.daily_products WHERE shop IS NULL OR shop_id = shop
    ON CONFLICT DO NOTHING;
    PERFORM reporting.flush_rollups();
END $$;
"""

# (table, function, operations): each operation gets a statement trigger over its transition table.
WATCHED = (
    ("core_warehouse.orders", "touch_orders", ("INSERT", "UPDATE", "DELETE")),
    ("core_warehouse.order_agreements", "touch_agreements", ("INSERT", "UPDATE", "DELETE")),
    ("core_warehouse.order_sales", "touch_sales", ("INSERT", "UPDATE", "DELETE")),
    ("core_warehouse.order_line_items", "touch_line_items", ("INSERT", "UPDATE", "DELETE")),
    ("core_warehouse.customers", "touch_customers", ("INSERT", "UPDATE", "DELETE")),
    ("core_warehouse.fact_marketing_daily", "touch_marketing", ("INSERT", "UPDATE", "DELETE")),
    ("core_warehouse.fact_marketing_campaign_daily", "touch_marketing", ("INSERT", "UPDATE", "DELETE")),
)


def trigger_name(table: str, operation: str, old: bool = False) -> str:
    return f"rollups_{table.split('.')[1]}_{operation.lower()}{'_old' if old else ''}"


def triggers() -> str:
    """Statement triggers on every watched table, and the flush queued at commit."""
    out = []
    for table, function, operations in WATCHED:
        for operation in operations:
            transition = "OLD" if operation == "DELETE" else "NEW"
            out.append(f"CREATE TRIGGER {trigger_name(table, operation)} AFTER {operation} ON {table} "
                       f"REFERENCING {transition} TABLE AS changed FOR EACH STATEMENT "
                       f"EXECUTE FUNCTION reporting.{function}()")
        # An order's customer can change: the previous customer's facts change too.
    out.append(f"CREATE TRIGGER {trigger_name('core_warehouse.orders', 'UPDATE', old=True)} AFTER UPDATE ON "
               "core_warehouse.orders REFERENCING OLD TABLE AS changed FOR EACH STATEMENT "
               "EXECUTE FUNCTION reporting.touch_orders()")
    out.append("CREATE CONSTRAINT TRIGGER rollups_flush AFTER INSERT ON reporting.rollup_pending "
               "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION reporting.flush_at_commit()")
    return ";\n".join(out) + ";"


ROLLUPS = ("reporting.daily_sales", "reporting.daily_marketing", "reporting.daily_campaigns",
           "reporting.daily_products", "reporting.customer_facts")
BOOKKEEPING = ("reporting.rollup_dirty_days", "reporting.rollup_dirty_customers", "reporting.rollup_pending")

GRANTS = f"""
REVOKE ALL ON {", ".join(BOOKKEEPING)} FROM {WEB_ROLE};
-- Functions are executable by PUBLIC unless revoked: the upkeep is the writer's alone.
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA reporting FROM PUBLIC;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA reporting TO {SCHEDULER_ROLE};
"""


def upgrade() -> None:
    op.execute(TABLES)
    op.execute("\n".join(tenant_table(t) for t in ROLLUPS + BOOKKEEPING[:2]))
    op.execute(FUNCTIONS)
    op.execute(triggers())
    op.execute(GRANTS)
    op.execute("SELECT reporting.rebuild_rollups(NULL)")


def downgrade() -> None:
    for table, _, operations in WATCHED:
        for operation in operations:
            op.execute(f"DROP TRIGGER {trigger_name(table, operation)} ON {table}")
    op.execute(f"DROP TRIGGER {trigger_name('core_warehouse.orders', 'UPDATE', old=True)} ON core_warehouse.orders")
    op.execute("DROP INDEX core_warehouse.order_agreements_happened_idx")
    for table in ROLLUPS + BOOKKEEPING:
        op.execute(f"DROP TABLE {table} CASCADE")
    for function in ("touch_orders", "touch_agreements", "touch_sales", "touch_line_items", "touch_customers",
                     "touch_marketing", "flush_at_commit"):
        op.execute(f"DROP FUNCTION reporting.{function}()")
    for function in ("flush_customers", "noted_days", "flush_days", "flush_marketing"):
        op.execute(f"DROP FUNCTION reporting.{function}(bigint)")
    op.execute("DROP FUNCTION reporting.flush_rollups(), reporting.rebuild_rollups(bigint), "
               "reporting.queue_flush(), reporting.current_xact()")
