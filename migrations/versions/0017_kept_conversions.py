"""Money kept converted where it is stored: Meta's rows carry their rates, and each store-day its sales in the
reporting currency.

Revision ID: 0017
Revises: 0016

reporting.daily_marketing and reporting.daily_campaigns keep, beside each account-day's money in the account's
currency, the rates the views computed from two reporting.fx_daily rows (account to store) and from
reporting.fx_reporting (account to reporting, store to reporting), whether each was an earlier day's, and the
spend and purchase value in the store's currency (rounded per row, as marketing_daily's spend_shop): written by
reporting.flush_marketing with the rows, so one store's marketing reads no rate at all (the planner hashed both
whole fx_daily tables for a few hundred rows), and MER's all-stores spend is each row's store money times the
store's rate, no join.

reporting.daily_sales_converted keeps each row of reporting.daily_sales with its money converted to the
reporting currency (unrounded, null without a rate) and the counts all stores sum: kept by statement triggers
on daily_sales (whoever writes it, however), so All stores' daily revenue and MER sum one table per day.

reporting.weekly_products sums the daily product rows per week of the month (days 1-7, 8-14, 15-21, 22-28, 29 to
the month's end: a week never crosses a month), with the net sales converted day by day as 0015's months are,
kept by the same flush and reconverted with them: All stores' top products read whole months, then whole weeks,
and at most six edge days at each end of a partial month (28 edge days over 90 days ending on 31 January).

Both follow the rates as 0015's months do: reporting.refresh_fx_reporting(since) reconverts every kept row
from `since` on (a late rate, a new reporting currency), and a store whose currency changes is reconverted.
"""

import importlib
import re

from alembic import op

from migrations.rls import SCHEDULER_ROLE, WEB_ROLE, tenant_table

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

V0010 = importlib.import_module("migrations.versions.0010_rollups")
V0012 = importlib.import_module("migrations.versions.0012_reporting_speed")
V0015 = importlib.import_module("migrations.versions.0015_reports_speed")

SALES_MONEY = ("gross_sales", "discounts", "returns", "net_sales", "shipping", "taxes", "duties", "additional_fees",
               "total_sales")
SALES_COUNTS = ("orders", "units", "new_customers", "returning_customers")
SALES_KEPT = (*SALES_COUNTS, *SALES_MONEY, "fx_rate", "fx_estimated")

SALES_TABLE = f"""
CREATE TABLE reporting.daily_sales_converted (
    shop_id      bigint NOT NULL REFERENCES app_dashboard.shops (id) ON DELETE CASCADE,
    day          date NOT NULL,
    {", ".join(f"{c} integer NOT NULL" for c in SALES_COUNTS)},
    {", ".join(f"{c} numeric" for c in SALES_MONEY)},
    fx_rate      numeric,
    fx_estimated boolean NOT NULL,
    PRIMARY KEY (shop_id, day)
);
CREATE INDEX daily_sales_converted_day_idx ON reporting.daily_sales_converted (day);
"""

SALES_RATE, SALES_RATE_DAY = V0015.rate("sh.currency", "s.day")


def sales_converted(source: str, where: str = "true") -> str:
    """`source`'s daily_sales rows (alias s) with their money converted as daily_revenue's fx_rate converts it."""
    money = ", ".join(f"s.{c} * r.rate AS {c}" for c in SALES_MONEY)
    return f"""SELECT s.shop_id, s.day, {", ".join(f"s.{c}" for c in SALES_COUNTS)}, {money}, r.rate AS fx_rate,
           coalesce(r.rate_day < s.day, true) AS fx_estimated
    FROM {source} s JOIN app_dashboard.shops sh ON sh.id = s.shop_id
    CROSS JOIN app_dashboard.agency_settings a
    {V0015.rate_join("sh.currency", "s.day")}
    CROSS JOIN LATERAL (SELECT {SALES_RATE} AS rate, {SALES_RATE_DAY} AS rate_day) r
    WHERE {where}"""


