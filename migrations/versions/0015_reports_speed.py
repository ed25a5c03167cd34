"""Reports at the issue's size: rates to the reporting currency by key, converted monthly product sums, and
the indexes and range-taking function that let a report's range reach every rollup it reads.

Revision ID: 0015
Revises: 0014

reporting.fx_reporting holds, for every currency of reporting.fx_daily and every day it covers, the rate to the
agency's reporting currency and that rate's day: what the views computed from two fx_daily rows, now one row
found by key. reporting.refresh_fx_reporting(since) recomputes it from a day on and reconverts what depends on
it; it runs after every change of the dense rates (reporting.flush_fx, at the rates' commit) and when Settings
changes the reporting currency (a trigger on agency_settings).

reporting.monthly_products keeps, beside each month's sums in the shop's currency, its net sales converted to
the reporting currency day by day (unrounded: a range's sum rounds once, like the daily rows it replaces) and
whether a day of it used an earlier day's rate. They are written by the same flush as the month, and
recomputed for a currency's months from the first day whose rate changed (a late rate, a new reporting
currency) and for a store whose currency changes.

reporting.mer_roas_between(shop, first, last) is reporting.mer_roas over a range: an inlined SQL function, so
the range reaches the spend's grouping (a view's grouped spend is summed over every day before the filter).
"""

import importlib
import re

from alembic import op

from migrations.rls import SCHEDULER_ROLE, WEB_ROLE, tenant_table

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

V0012 = importlib.import_module("migrations.versions.0012_reporting_speed")

FX_TABLE = """
CREATE TABLE reporting.fx_reporting (
    currency text NOT NULL,
    day      date NOT NULL,
    rate     numeric NOT NULL,
    rate_day date NOT NULL,
    PRIMARY KEY (currency, day)
);
"""