SALES_TRIGGERS = f"""
-- Rows of reporting.daily_sales deleted, inserted or updated: theirs converted again (statement triggers, so
-- however the day sums are kept, the converted rows follow them).
CREATE FUNCTION reporting.convert_sales() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM reporting.daily_sales_converted c USING old_days o WHERE c.shop_id = o.shop_id AND c.day = o.day;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO reporting.daily_sales_converted (shop_id, day, {", ".join(SALES_KEPT)})
        {sales_converted("new_days")}
        ON CONFLICT (shop_id, day) DO UPDATE SET {", ".join(f"{c} = excluded.{c}" for c in SALES_KEPT)};
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER daily_sales_converted_insert AFTER INSERT ON reporting.daily_sales REFERENCING NEW TABLE AS new_days
    FOR EACH STATEMENT EXECUTE FUNCTION reporting.convert_sales();
CREATE TRIGGER daily_sales_converted_update AFTER UPDATE ON reporting.daily_sales
    REFERENCING OLD TABLE AS old_days NEW TABLE AS new_days
    FOR EACH STATEMENT EXECUTE FUNCTION reporting.convert_sales();
CREATE TRIGGER daily_sales_converted_delete AFTER DELETE ON reporting.daily_sales REFERENCING OLD TABLE AS old_days
    FOR EACH STATEMENT EXECUTE FUNCTION reporting.convert_sales();
"""

# Meta's rows: the account-to-store rate from two fx_daily rows (as 0012's views), the account's and the store's
# rate to the reporting currency from fx_reporting (as 0015's), each with whether it was an earlier day's.
SHOP_RATE, SHOP_RATE_DAY = V0012.rate("sc", "m.currency", "sh.currency", "m.day")
ACCOUNT_RATE, ACCOUNT_RATE_DAY = V0015.rate("m.currency", "m.day", "rx")
STORE_RATE, STORE_RATE_DAY = V0015.rate("sh.currency", "m.day", "rs")
META_KEPT = ("shop_fx_rate", "spend_shop", "purchase_value_shop", "shop_fx_estimated", "fx_rate", "fx_estimated",
             "shop_reporting_fx_rate", "shop_reporting_fx_estimated")
META_CONVERTED = """s.rate AS shop_fx_rate, round(m.spend * s.rate, 2) AS spend_shop,
           round(m.purchase_value * s.rate, 2) AS purchase_value_shop,
           coalesce(s.rate_day < m.day, true) AS shop_fx_estimated,
           r.rate AS fx_rate, coalesce(r.rate_day < m.day, true) AS fx_estimated, t.rate AS shop_reporting_fx_rate,
           coalesce(t.rate_day < m.day, true) AS shop_reporting_fx_estimated"""
META_JOINS = f"""JOIN app_dashboard.shops sh ON sh.id = m.shop_id
    CROSS JOIN app_dashboard.agency_settings a
    {V0012.rate_joins("sc", "m.currency", "sh.currency", "m.day")}
    {V0015.rate_join("m.currency", "m.day", "rx")}
    {V0015.rate_join("sh.currency", "m.day", "rs")}
    CROSS JOIN LATERAL (SELECT {SHOP_RATE} AS rate, {SHOP_RATE_DAY} AS rate_day) s
    CROSS JOIN LATERAL (SELECT {ACCOUNT_RATE} AS rate, {ACCOUNT_RATE_DAY} AS rate_day) r
    CROSS JOIN LATERAL (SELECT {STORE_RATE} AS rate, {STORE_RATE_DAY} AS rate_day) t"""
META_COLUMNS = ("shop_fx_rate numeric, spend_shop numeric, purchase_value_shop numeric, shop_fx_estimated boolean, "
                "fx_rate numeric, fx_estimated boolean, shop_reporting_fx_rate numeric, "
                "shop_reporting_fx_estimated boolean")
FACT_COLUMNS = "currency, spend, impressions, clicks, link_clicks, purchases, purchase_value"