FX_REPORTING = """
-- A store's months from `since` on, reconverted at the rates now in fx_reporting (the shop's currency, or all
-- stores of `currency` when shop is null).
CREATE FUNCTION reporting.reconvert_months(currency_of text, shop bigint, since date) RETURNS void
    LANGUAGE sql AS $$
    UPDATE reporting.monthly_products m SET net_sales_reporting = x.converted, fx_estimated = x.estimated
    FROM (SELECT p.shop_id, date_trunc('month', p.day)::date AS month, p.product_id, p.variant_id,
                 {converted} AS converted, {estimated} AS estimated
          FROM app_dashboard.shops sh CROSS JOIN app_dashboard.agency_settings a
          JOIN reporting.daily_products p ON p.shop_id = sh.id
          {rate_join}
          WHERE (shop IS NULL OR sh.id = shop) AND (currency_of IS NULL OR sh.currency = currency_of)
            AND p.day >= date_trunc('month', since)
          GROUP BY 1, 2, 3, 4) x
    WHERE m.shop_id = x.shop_id AND m.month = x.month AND m.product_id = x.product_id
      AND m.variant_id = x.variant_id
      AND (m.net_sales_reporting, m.fx_estimated) IS DISTINCT FROM (x.converted, x.estimated)
$$;

-- The rates to the reporting currency from `since` on; each currency whose rates changed has its months
-- reconverted from its first changed day.
CREATE FUNCTION reporting.refresh_fx_reporting(since date) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    changed record;
BEGIN
    FOR changed IN
        WITH fresh AS (
            SELECT f.currency, f.day,
                   CASE WHEN f.currency = a.reporting_currency THEN 1::numeric ELSE t.per_euro / f.per_euro END
                       AS rate,
                   CASE WHEN f.currency = a.reporting_currency THEN f.day ELSE least(f.rate_day, t.rate_day) END
                       AS rate_day
            FROM reporting.fx_daily f CROSS JOIN app_dashboard.agency_settings a
            JOIN reporting.fx_daily t ON t.currency = a.reporting_currency AND t.day = f.day
            WHERE f.day >= since
        ), gone AS (
            DELETE FROM reporting.fx_reporting r WHERE r.day >= since
              AND NOT EXISTS (SELECT FROM fresh WHERE fresh.currency = r.currency AND fresh.day = r.day)
            RETURNING r.currency, r.day
        ), kept AS (
            INSERT INTO reporting.fx_reporting AS r (currency, day, rate, rate_day)
            SELECT currency, day, rate, rate_day FROM fresh
            ON CONFLICT (currency, day) DO UPDATE SET rate = excluded.rate, rate_day = excluded.rate_day
            WHERE (r.rate, r.rate_day) IS DISTINCT FROM (excluded.rate, excluded.rate_day)
            RETURNING r.currency, r.day
        )
        SELECT currency, min(day) AS first_day FROM (SELECT * FROM gone UNION ALL SELECT * FROM kept) x
        GROUP BY currency
    LOOP
        PERFORM reporting.reconvert_months(changed.currency, NULL, changed.first_day);
        PERFORM reporting.reconvert_campaign_months(changed.currency, changed.first_day);
    END LOOP;
END $$;

-- reporting.flush_fx of migration 0012, then the rates to the reporting currency from the first changed day.
CREATE OR REPLACE FUNCTION reporting.flush_fx() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    noted record;
    first_day date;
    me bigint := reporting.current_xact();
BEGIN
    FOR noted IN DELETE FROM reporting.fx_dirty WHERE xact = me RETURNING currency, since LOOP
        PERFORM reporting.refresh_fx_daily(ARRAY[noted.currency], noted.since);
        first_day := least(first_day, noted.since);
    END LOOP;
    IF FOUND THEN
        PERFORM reporting.refresh_fx_daily(ARRAY['EUR'], '-infinity');
        PERFORM reporting.refresh_fx_reporting(coalesce(first_day, '-infinity'));
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION reporting.reporting_currency_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM reporting.refresh_fx_reporting('-infinity');
    RETURN NULL;
END $$;
CREATE TRIGGER fx_reporting_currency AFTER UPDATE OF reporting_currency ON app_dashboard.agency_settings
    FOR EACH ROW WHEN (OLD.reporting_currency IS DISTINCT FROM NEW.reporting_currency)
    EXECUTE FUNCTION reporting.reporting_currency_changed();

CREATE FUNCTION reporting.shop_currency_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM reporting.reconvert_months(NULL, NEW.id, '-infinity');
    RETURN NULL;
END $$;
CREATE TRIGGER monthly_products_currency AFTER UPDATE OF currency ON app_dashboard.shops
    FOR EACH ROW WHEN (OLD.currency IS DISTINCT FROM NEW.currency)
    EXECUTE FUNCTION reporting.shop_currency_changed();
"""

# A row's rate to the reporting currency (as the views compute it): by key from fx_reporting, through
# reporting.fx for a day it does not cover; null when there is no rate at all.
def rate(source: str, day: str, alias: str = "rx") -> tuple[str, str]:
    fallback = f"reporting.fx_uncovered({source}, a.reporting_currency, {day})"
    value = (f"CASE WHEN {source} = a.reporting_currency THEN 1::numeric WHEN {alias}.rate IS NOT NULL "
             f"THEN {alias}.rate ELSE (SELECT x.rate FROM {fallback} x) END")
    rate_day = (f"CASE WHEN {source} = a.reporting_currency THEN {day} WHEN {alias}.rate IS NOT NULL "
                f"THEN {alias}.rate_day ELSE (SELECT x.rate_day FROM {fallback} x) END")
    return value, rate_day


def rate_join(source: str, day: str, alias: str = "rx") -> str:
    return f"LEFT JOIN reporting.fx_reporting {alias} ON {alias}.currency = {source} AND {alias}.day = {day}"