FLUSH_MARKETING = f"""
-- reporting.flush_marketing of migration 0010, each row written with its rates and its money in the store's currency.
CREATE OR REPLACE FUNCTION reporting.flush_marketing(me bigint) RETURNS void LANGUAGE sql AS $$
    DELETE FROM reporting.daily_marketing r USING reporting.rollup_dirty_days d
    WHERE d.xact = me AND r.shop_id = d.shop_id AND r.day = d.day;
    DELETE FROM reporting.daily_campaigns r USING reporting.rollup_dirty_days d
    WHERE d.xact = me AND r.shop_id = d.shop_id AND r.day = d.day;
    WITH days AS MATERIALIZED (SELECT DISTINCT shop_id, day FROM reporting.rollup_dirty_days WHERE xact = me),
    campaigns AS (
        INSERT INTO reporting.daily_campaigns (shop_id, account_id, campaign_id, day, campaign_name, objective,
            {FACT_COLUMNS}, {", ".join(META_KEPT)})
        SELECT m.shop_id, m.account_id, m.campaign_id, m.day, m.campaign_name, m.objective,
               {", ".join(f"m.{c}" for c in FACT_COLUMNS.split(", "))}, {META_CONVERTED}
        FROM (SELECT f.*, f.date AS day FROM days d
              JOIN core_warehouse.fact_marketing_campaign_daily f ON f.shop_id = d.shop_id AND f.date = d.day) m
        {META_JOINS}
    )
    INSERT INTO reporting.daily_marketing (shop_id, account_id, day, {FACT_COLUMNS}, {", ".join(META_KEPT)})
    SELECT m.shop_id, m.account_id, m.day, {", ".join(f"m.{c}" for c in FACT_COLUMNS.split(", "))}, {META_CONVERTED}
    FROM (SELECT f.*, f.date AS day FROM days d
          JOIN core_warehouse.fact_marketing_daily f ON f.shop_id = d.shop_id AND f.date = d.day) m
    {META_JOINS}
$$;
"""


def reconvert_meta(table: str, keys: str) -> str:
    """An UPDATE of `table`'s rows from `since` on (one store's, or all) whose rates changed."""
    same = " AND ".join(f"k.{key} = x.{key}" for key in keys.split(", "))
    return f"""
    UPDATE {table} k SET {", ".join(f"{c} = x.{c}" for c in META_KEPT)}
    FROM (SELECT {", ".join(f"m.{key}" for key in keys.split(", "))},
                 {META_CONVERTED}
          FROM {table} m {META_JOINS}
          WHERE m.day >= since AND (shop IS NULL OR m.shop_id = shop)) x
    WHERE {same}
      AND (k.shop_fx_rate, k.shop_fx_estimated, k.fx_rate, k.fx_estimated, k.shop_reporting_fx_rate,
           k.shop_reporting_fx_estimated) IS DISTINCT FROM (x.shop_fx_rate, x.shop_fx_estimated, x.fx_rate,
           x.fx_estimated, x.shop_reporting_fx_rate, x.shop_reporting_fx_estimated);"""


RECONVERT = f"""
-- Every kept conversion from `since` on (one store's, or all stores' when shop is null), at the rates now in
-- fx_daily and fx_reporting; a row whose rates did not change is not written.
CREATE FUNCTION reporting.reconvert_days(shop bigint, since date) RETURNS void LANGUAGE sql AS $$
    UPDATE reporting.daily_sales_converted k SET {", ".join(f"{c} = x.{c}" for c in SALES_KEPT)}
    FROM ({sales_converted("reporting.daily_sales", "s.day >= since AND (shop IS NULL OR s.shop_id = shop)")}) x
    WHERE k.shop_id = x.shop_id AND k.day = x.day
      AND (k.fx_rate, k.fx_estimated) IS DISTINCT FROM (x.fx_rate, x.fx_estimated);
    {reconvert_meta("reporting.daily_marketing", "shop_id, day, account_id")}
    {reconvert_meta("reporting.daily_campaigns", "shop_id, day, account_id, campaign_id")}
$$;
"""

# 0015's functions, with the kept days reconverted beside the months.
REFRESH = re.search(r"CREATE FUNCTION reporting.refresh_fx_reporting\(.*?END \$\$;", V0015.FX_REPORTING, re.S).group(0)
SHOP_CURRENCY = re.search(r"CREATE FUNCTION reporting.shop_currency_changed\(.*?END \$\$;", V0015.FX_REPORTING,
                          re.S).group(0)
HOOKS = (REFRESH.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION")
         .replace("    END LOOP;\nEND $$;",
                  "    END LOOP;\n    PERFORM reporting.reconvert_days(NULL, since);\nEND $$;")
         + "\n" + SHOP_CURRENCY.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION")
         .replace("'-infinity');\n", "'-infinity');\n    PERFORM reporting.reconvert_days(NEW.id, '-infinity');\n", 1))
assert HOOKS.count("reconvert_days") == 2

# The week of the month holding `day` (its first day: the 1st, 8th, 15th, 22nd or 29th), and the day after it.
def week_of(day: str) -> str:
    return f"({day} - (extract(day FROM {day})::int - 1) % 7)"


def after_week(week: str) -> str:
    return f"least({week} + 7, (date_trunc('month', {week}) + interval '1 month')::date)"


WEEKS_TABLE = """
CREATE TABLE reporting.weekly_products (
    shop_id        bigint NOT NULL REFERENCES app_dashboard.shops (id) ON DELETE CASCADE,
    week           date NOT NULL CHECK (extract(day FROM week) IN (1, 8, 15, 22, 29)),
    product_id     text NOT NULL,
    variant_id     text NOT NULL,
    product_title  text,
    variant_title  text,
    sku            text,
    units_sold     integer NOT NULL DEFAULT 0,
    units_returned integer NOT NULL DEFAULT 0,
    net_sales      numeric(20, 2) NOT NULL DEFAULT 0,
    net_sales_gains  numeric(20, 2) NOT NULL DEFAULT 0,
    net_sales_losses numeric(20, 2) NOT NULL DEFAULT 0,
    net_sales_reporting numeric,
    fx_estimated   boolean NOT NULL DEFAULT false,
    PRIMARY KEY (shop_id, week, product_id, variant_id)
);
-- All stores' top products bound each product from the months' and weeks' kept sums of a range: index-only reads.
CREATE INDEX weekly_products_week_idx ON reporting.weekly_products (week)
    INCLUDE (shop_id, product_id, variant_id, net_sales_reporting);
CREATE INDEX monthly_products_month_idx ON reporting.monthly_products (month)
    INCLUDE (shop_id, product_id, variant_id, net_sales_reporting);
CREATE INDEX weekly_products_product_idx ON reporting.weekly_products (shop_id, product_id, variant_id, week);
"""
WEEK_COLUMNS = ("product_title, variant_title, sku, units_sold, units_returned, net_sales, net_sales_gains, "
                "net_sales_losses, net_sales_reporting, fx_estimated")
WEEK_SUMS = f"""max(p.product_title), max(p.variant_title), max(p.sku), sum(p.units_sold), sum(p.units_returned),
           sum(p.net_sales), sum(greatest(p.net_sales, 0)), sum(least(p.net_sales, 0)), {V0015.CONVERTED},
           {V0015.ESTIMATED}"""
DIRTY_WEEKS = f"SELECT DISTINCT shop_id, {week_of('day')} AS week FROM reporting.rollup_dirty_days WHERE xact = me"
FLUSH_WEEKS = f"""
    DELETE FROM reporting.weekly_products r USING ({DIRTY_WEEKS}) w WHERE r.shop_id = w.shop_id AND r.week = w.week;
    INSERT INTO reporting.weekly_products (shop_id, week, product_id, variant_id, {WEEK_COLUMNS})
    SELECT p.shop_id, w.week, p.product_id, p.variant_id, {WEEK_SUMS}
    FROM ({DIRTY_WEEKS}) w
    JOIN reporting.daily_products p ON p.shop_id = w.shop_id AND p.day >= w.week AND p.day < {after_week("w.week")}
    JOIN app_dashboard.shops sh ON sh.id = p.shop_id
    CROSS JOIN app_dashboard.agency_settings a
    {V0015.rate_join("sh.currency", "p.day")}
    GROUP BY p.shop_id, w.week, p.product_id, p.variant_id;"""
FLUSH_MONTHS_0015 = re.search(r"CREATE OR REPLACE FUNCTION reporting.flush_months\(.*?\$\$;", V0015.MONTHS,
                              re.S).group(0)
FLUSH_MONTHS = FLUSH_MONTHS_0015.replace("GROUP BY p.shop_id, m.month, p.product_id, p.variant_id\n$$;",
                                         "GROUP BY p.shop_id, m.month, p.product_id, p.variant_id;"
                                         + FLUSH_WEEKS + "\n$$;")
RECONVERT_MONTHS_0015 = re.search(
    r"CREATE FUNCTION reporting.reconvert_months\(.*?\$\$;",
    V0015.FX_REPORTING.format(converted=V0015.CONVERTED, estimated=V0015.ESTIMATED,
                              rate_join=V0015.rate_join("sh.currency", "p.day")), re.S).group(0)