PRODUCT_RATE, PRODUCT_RATE_DAY = rate("sh.currency", "p.day")
CONVERTED = (f"CASE WHEN bool_and(({PRODUCT_RATE}) IS NOT NULL) THEN sum(p.net_sales * ({PRODUCT_RATE})) END")
ESTIMATED = f"coalesce(bool_or(coalesce(({PRODUCT_RATE_DAY}) < p.day, true)), false)"

MONTHS = f"""
ALTER TABLE reporting.monthly_products
    ADD COLUMN net_sales_reporting numeric,
    ADD COLUMN fx_estimated boolean NOT NULL DEFAULT false;

-- reporting.flush_months of migration 0012, with the month's net sales converted day by day.
CREATE OR REPLACE FUNCTION reporting.flush_months(me bigint) RETURNS void LANGUAGE sql AS $$
    DELETE FROM reporting.monthly_products r
    USING (SELECT DISTINCT shop_id, date_trunc('month', day)::date AS month
           FROM reporting.rollup_dirty_days WHERE xact = me) m
    WHERE r.shop_id = m.shop_id AND r.month = m.month;
    INSERT INTO reporting.monthly_products (shop_id, month, product_id, variant_id, product_title, variant_title,
        sku, units_sold, units_returned, net_sales, net_sales_gains, net_sales_losses, net_sales_reporting,
        fx_estimated)
    SELECT p.shop_id, m.month, p.product_id, p.variant_id, max(p.product_title), max(p.variant_title), max(p.sku),
           sum(p.units_sold), sum(p.units_returned), sum(p.net_sales), sum(greatest(p.net_sales, 0)),
           sum(least(p.net_sales, 0)), {CONVERTED}, {ESTIMATED}
    FROM (SELECT DISTINCT shop_id, date_trunc('month', day)::date AS month
          FROM reporting.rollup_dirty_days WHERE xact = me) m
    JOIN reporting.daily_products p
        ON p.shop_id = m.shop_id AND p.day >= m.month AND p.day < (m.month + interval '1 month')::date
    JOIN app_dashboard.shops sh ON sh.id = p.shop_id
    CROSS JOIN app_dashboard.agency_settings a
    {rate_join("sh.currency", "p.day")}
    GROUP BY p.shop_id, m.month, p.product_id, p.variant_id
$$;
"""


CAMPAIGN_RATE, CAMPAIGN_RATE_DAY = rate("c.currency", "c.day")


def converted(column: str) -> str:
    return f"CASE WHEN bool_and(({CAMPAIGN_RATE}) IS NOT NULL) THEN sum(c.{column} * ({CAMPAIGN_RATE})) END"


CAMPAIGN_SUMS = f"""max(c.campaign_name), sum(c.impressions), sum(c.clicks), sum(c.link_clicks), sum(c.purchases),
           {converted("spend")}, {converted("purchase_value")},
           coalesce(bool_or(coalesce(({CAMPAIGN_RATE_DAY}) < c.day, true)), false)"""
CAMPAIGN_COLUMNS = ("campaign_name, impressions, clicks, link_clicks, purchases, spend_reporting, "
                    "purchase_value_reporting, fx_estimated")

# Each campaign's month in the reporting currency (what All stores' campaigns read for whole months): the counts
# summed, the money converted day by day at each day's rate from the account's currency (unrounded).
CAMPAIGN_MONTHS = f"""
CREATE TABLE reporting.monthly_campaigns (
    shop_id       bigint NOT NULL REFERENCES app_dashboard.shops (id) ON DELETE CASCADE,
    month         date NOT NULL CHECK (month = date_trunc('month', month)::date),
    account_id    text NOT NULL,
    campaign_id   text NOT NULL,
    campaign_name text NOT NULL,
    impressions   bigint NOT NULL,
    clicks        bigint NOT NULL,
    link_clicks   bigint NOT NULL,
    purchases     numeric NOT NULL,
    spend_reporting          numeric,
    purchase_value_reporting numeric,
    fx_estimated  boolean NOT NULL,
    PRIMARY KEY (shop_id, month, account_id, campaign_id)
);

-- The months of the days this transaction recomputed, summed again from the daily campaigns.
CREATE FUNCTION reporting.flush_campaign_months(me bigint) RETURNS void LANGUAGE sql AS $$
    DELETE FROM reporting.monthly_campaigns r
    USING (SELECT DISTINCT shop_id, date_trunc('month', day)::date AS month
           FROM reporting.rollup_dirty_days WHERE xact = me) m
    WHERE r.shop_id = m.shop_id AND r.month = m.month;
    INSERT INTO reporting.monthly_campaigns (shop_id, month, account_id, campaign_id, {CAMPAIGN_COLUMNS})
    SELECT c.shop_id, m.month, c.account_id, c.campaign_id, {CAMPAIGN_SUMS}
    FROM (SELECT DISTINCT shop_id, date_trunc('month', day)::date AS month
          FROM reporting.rollup_dirty_days WHERE xact = me) m
    JOIN reporting.daily_campaigns c
        ON c.shop_id = m.shop_id AND c.day >= m.month AND c.day < (m.month + interval '1 month')::date
    CROSS JOIN app_dashboard.agency_settings a
    {rate_join("c.currency", "c.day")}
    GROUP BY c.shop_id, m.month, c.account_id, c.campaign_id
$$;

-- The campaign months holding a day in `currency_of` from `since` on, reconverted at the rates now in
-- fx_reporting (every day of such a month: an account whose currency changed mixes two in a month).
CREATE FUNCTION reporting.reconvert_campaign_months(currency_of text, since date) RETURNS void LANGUAGE sql AS $$
    UPDATE reporting.monthly_campaigns m
    SET spend_reporting = x.spend, purchase_value_reporting = x.purchase_value, fx_estimated = x.estimated
    FROM (SELECT c.shop_id, k.month, c.account_id, c.campaign_id, {converted("spend")} AS spend,
                 {converted("purchase_value")} AS purchase_value,
                 coalesce(bool_or(coalesce(({CAMPAIGN_RATE_DAY}) < c.day, true)), false) AS estimated
          FROM (SELECT DISTINCT shop_id, account_id, campaign_id, date_trunc('month', day)::date AS month
                FROM reporting.daily_campaigns
                WHERE (currency_of IS NULL OR currency = currency_of) AND day >= date_trunc('month', since)) k
          JOIN reporting.daily_campaigns c ON c.shop_id = k.shop_id AND c.account_id = k.account_id
               AND c.campaign_id = k.campaign_id AND c.day >= k.month
               AND c.day < (k.month + interval '1 month')::date
          CROSS JOIN app_dashboard.agency_settings a
          {rate_join("c.currency", "c.day")}
          GROUP BY 1, 2, 3, 4) x
    WHERE m.shop_id = x.shop_id AND m.month = x.month AND m.account_id = x.account_id
      AND m.campaign_id = x.campaign_id
      AND (m.spend_reporting, m.purchase_value_reporting, m.fx_estimated)
          IS DISTINCT FROM (x.spend, x.purchase_value, x.estimated)
$$;

CREATE VIEW reporting.campaign_monthly WITH (security_invoker = true) AS
SELECT m.shop_id, sh.shop_domain, m.month, m.account_id, m.campaign_id, m.campaign_name, m.impressions, m.clicks,
       m.link_clicks, m.purchases, a.reporting_currency, m.spend_reporting, m.purchase_value_reporting,
       m.fx_estimated
FROM reporting.monthly_campaigns m JOIN app_dashboard.shops sh ON sh.id = m.shop_id
CROSS JOIN app_dashboard.agency_settings a;
"""

FLUSH = V0012.FLUSH.format(months="PERFORM reporting.flush_months(me);",
                           deltas="PERFORM reporting.flush_customer_deltas(me);", delta_shops=V0012.DELTA_SHOPS)