RECONVERT_WEEKS = f"""
    UPDATE reporting.weekly_products m SET net_sales_reporting = x.converted, fx_estimated = x.estimated
    FROM (SELECT p.shop_id, {week_of("p.day")} AS week, p.product_id, p.variant_id,
                 {V0015.CONVERTED} AS converted, {V0015.ESTIMATED} AS estimated
          FROM app_dashboard.shops sh CROSS JOIN app_dashboard.agency_settings a
          JOIN reporting.daily_products p ON p.shop_id = sh.id
          {V0015.rate_join("sh.currency", "p.day")}
          WHERE (shop IS NULL OR sh.id = shop) AND (currency_of IS NULL OR sh.currency = currency_of)
            AND p.day >= date_trunc('month', since)
          GROUP BY 1, 2, 3, 4) x
    WHERE m.shop_id = x.shop_id AND m.week = x.week AND m.product_id = x.product_id
      AND m.variant_id = x.variant_id
      AND (m.net_sales_reporting, m.fx_estimated) IS DISTINCT FROM (x.converted, x.estimated);"""
RECONVERT_MONTHS = (RECONVERT_MONTHS_0015.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION")
                    .replace("(x.converted, x.estimated)\n$$;", "(x.converted, x.estimated);" + RECONVERT_WEEKS
                             + "\n$$;"))
assert FLUSH_MONTHS.count("weekly_products") == 2 and RECONVERT_MONTHS.count("weekly_products") == 1


META_VIEW_COLUMNS = """m.currency AS account_currency, m.spend, m.impressions, m.clicks, m.link_clicks, m.purchases,
       m.purchase_value, sh.currency, m.shop_fx_rate, m.spend_shop, m.purchase_value_shop, m.shop_fx_estimated,
       a.reporting_currency, m.fx_rate, m.fx_estimated, m.shop_reporting_fx_rate, m.shop_reporting_fx_estimated"""

# Same names and meaning as 0015's views, the rates read from the rows; two columns more at the end: the store's
# rate to the reporting currency (what MER's all-stores spend is converted at) and whether it was an earlier day's.
VIEWS = f"""
CREATE OR REPLACE VIEW reporting.marketing_daily WITH (security_invoker = true) AS
SELECT m.shop_id, sh.shop_domain, m.day, m.account_id, {META_VIEW_COLUMNS}
FROM reporting.daily_marketing m JOIN app_dashboard.shops sh ON sh.id = m.shop_id
CROSS JOIN app_dashboard.agency_settings a;

CREATE OR REPLACE VIEW reporting.campaign_daily WITH (security_invoker = true) AS
SELECT m.shop_id, sh.shop_domain, m.day, m.account_id, m.campaign_id, m.campaign_name, m.objective,
       {META_VIEW_COLUMNS}
FROM reporting.daily_campaigns m JOIN app_dashboard.shops sh ON sh.id = m.shop_id
CROSS JOIN app_dashboard.agency_settings a;

-- Whole weeks of the month of reporting.daily_products (as product_monthly, per week).
CREATE VIEW reporting.product_weekly WITH (security_invoker = true) AS
SELECT p.shop_id, sh.shop_domain, p.week, p.product_id, p.variant_id, p.product_title, p.variant_title, p.sku,
       sh.currency, p.units_sold, p.units_returned, p.net_sales, p.net_sales_gains, p.net_sales_losses,
       a.reporting_currency, p.net_sales_reporting, p.fx_estimated
FROM reporting.weekly_products p JOIN app_dashboard.shops sh ON sh.id = p.shop_id
CROSS JOIN app_dashboard.agency_settings a;

-- Each store-day's sales in the reporting currency (All stores' daily revenue and MER sum these per day).
CREATE VIEW reporting.daily_revenue_converted WITH (security_invoker = true) AS
SELECT c.shop_id, c.day, a.reporting_currency, {", ".join(f"c.{c}" for c in SALES_KEPT)}
FROM reporting.daily_sales_converted c CROSS JOIN app_dashboard.agency_settings a;
"""

FUNCTIONS = "reporting.convert_sales(), reporting.reconvert_days(bigint, date)"
GRANTS = f"""
GRANT SELECT ON reporting.daily_revenue_converted, reporting.product_weekly TO {WEB_ROLE}, {SCHEDULER_ROLE};
GRANT ALL ON reporting.daily_sales_converted TO {SCHEDULER_ROLE};
REVOKE EXECUTE ON FUNCTION {FUNCTIONS} FROM PUBLIC;
GRANT EXECUTE ON FUNCTION {FUNCTIONS} TO {SCHEDULER_ROLE};
"""


def upgrade() -> None:
    for table in ("reporting.daily_marketing", "reporting.daily_campaigns"):
        op.execute(f"ALTER TABLE {table} " + ", ".join(f"ADD COLUMN {c}" for c in META_COLUMNS.split(", ")))
    op.execute(SALES_TABLE)
    op.execute(tenant_table("reporting.daily_sales_converted"))
    op.execute(WEEKS_TABLE)
    op.execute(tenant_table("reporting.weekly_products"))
    op.execute(FLUSH_MONTHS)
    op.execute(RECONVERT_MONTHS)
    op.execute(SALES_TRIGGERS)
    op.execute(FLUSH_MARKETING)
    op.execute(RECONVERT)
    op.execute(HOOKS)
    # Set-based backfill: every store-day converted, then every Meta row's rates (the same UPDATE a rate change runs).
    op.execute(f"INSERT INTO reporting.daily_sales_converted (shop_id, day, {', '.join(SALES_KEPT)}) "
               f"{sales_converted('reporting.daily_sales')}")
    op.execute("SELECT reporting.reconvert_days(NULL, '-infinity')")
    op.execute(f"INSERT INTO reporting.weekly_products (shop_id, week, product_id, variant_id, {WEEK_COLUMNS}) "
               f"SELECT p.shop_id, {week_of('p.day')}, p.product_id, p.variant_id, {WEEK_SUMS} "
               f"FROM reporting.daily_products p JOIN app_dashboard.shops sh ON sh.id = p.shop_id "
               f"CROSS JOIN app_dashboard.agency_settings a {V0015.rate_join('sh.currency', 'p.day')} "
               f"GROUP BY 1, 2, 3, 4")
    for table in ("reporting.daily_marketing", "reporting.daily_campaigns"):
        op.execute(f"ALTER TABLE {table} " + ", ".join(f"ALTER COLUMN {c} SET NOT NULL" for c in META_KEPT
                                                       if "estimated" in c))
    op.execute(VIEWS)
    op.execute(GRANTS)


def downgrade() -> None:
    # 0015's views again (a view cannot lose columns in place; MER's view and function are built on them).
    op.execute("DROP FUNCTION reporting.mer_roas_between(bigint, date, date)")
    op.execute("DROP VIEW reporting.product_weekly")
    op.execute("DROP TABLE reporting.weekly_products")
    op.execute("DROP INDEX reporting.monthly_products_month_idx")
    op.execute(FLUSH_MONTHS_0015)
    op.execute(RECONVERT_MONTHS_0015.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"))
    op.execute("DROP VIEW reporting.daily_revenue_converted, reporting.mer_roas, reporting.marketing_daily, "
               "reporting.campaign_daily")
    op.execute(V0015.VIEWS)
    views = "reporting.mer_roas, reporting.marketing_daily, reporting.campaign_daily"
    op.execute(f"GRANT SELECT ON {views} TO {WEB_ROLE}, {SCHEDULER_ROLE}")
    op.execute("REVOKE EXECUTE ON FUNCTION reporting.mer_roas_between(bigint, date, date) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION reporting.mer_roas_between(bigint, date, date) TO {WEB_ROLE}, "
               f"{SCHEDULER_ROLE}")
    op.execute(REFRESH.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"))
    op.execute(SHOP_CURRENCY.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"))
    op.execute(re.search(r"CREATE FUNCTION reporting.flush_marketing\(.*?\$\$;", V0010.FUNCTIONS, re.S).group(0)
               .replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"))
    for operation in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER daily_sales_converted_{operation} ON reporting.daily_sales")
    op.execute(f"DROP FUNCTION {FUNCTIONS}")
    op.execute("DROP TABLE reporting.daily_sales_converted")
    for table in ("reporting.daily_marketing", "reporting.daily_campaigns"):
        op.execute(f"ALTER TABLE {table} " + ", ".join(f"DROP COLUMN {c}" for c in META_KEPT))