assert "PERFORM reporting.flush_marketing(me);" in FLUSH
FLUSH_CAMPAIGN_MONTHS = FLUSH.replace("PERFORM reporting.flush_marketing(me);",
                                      "PERFORM reporting.flush_marketing(me);\n    "
                                      "PERFORM reporting.flush_campaign_months(me);")


def reporting_fx(day: str) -> str:
    value, rate_day = rate("sh.currency", day)
    return f"a.reporting_currency, {value} AS fx_rate, coalesce({rate_day} < {day}, true) AS fx_estimated"


def reporting_join(day: str) -> str:
    return "CROSS JOIN app_dashboard.agency_settings a\n" + rate_join("sh.currency", day)


SHOP_RATE, SHOP_RATE_DAY = V0012.rate("sc", "m.currency", "sh.currency", "m.day")
ACCOUNT_RATE, ACCOUNT_RATE_DAY = rate("m.currency", "m.day")
META_JOINS = f"""JOIN app_dashboard.shops sh ON sh.id = m.shop_id
CROSS JOIN app_dashboard.agency_settings a
{V0012.rate_joins("sc", "m.currency", "sh.currency", "m.day")}
{rate_join("m.currency", "m.day")}
CROSS JOIN LATERAL (SELECT {SHOP_RATE} AS rate, {SHOP_RATE_DAY} AS rate_day) s
CROSS JOIN LATERAL (SELECT {ACCOUNT_RATE} AS rate, {ACCOUNT_RATE_DAY} AS rate_day) r"""


def mer_roas(where: str, full_join: bool = False) -> str:
    """reporting.mer_roas's query, each rollup read under `where` (its shop_id and day). With `full_join` the two
    rollups meet in a FULL JOIN (one pass each, no key list): for the function, whose filter is inside each side;
    the view keeps the keys' UNION, which lets a filter on it reach both rollups."""
    k = "j" if full_join else "k"
    keys = (f"""(SELECT coalesce(r.shop_id, s.shop_id) AS shop_id, coalesce(r.day, s.day) AS day, r.orders,
             r.total_sales, r.new_customers, s.spend, s.purchases, s.purchase_value, s.shop_fx_estimated
      FROM (SELECT * FROM reporting.daily_sales WHERE {where}) r
      FULL JOIN spend s ON s.shop_id = r.shop_id AND s.day = r.day) j""" if full_join else
            f"""(SELECT shop_id, day FROM reporting.daily_sales WHERE {where}
      UNION SELECT shop_id, day FROM reporting.daily_marketing WHERE {where}) k
LEFT JOIN reporting.daily_sales r ON r.shop_id = k.shop_id AND r.day = k.day
LEFT JOIN spend s ON s.shop_id = k.shop_id AND s.day = k.day""")
    r, s = (k, k) if full_join else ("r", "s")
    rate, rate_day = rate_of(f"{k}.day")
    return f"""
WITH spend AS (
    SELECT shop_id, day, sum(spend_shop) AS spend, sum(purchases) AS purchases,
           sum(purchase_value_shop) AS purchase_value, bool_or(shop_fx_estimated) AS shop_fx_estimated
    FROM reporting.marketing_daily WHERE {where} GROUP BY shop_id, day
)
SELECT {k}.shop_id, sh.shop_domain, {k}.day, sh.currency, coalesce({r}.orders, 0) AS orders,
       coalesce({r}.total_sales, 0) AS total_sales, coalesce({r}.new_customers, 0) AS new_customers,
       coalesce({s}.spend, 0) AS spend, coalesce({s}.purchases, 0) AS purchases,
       coalesce({s}.purchase_value, 0) AS purchase_value,
       round(coalesce({r}.total_sales, 0) / nullif({s}.spend, 0), 4) AS mer,
       round({s}.purchase_value / nullif({s}.spend, 0), 4) AS roas,
       round({s}.spend / nullif({r}.new_customers, 0), 2) AS cac,
       coalesce({s}.shop_fx_estimated, false) AS shop_fx_estimated, a.reporting_currency, {rate} AS fx_rate,
       coalesce({rate_day} < {k}.day, true) OR coalesce({s}.shop_fx_estimated, false) AS fx_estimated
FROM {keys}
JOIN app_dashboard.shops sh ON sh.id = {k}.shop_id
{reporting_join(f"{k}.day")}"""


def rate_of(day: str) -> tuple[str, str]:
    return rate("sh.currency", day)


RANGE = "(shop IS NULL OR shop_id = shop) AND day BETWEEN first_day AND last_day"

# Same names, columns and meaning as migration 0012's views (product_monthly gains its converted columns).
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
SELECT m.shop_id, sh.shop_domain, m.day, m.account_id, {V0012.META_COLUMNS}
FROM reporting.daily_marketing m
{META_JOINS};

CREATE OR REPLACE VIEW reporting.campaign_daily WITH (security_invoker = true) AS
SELECT m.shop_id, sh.shop_domain, m.day, m.account_id, m.campaign_id, m.campaign_name, m.objective,
       {V0012.META_COLUMNS}
FROM reporting.daily_campaigns m
{META_JOINS};

CREATE OR REPLACE VIEW reporting.mer_roas WITH (security_invoker = true) AS {mer_roas("true")};

-- reporting.mer_roas over one store (all when shop is null) and a range, the range applied to each rollup.
CREATE FUNCTION reporting.mer_roas_between(shop bigint, first_day date, last_day date)
    RETURNS SETOF reporting.mer_roas LANGUAGE sql STABLE AS $$ {mer_roas(RANGE, full_join=True)} $$;

CREATE OR REPLACE VIEW reporting.product_daily WITH (security_invoker = true) AS
SELECT p.shop_id, sh.shop_domain, p.day, p.product_id, p.variant_id, p.product_title, p.variant_title, p.sku,
       sh.currency, p.units_sold, p.units_returned, p.net_sales,
       {reporting_fx("p.day")}
FROM reporting.daily_products p JOIN app_dashboard.shops sh ON sh.id = p.shop_id
{reporting_join("p.day")};

CREATE OR REPLACE VIEW reporting.product_monthly WITH (security_invoker = true) AS
SELECT p.shop_id, sh.shop_domain, p.month, p.product_id, p.variant_id, p.product_title, p.variant_title, p.sku,
       sh.currency, p.units_sold, p.units_returned, p.net_sales, p.net_sales_gains, p.net_sales_losses,
       a.reporting_currency, p.net_sales_reporting, p.fx_estimated
FROM reporting.monthly_products p JOIN app_dashboard.shops sh ON sh.id = p.shop_id
CROSS JOIN app_dashboard.agency_settings a;

CREATE OR REPLACE VIEW reporting.customer_summary WITH (security_invoker = true) AS
SELECT c.shop_id, sh.shop_domain, c.customer_id, c.display_name, c.email, c.first_order_day, c.last_order_day,
       c.orders, sh.currency, c.net_sales, round(c.net_sales / nullif(c.orders, 0), 2) AS net_sales_per_order,
       {reporting_fx("c.last_order_day")}
FROM reporting.customer_facts c JOIN app_dashboard.shops sh ON sh.id = c.shop_id
{reporting_join("c.last_order_day")};
"""

FUNCTIONS = ("reporting.reconvert_months(text, bigint, date), reporting.refresh_fx_reporting(date), "
             "reporting.reporting_currency_changed(), reporting.shop_currency_changed(), "
             "reporting.flush_campaign_months(bigint), reporting.reconvert_campaign_months(text, date)")
GRANTS = f"""
GRANT SELECT ON reporting.fx_reporting TO {WEB_ROLE}, {SCHEDULER_ROLE};
GRANT SELECT ON reporting.campaign_monthly TO {WEB_ROLE}, {SCHEDULER_ROLE};
GRANT ALL ON reporting.fx_reporting TO {SCHEDULER_ROLE};
REVOKE EXECUTE ON FUNCTION {FUNCTIONS} FROM PUBLIC;
GRANT EXECUTE ON FUNCTION {FUNCTIONS} TO {SCHEDULER_ROLE};
REVOKE EXECUTE ON FUNCTION reporting.mer_roas_between(bigint, date, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reporting.mer_roas_between(bigint, date, date) TO {WEB_ROLE}, {SCHEDULER_ROLE};
"""


def upgrade() -> None:
    op.execute(FX_TABLE)
    op.execute(MONTHS)
    op.execute(CAMPAIGN_MONTHS)
    op.execute(tenant_table("reporting.monthly_campaigns"))
    op.execute(FLUSH_CAMPAIGN_MONTHS)
    op.execute(FX_REPORTING.format(converted=CONVERTED, estimated=ESTIMATED,
                                   rate_join=rate_join("sh.currency", "p.day")))
    op.execute(VIEWS)
    op.execute(GRANTS)
    # Customers who ordered in a short range, found by their last order day (top customers of a range).
    op.execute("CREATE INDEX customer_facts_last_order_idx ON reporting.customer_facts (shop_id, last_order_day) "
               "INCLUDE (first_order_day, net_sales)")
    # One product's months (all stores' top products sum only the products that can make the list).
    op.execute("CREATE INDEX monthly_products_product_idx ON reporting.monthly_products "
               "(shop_id, product_id, variant_id, month)")
    # The rates, then every month converted at them (set-based: the months of every store at once).
    op.execute("SELECT reporting.refresh_fx_reporting('-infinity')")
    op.execute("SELECT reporting.reconvert_months(NULL, NULL, '-infinity')")
    op.execute(f"INSERT INTO reporting.monthly_campaigns (shop_id, month, account_id, campaign_id, "
               f"{CAMPAIGN_COLUMNS}) SELECT c.shop_id, date_trunc('month', c.day)::date, c.account_id, "
               f"c.campaign_id, {CAMPAIGN_SUMS} FROM reporting.daily_campaigns c "
               f"CROSS JOIN app_dashboard.agency_settings a {rate_join('c.currency', 'c.day')} GROUP BY 1, 2, 3, 4")


def downgrade() -> None:
    op.execute("DROP FUNCTION reporting.mer_roas_between(bigint, date, date)")
    op.execute("DROP VIEW reporting.product_monthly")
    op.execute(V0012.VIEWS.replace("CREATE VIEW", "CREATE OR REPLACE VIEW"))
    op.execute("DROP TRIGGER fx_reporting_currency ON app_dashboard.agency_settings")
    op.execute("DROP TRIGGER monthly_products_currency ON app_dashboard.shops")
    op.execute(re.search(r"CREATE FUNCTION reporting.flush_fx\(\).*?END \$\$;", V0012.FX_DAILY, re.S).group(0)
               .replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"))
    op.execute(re.search(r"CREATE FUNCTION reporting.flush_months\(.*?\$\$;", V0012.MONTHS, re.S).group(0)
               .replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"))
    op.execute(FLUSH)
    op.execute("DROP VIEW reporting.campaign_monthly")
    op.execute("DROP TABLE reporting.monthly_campaigns")
    op.execute(f"DROP FUNCTION {FUNCTIONS}")
    op.execute("ALTER TABLE reporting.monthly_products DROP COLUMN net_sales_reporting, DROP COLUMN fx_estimated")
    op.execute("DROP TABLE reporting.fx_reporting")
    op.execute("DROP INDEX reporting.customer_facts_last_order_idx, reporting.monthly_products_product_idx")
